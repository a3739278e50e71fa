"""Region similarity J and boundary accuracy F, exactly as the official DAVIS toolkit
(davisvideochallenge/davis2017-evaluation, ``davis2017/metrics.py`` and ``utils.py``)
computes them, vectorised over frames.

Masks are boolean arrays (T, H, W) or (H, W). Semi-supervised DAVIS passes no void mask:
the toolkit sets void (255) ground-truth pixels to background before scoring, so do we.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

BOUND_TH = 0.008


def db_eval_iou(annotation: np.ndarray, segmentation: np.ndarray) -> np.ndarray:
    """J per frame: |A & S| / |A | S|; a frame where both are empty scores 1."""
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    inters = np.count_nonzero(annotation & segmentation, axis=(-2, -1))
    union = np.count_nonzero(annotation | segmentation, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        j = inters / union
    return np.where(union == 0, 1.0, j)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Boundary map of (..., H, W) masks: a pixel is boundary where it differs from its
    east, south or south-east neighbour.

    The last row compares only east, the last column only south, the bottom-right corner is
    never boundary: the toolkit's ``_seg2bmap`` when the map has the mask's own size.
    """
    seg = seg.astype(bool)
    b = np.zeros_like(seg)
    b[..., :, :-1] = seg[..., :, :-1] ^ seg[..., :, 1:]
    b[..., :-1, :] |= seg[..., :-1, :] ^ seg[..., 1:, :]
    b[..., :-1, :-1] |= seg[..., :-1, :-1] ^ seg[..., 1:, 1:]
    return b


def disk(radius: int) -> np.ndarray:
    """Disk structuring element: (x, y) with x^2 + y^2 <= r^2 (``skimage.morphology.disk``)."""
    r = int(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (xx**2 + yy**2 <= r**2).astype(np.uint8)


def bound_pixels(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Tolerance in pixels: ``bound_th`` if >= 1, else ceil(bound_th * image diagonal)
    (8 at 854x480)."""
    return int(bound_th if bound_th >= 1 else math.ceil(bound_th * np.linalg.norm(shape)))


def _f_from_boundaries(fg: np.ndarray, gt: np.ndarray, kernel: np.ndarray) -> float:
    """F of one frame from its two (H, W) boundary maps.

    Both maps are cropped to the bounding box of their union before the dilation: the
    dilation is only read at boundary pixels and only boundary pixels feed it, all inside
    that box, and ``cv2.dilate`` ignores pixels beyond the border, so the result is the
    toolkit's full-frame one, computed on a few percent of the pixels.
    """
    n_fg, n_gt = int(np.count_nonzero(fg)), int(np.count_nonzero(gt))
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        rows = np.flatnonzero((fg | gt).any(axis=1))
        cols = np.flatnonzero((fg | gt).any(axis=0))
        box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        fg, gt = fg[box], gt[box]
        fg_dil = cv2.dilate(fg.astype(np.uint8), kernel).astype(bool)
        gt_dil = cv2.dilate(gt.astype(np.uint8), kernel).astype(bool)
        precision = np.count_nonzero(fg & gt_dil) / float(n_fg)
        recall = np.count_nonzero(gt & fg_dil) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def f_measure(segmentation: np.ndarray, annotation: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """F of one (H, W) frame: boundaries matched within a disk of ``bound_pixels`` radius;
    P = matched prediction boundary / prediction boundary, R likewise, F = 2PR / (P + R)."""
    kernel = disk(bound_pixels(segmentation.shape[-2:], bound_th))
    return _f_from_boundaries(seg2bmap(segmentation), seg2bmap(annotation), kernel)


def db_eval_boundary(annotation: np.ndarray, segmentation: np.ndarray,
                     bound_th: float = BOUND_TH) -> np.ndarray:
    """F per frame of (T, H, W) masks."""
    kernel = disk(bound_pixels(annotation.shape[-2:], bound_th))
    return np.array([_f_from_boundaries(seg2bmap(s), seg2bmap(a), kernel)
                     for a, s in zip(annotation, segmentation)], dtype=np.float64)


def db_statistics(per_frame: np.ndarray) -> tuple[float, float, float]:
    """Mean (nanmean), Recall (fraction > 0.5) and Decay over 4 temporal bins.

    ``ids = round(linspace(1, N, 5) + 1e-10) - 1``; bin i = values[ids[i] : ids[i+1] + 1]
    (neighbouring bins share an endpoint); decay = mean(bin 0) - mean(bin 3).
    The toolkit casts ``ids`` to uint8, which wraps around for N > 256 values (ids above
    255); we keep exact integers, identical for every DAVIS sequence (at most 104 frames).
    """
    values = np.asarray(per_frame, dtype=np.float64)
    mean = float(np.nanmean(values))
    recall = float(np.nanmean(values > 0.5))
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(int)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(4)]
    decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay


def j_and_f(j_mean: float, f_mean: float) -> float:
    """The DAVIS headline measure J&F: the mean of region J and boundary F, ``(J + F) / 2``."""
    return (j_mean + f_mean) / 2
