"""Written masks' edges moved onto the frame's colour edges: the guided filter (He, Sun and
Tang, ECCV 2010) of each class's indicator map, with the frame as its guide.

The network sees each object in a crop resampled to ``model.crop_size`` pixels and its
decoder's logits are at half that, so an object filling a third of a 480p frame is outlined
on a grid 4-8 frame pixels wide. Within a window the guided filter fits each map as a linear
function of the guide's colour, ``q = a . I + b``, and averages the fits over the windows a
pixel is in: where the window holds a colour edge the map's step is drawn onto it, where the
colour is flat the map is smoothed. It is linear in the map, so the filtered indicator maps
of the classes (background and objects) still sum to one, and their argmax is the refined
class map.

The filter runs on a grid ``radius // RADIUS_AT_SUBSAMPLED`` times coarser (He and Sun's
fast guided filter, 2015): the coefficients ``a``, ``b`` are computed there and upsampled,
the guide is used at full resolution.
"""
from __future__ import annotations

import cv2
import numpy as np

from pipeline.data.crops import bounds

EPS = 3e-4  # regularisation of the colour fit (RGB in [0, 1]): smaller snaps to weaker edges
RADIUS_AT_SUBSAMPLED = 6  # the window's radius on the coarse grid, in its pixels


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the (2r+1)^2 window around each pixel (reflected at the border)."""
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, maps: np.ndarray, radius: int, eps: float = EPS) -> np.ndarray:
    """Each of ``maps`` (C, h, w) float32 filtered with the colour ``guide`` (h, w, 3) float32
    in [0, 1], windows of radius ``radius`` pixels (computed on a grid ``radius //
    RADIUS_AT_SUBSAMPLED`` times coarser). (C, h, w) float32."""
    h, w = maps.shape[1:]
    s = max(1, radius // RADIUS_AT_SUBSAMPLED)
    r = max(1, radius // s)
    coarse = (max(w // s, 1), max(h // s, 1))
    g = cv2.resize(guide, coarse, interpolation=cv2.INTER_AREA) if s > 1 else guide
    g = g.reshape(coarse[1], coarse[0], 3)
    mean = [_box(np.ascontiguousarray(g[..., c]), r) for c in range(3)]
    var = {(i, j): _box(g[..., i] * g[..., j], r) - mean[i] * mean[j] + (eps if i == j else 0.0)
           for i in range(3) for j in range(i, 3)}
    # the inverse of each pixel's 3x3 colour covariance, by cofactors (symmetric)
    v11, v12, v13, v22, v23, v33 = (var[k] for k in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)))
    c11, c12, c13 = v22 * v33 - v23 * v23, v13 * v23 - v12 * v33, v12 * v23 - v13 * v22
    c22, c23, c33 = v11 * v33 - v13 * v13, v12 * v13 - v11 * v23, v11 * v22 - v12 * v12
    det = v11 * c11 + v12 * c12 + v13 * c13
    inverse = ((c11, c12, c13), (c12, c22, c23), (c13, c23, c33))
    out = np.empty_like(maps)
    for n, p in enumerate(maps):
        p = cv2.resize(p, coarse, interpolation=cv2.INTER_AREA) if s > 1 else p
        p = p.reshape(coarse[1], coarse[0])
        mean_p = _box(p, r)
        cov = [_box(g[..., c] * p, r) - mean[c] * mean_p for c in range(3)]
        a = [(row[0] * cov[0] + row[1] * cov[1] + row[2] * cov[2]) / det for row in inverse]
        b = mean_p - a[0] * mean[0] - a[1] * mean[1] - a[2] * mean[2]
        coef = [_box(x, r) for x in (*a, b)]
        if s > 1:
            coef = [cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR) for x in coef]
        out[n] = coef[0] * guide[..., 0] + coef[1] * guide[..., 1] + coef[2] * guide[..., 2] + coef[3]
    return out


def class_argmax(background: np.ndarray, objects) -> np.ndarray:
    """(h, w) uint8: 0 where ``background`` (h, w) is the largest, k where ``objects[k-1]``
    is (ties to the lower class, as ``argmax``), without stacking the maps (a loop of
    comparisons is faster than ``argmax`` over the class axis). ``background`` is not
    changed."""
    out, best = np.zeros(background.shape, np.uint8), background.copy()
    for k, p in enumerate(objects, start=1):
        out[p > best] = k
        np.maximum(best, p, out=best)
    return out


def snapped_probabilities(frame: np.ndarray, ids: np.ndarray, num_classes: int,
                          radius: float) -> np.ndarray:
    """Class probabilities (num_classes, h, w) float32 of the class map ``ids`` (h, w) with
    its edges moved onto ``frame``'s (h, w, 3) uint8 (:func:`snap_edges`); where the filter
    does not reach, each class's indicator map."""
    probs = (ids[None] == np.arange(num_classes, dtype=ids.dtype)[:, None, None]).astype(np.float32)
    window = _filtered_window(frame, ids, num_classes, radius)
    if window is not None:
        box, filtered = window
        probs[(slice(None), *box)] = filtered
    return probs


def snap_edges(frame: np.ndarray, ids: np.ndarray, num_classes: int, radius: float) -> np.ndarray:
    """The class map ``ids`` (h, w) uint8 (0 background, 1..num_classes-1 the objects) with
    its edges moved onto ``frame``'s (h, w, 3) uint8: the argmax of the classes' indicator
    maps guided-filtered with windows of ``radius`` times the frame's diagonal, around the
    objects (their pixels, and as far about them as the filter reaches); elsewhere ``ids``."""
    window = _filtered_window(frame, ids, num_classes, radius)
    if window is None:
        return ids
    box, filtered = window
    out = ids.copy()
    out[box] = class_argmax(filtered[0], filtered[1:])
    return out


def _filtered_window(frame, ids, num_classes, radius):
    """The window around the objects (a pair of slices) and the guided-filtered indicator maps
    of every class there (num_classes, h', w'); None without objects or below one pixel."""
    h, w = ids.shape
    r = int(round(radius * np.hypot(h, w)))
    rect = bounds(ids) if r >= 1 else None  # the objects' pixels: the classes above 0
    if rect is None:
        return None
    pad = 3 * r  # the filter's reach (two windows) and a cell of its coarse grid
    (rows, cols) = rect
    box = (slice(max(rows.start - pad, 0), min(rows.stop + pad, h)),
           slice(max(cols.start - pad, 0), min(cols.stop + pad, w)))
    sub = ids[box]
    indicators = (sub[None] == np.arange(1, num_classes, dtype=ids.dtype)[:, None, None])
    objects_filtered = guided_filter(frame[box].astype(np.float32) / 255,
                                     indicators.astype(np.float32), r)
    # the filter is linear: the background's map is one minus the objects'
    return box, np.concatenate([1 - objects_filtered.sum(0, keepdims=True), objects_filtered])
