"""Prior masks with the errors of propagation, for training the segmenter to correct them.

At inference the segmenter's 4th input channel holds the masks it predicted for the clip's
past frames and, for the current frame, the previous prediction warped by optical flow
(:mod:`pipeline.engine.flow`): nearly right, but shifted where the flow is wrong, too fat or
thin, blurred at the boundary, with parts missing or extra, and *consistently so across the
clip*, since each prediction started from the one before. Training draws priors from the
ground truth with those errors (MaskTrack's recipe, Perazzi et al. CVPR 2017, made
clip-consistent): one error draw per clip (:func:`draw_errors`) applied to every frame's true
mask, plus a small per-frame one. With independent per-frame errors only, a network learns
to average its priors and then copies a consistently dilated prior exactly (measured on
car-shadow: a prior 16 % too large gave an output 16 % too large); the error it must undo has
to be the same across the clip, as at inference.
"""
from __future__ import annotations

import cv2
import numpy as np


def draw_errors(rng: np.random.Generator, strength: float = 1.0, cut_prob: float = 0.0) -> dict:
    """One draw of propagation errors; magnitudes relative to the object's size sqrt(area).

    An affine jitter (shift up to 8 %, scale 0.92-1.08, rotation up to 6 degrees, about the
    centroid), dilation up to 15 % or erosion up to 12 %, a coarse (blocky) boundary with
    probability 0.3, a hole and a spurious blob with probability 0.2 each. ``strength``
    scales every magnitude (0: no error but holes, blobs and cuts).

    With probability ``cut_prob`` the object also loses a part at its edge: what lies beyond
    a straight line of a random direction, 10-35 % of its area (``cut``: the direction in
    radians and the share), as when propagation has lost a limb or a side of the object and
    every later prior lacks it. The line is placed on each frame's own mask, so the same side
    is missing across a clip. No draw is made when ``cut_prob`` is 0, so that runs without
    it draw what they drew before it.
    """
    cut = None
    if cut_prob and rng.random() < cut_prob:
        cut = (float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.1, 0.35)))
    return {
        "angle": rng.uniform(-6, 6) * strength,
        "scale": 1 + rng.uniform(-0.08, 0.08) * strength,
        "shift": rng.uniform(-0.08, 0.08, 2) * strength,
        "dilate": rng.uniform(-0.12, 0.15) * strength,
        "coarse": rng.uniform(3, 8) * strength + 1 if rng.random() < 0.3 else 0.0,
        "hole": rng.random() < 0.2,
        "blob": rng.random() < 0.2,
        "cut": cut,
    }


def apply_errors(mask: np.ndarray, errors: dict, rng: np.random.Generator) -> np.ndarray:
    """``mask`` (H, W) with ``errors`` (from :func:`draw_errors`) applied; binary uint8.

    The hole's and the blob's places are drawn here (per frame). An empty mask stays empty.
    """
    m = (mask > 0).astype(np.uint8)
    area = int(m.sum())
    if area == 0:
        return m
    h, w = m.shape
    size = np.sqrt(area)
    moments = cv2.moments(m, binaryImage=True)  # the centroid: sums of whole numbers, exact
    cy, cx = moments["m01"] / moments["m00"], moments["m10"] / moments["m00"]
    a = cv2.getRotationMatrix2D((float(cx), float(cy)), float(errors["angle"]), float(errors["scale"]))
    a[:, 2] += np.asarray(errors["shift"]) * size
    m = cv2.warpAffine(m, a, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    if errors["cut"]:
        _cut(m, *errors["cut"])
    r = int(round(errors["dilate"] * size))
    if r:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(r) + 1, 2 * abs(r) + 1))
        m = cv2.dilate(m, kernel) if r > 0 else cv2.erode(m, kernel)
    if errors["coarse"]:
        f = errors["coarse"]
        small = cv2.resize(m.astype(np.float32), (max(1, int(w / f)), max(1, int(h / f))),
                           interpolation=cv2.INTER_AREA)
        m = (cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.uint8)
    for value, on in ((0, errors["hole"]), (1, errors["blob"])):
        if on:
            axes = (max(1, int(rng.uniform(0.1, 0.3) * size)), max(1, int(rng.uniform(0.1, 0.3) * size)))
            centre = (int(cx + rng.normal(0, 0.5) * size), int(cy + rng.normal(0, 0.5) * size))
            cv2.ellipse(m, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(value), -1)
    return m


def _cut(m: np.ndarray, angle: float, share: float) -> None:
    """Zero, in place, the ``share`` of ``m``'s pixels farthest along direction ``angle``."""
    ys, xs = np.nonzero(m)
    if len(ys) < 2:
        return
    along = xs * np.cos(angle) + ys * np.sin(angle)
    beyond = along > np.quantile(along, 1 - share)
    m[ys[beyond], xs[beyond]] = 0


def deform_prior(mask: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A binary (H, W) uint8 mask with one fresh draw of errors (see :func:`draw_errors`)."""
    return apply_errors(mask, draw_errors(rng, strength), rng)


def with_prior(frames: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """The segmenter's input encoding: (T, H, W, 3) RGB and (T, H, W) binary priors ->
    (T, H, W, 4) uint8, the prior as 0 / 255 (interleaved by ``cv2.merge``: 7x faster than
    ``np.concatenate`` on the last axis)."""
    frames, prior = np.asarray(frames, np.uint8), np.asarray(priors).astype(np.uint8) * np.uint8(255)
    t, h, w = prior.shape
    merged = cv2.merge([np.ascontiguousarray(frames).reshape(t * h, w, 3), prior.reshape(t * h, w)])
    return merged.reshape(t, h, w, 4)


def clip_priors(masks: np.ndarray, rng: np.random.Generator, strength: float = 1.0,
                jitter: float = 0.2, cut_prob: float = 0.0) -> np.ndarray:
    """Priors for a clip of (T, H, W) masks: one shared error draw for the clip (a part cut
    off with probability ``cut_prob``), then a small independent one (``jitter`` strength,
    no holes, blobs or cuts) per frame."""
    common = draw_errors(rng, strength, cut_prob)
    out = []
    for m in masks:
        small = draw_errors(rng, jitter) | {"hole": False, "blob": False, "coarse": 0.0}
        out.append(apply_errors(apply_errors(m, common, rng), small, rng))
    return np.stack(out)
