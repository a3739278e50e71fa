"""The network's input clips, built one way for pretraining, fine-tuning and propagation.

A clip is ``clip_len`` frames ``tau`` apart that ends at the frame to segment, cropped to one
square box around one object (``context`` times the object's larger side, at least
``min_side`` pixels) and resampled to ``crop_size``, with a 4th channel, the prior mask
(:func:`~pipeline.data.priors.with_prior`). The three uses differ only in where the box and
the priors come from: training jitters the box and draws priors from the true masks with
propagation errors (:mod:`pipeline.data.priors`); propagation boxes the flow-warped previous
mask and gives the masks it predicted. So a clip seen in training is laid out exactly as one
seen in prediction: the same frames (``tau`` included), the same crop, the same encoding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.data.crops import Box, crop, jitter_box, object_box
from pipeline.data.priors import with_prior


@dataclass(frozen=True)
class ClipSpec:
    """How a clip is cut from a video: ``clip_len`` frames ``tau`` apart, crops of side
    ``crop_size`` around ``context`` times the object's size (at least ``min_side``)."""

    clip_len: int = 8
    tau: int = 1
    crop_size: int = 128
    context: float = 2.0
    min_side: float = 32.0

    @property
    def span(self) -> int:
        """The frames a clip covers, first to last."""
        return (self.clip_len - 1) * self.tau + 1

    def indices(self, end: int, length: int, mirror: bool = False) -> np.ndarray:
        """Frame indices of the clip that ends at frame ``end`` of a video of ``length``
        frames: ``end - (clip_len - 1 - i) * tau``, clamped into the video (at its start, the
        first frame repeats); ``mirror``: reflected at frame 0 instead, so that a clip ending
        at frame 0 is made of its real neighbours in reverse time (fine-tuning's clips)."""
        idx = end - (self.clip_len - 1 - np.arange(self.clip_len)) * self.tau
        return np.clip(np.abs(idx) if mirror else idx, 0, length - 1)

    def box(self, mask: np.ndarray, rng: np.random.Generator | None = None) -> Box | None:
        """The crop box around the pixels of ``mask`` (``None`` when it is empty), jittered
        by ``rng`` (training) when given."""
        box = object_box(mask, self.context, self.min_side)
        return jitter_box(box, rng) if box is not None and rng is not None else box

    def crop(self, frames: np.ndarray, masks: np.ndarray, box: Box,
             fill: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(T, S, S, 3) frames and (T, S, S) masks cropped to ``box`` (masks by nearest
        neighbour, ``fill`` outside the frame)."""
        return (crop(frames, box, self.crop_size),
                crop(masks, box, self.crop_size, nearest=True, fill=fill))

    def inputs(self, frames: np.ndarray, priors: np.ndarray, box: Box,
               cls: int | None = None) -> np.ndarray:
        """The network's input (T, S, S, 4) uint8: ``frames`` (T, H, W, 3) and binary
        ``priors`` (T, H, W) at the frame's size, cropped to ``box``. With ``cls``,
        ``priors`` are class maps and the prior is where they hold ``cls``: the same input as
        ``priors == cls``, compared on the crops instead of the whole frames. Sequences of
        frames / maps work as arrays do."""
        crops, prior_crops = self.crop(frames, priors, box)
        return with_prior(crops, prior_crops if cls is None else prior_crops == cls)
