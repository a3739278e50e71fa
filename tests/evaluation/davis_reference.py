"""A slow, literal re-statement of the DAVIS toolkit's J and F, written from its definition
and independent of ``pipeline.evaluation``: loops over pixels for the boundary map, a
Euclidean distance transform (not a dilation) for the boundary matching."""
from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import distance_transform_edt


def boundary(mask: np.ndarray) -> np.ndarray:
    """Pixel p is boundary iff it differs from one of its E, S, SE neighbours inside the
    image. Only the mask's bounding box grown by one row/column up and left can hold such
    pixels (a 0 pixel needs a 1 neighbour to its E, S or SE), so only that box is visited."""
    m = mask.astype(bool)
    h, w = m.shape
    out = np.zeros((h, w), bool)
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return out
    rows = m.tolist()
    for y in range(max(ys.min() - 1, 0), ys.max() + 1):
        for x in range(max(xs.min() - 1, 0), xs.max() + 1):
            v = rows[y][x]
            for dy, dx in ((0, 1), (1, 0), (1, 1)):
                ny, nx = y + dy, x + dx
                if ny < h and nx < w and rows[ny][nx] != v:
                    out[y, x] = True
                    break
    return out


def f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    h, w = pred.shape
    r = bound_th if bound_th >= 1 else math.ceil(bound_th * math.sqrt(h * h + w * w))
    bp, bg = boundary(pred), boundary(gt)
    n_p, n_g = int(bp.sum()), int(bg.sum())
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0  # (P, R) = (1, 0) or (0, 1)
    to_gt = distance_transform_edt(~bg)  # distance of each pixel to the nearest GT boundary
    to_pred = distance_transform_edt(~bp)
    precision = float((to_gt[bp] <= r).sum()) / n_p
    recall = float((to_pred[bg] <= r).sum()) / n_g
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    inter = int(np.logical_and(pred, gt).sum())
    union = int(np.logical_or(pred, gt).sum())
    return 1.0 if union == 0 else inter / union
