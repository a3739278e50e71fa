"""Region similarity J and boundary accuracy F, exactly as the official DAVIS toolkit
(davisvideochallenge/davis2017-evaluation, ``davis2017/metrics.py``) computes them.

Masks are boolean arrays (..., H, W). Semi-supervised DAVIS passes no void mask; void
pixels of the ground truth are background there.
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
    inters = np.sum(annotation & segmentation, axis=(-2, -1))
    union = np.sum(annotation | segmentation, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        j = inters / union
    return np.where(np.isclose(union, 0), 1.0, j)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Boundary map: a pixel is boundary where it differs from its E, S or SE neighbour.

    The last row compares only east, the last column only south, the corner is never
    boundary (as the toolkit's ``_seg2bmap`` at the image's own size).
    """
    seg = seg.astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def disk(radius: int) -> np.ndarray:
    """Disk structuring element: (x, y) with x^2 + y^2 <= r^2 (skimage.morphology.disk)."""
    r = int(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (xx**2 + yy**2 <= r**2).astype(np.uint8)


def bound_pixels(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Tolerance in pixels: ``bound_th`` if >= 1, else ceil(bound_th * image diagonal)."""
    return int(bound_th if bound_th >= 1 else math.ceil(bound_th * np.linalg.norm(shape)))


def f_measure(segmentation: np.ndarray, annotation: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """F of one frame: boundaries matched within a disk of ``bound_pixels`` radius."""
    fg = seg2bmap(segmentation)
    gt = seg2bmap(annotation)
    kernel = disk(bound_pixels(segmentation.shape[-2:], bound_th))
    fg_dil = cv2.dilate(fg.astype(np.uint8), kernel)
    gt_dil = cv2.dilate(gt.astype(np.uint8), kernel)
    n_fg, n_gt = int(fg.sum()), int(gt.sum())
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = float(np.sum(fg & (gt_dil > 0))) / n_fg
        recall = float(np.sum(gt & (fg_dil > 0))) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def db_eval_boundary(annotation: np.ndarray, segmentation: np.ndarray,
                     bound_th: float = BOUND_TH) -> np.ndarray:
    """F per frame of (T, H, W) masks."""
    return np.array([f_measure(s, a, bound_th) for a, s in zip(annotation, segmentation)])


def db_statistics(per_frame: np.ndarray) -> tuple[float, float, float]:
    """Mean (nanmean), Recall (fraction > 0.5) and Decay over 4 temporal bins.

    ``ids = round(linspace(1, N, 5) + 1e-10) - 1``; bin i = values[ids[i] : ids[i+1] + 1]
    (neighbouring bins share an endpoint); decay = mean(bin 0) - mean(bin 3).
    """
    values = np.asarray(per_frame, dtype=np.float64)
    mean = float(np.nanmean(values))
    recall = float(np.nanmean(values > 0.5))
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(int)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(4)]
    decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay
