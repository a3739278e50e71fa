"""Datasets serving clips of T frames from the decoded cache (registered in DATASETS)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from mmcv.transforms import Compose
from torch.utils.data import Dataset

from pipeline.data.cache import load_arrays, sequence_table
from pipeline.data.clips import ClipSpec
from pipeline.data.crops import jitter_box
from pipeline.data.davis import VOID
from pipeline.data.priors import clip_priors, deform_prior, with_prior
from pipeline.data.photos import load_photos, pass_occluder, photo_clip
from pipeline.errors import InputError
from pipeline.labels import object_ids
from pipeline.registry import DATASETS, TRANSFORMS, build


def objectness(masks: np.ndarray) -> np.ndarray:
    """Ids -> {0: background, 1: any object, 255: void}."""
    out = (masks > 0).astype(np.uint8)
    out[masks == VOID] = VOID
    return out


@DATASETS.register_module()
class ClipDataset(Dataset):
    """Every clip of ``clip_len`` frames, ``tau`` frames apart, from the sequences of a split.

    Item: ``inputs`` (3, T, H, W) uint8 and ``data_samples`` (T, H, W) uint8 objectness
    targets (all objects are foreground, void stays 255). Sequences shorter than a clip are
    padded by repeating their last frame.
    """

    def __init__(self, cache_dir: str, split: str = "train", clip_len: int = 8, tau: int = 1,
                 pipeline=(), repeat: int = 1):
        self.cache_dir = Path(cache_dir)
        self.pipeline = Compose([build(TRANSFORMS, dict(t)) for t in pipeline])
        self.sequences = [s["name"] for s in sequence_table(self.cache_dir, split)]
        if not self.sequences:
            raise ValueError(f"{self.cache_dir}: no {split!r} sequences in the cache index")
        self.arrays = {n: load_arrays(self.cache_dir, n) for n in self.sequences}
        self.spec = ClipSpec(clip_len, tau)
        self.clips = [(n, s) for n in self.sequences
                      for s in range(max(1, len(self.arrays[n][0]) - self.spec.span + 1))] * repeat

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        frames, masks = self._clip(index)
        results = self.pipeline({"frames": frames, "masks": objectness(masks)})
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(results["frames"])).permute(3, 0, 1, 2),
            "data_samples": torch.from_numpy(np.ascontiguousarray(results["masks"])),
        }

    def _clip(self, index: int, skip: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Frames and masks of clip ``index`` (:meth:`ClipSpec.indices`); ``skip``: its
        frames ``skip`` times farther apart, the same last frame."""
        name, start = self.clips[index]
        frames, masks = self.arrays[name]
        spec = replace(self.spec, tau=self.spec.tau * skip)
        idx = spec.indices(start + self.spec.span - 1, len(frames))
        return frames[idx], masks[idx]


@DATASETS.register_module()
class PropagationClipDataset(ClipDataset):
    """Object-centred clips with prior masks, for training mask propagation.

    For a clip of ``clip_len`` frames one object of its last frame is drawn; every frame is
    cropped to the same square box around that object (:class:`ClipSpec`, ``context`` times
    its larger side, jittered), resampled to ``crop_size``. Each frame gets a prior: its own
    ground-truth object mask with propagation errors, the same across the clip plus a little
    per frame (:func:`clip_priors`); with
    probability ``stale_prob`` the last frame's prior is the *previous* frame's mask, as when
    the flow misses the motion. Targets: 1 = that object, 0 = background (other objects
    too), 255 = void or outside the frame.

    ``max_skip``: a video clip's frames are ``tau`` times ``s`` apart, ``s`` drawn from 1 to
    ``max_skip`` per clip (STM's frame skipping: the larger motion of fast objects, seen in
    the train split's slower ones); 1 leaves every clip as it was. ``prior_strength``: each
    clip's prior errors have a strength drawn from [0, it] (:func:`~pipeline.data.priors.draw_errors`);
    ``cut_prob``: the share of clips whose priors lack a part of the object's edge.

    With probability ``photo_prob`` a clip is instead a still photo of the cache's
    images moved over ``clip_len`` frames (:func:`~pipeline.data.photos.photo_clip`), its
    object the target. With probability ``occluder_prob`` a photo's object is also cut out
    and moved across the clip's crops in front of everything
    (:func:`~pipeline.data.photos.pass_occluder`): an occluder where it passes over the
    target, a distractor beside it, labelled background either way; half of such clips take their priors from the target as it was
    before the occluder came (a propagated mask that still holds the part now hidden),
    half from what is left visible.

    Item: ``inputs`` (4, T, S, S) uint8 (RGB + prior x 255), ``data_samples`` (T, S, S).
    """

    def __init__(self, cache_dir: str, split: str = "train", clip_len: int = 8, tau: int = 1,
                 pipeline=(), repeat: int = 1, crop_size: int = 128, context: float = 2.0,
                 min_side: float = 32.0, stale_prob: float = 0.25, photo_prob: float = 0.0,
                 max_skip: int = 1, prior_strength: float = 1.2, cut_prob: float = 0.0,
                 occluder_prob: float = 0.0):
        super().__init__(cache_dir, split, clip_len, tau, pipeline, repeat)
        self.spec = ClipSpec(clip_len, tau, crop_size, context, min_side)
        if max_skip < 1:
            raise ValueError(f"max_skip={max_skip}: at least 1 (1: frames tau apart)")
        if not prior_strength >= 0:
            raise ValueError(f"prior_strength={prior_strength}: at least 0 (0: priors without "
                             "shifts, scaling or dilation)")
        self.stale_prob, self.photo_prob, self.max_skip = stale_prob, photo_prob, max_skip
        self.prior_strength, self.cut_prob = prior_strength, cut_prob
        self.occluder_prob = occluder_prob
        self.photos = load_photos(self.cache_dir) if photo_prob > 0 or occluder_prob > 0 else None
        for key, prob in (("photo_prob", photo_prob), ("occluder_prob", occluder_prob)):
            if prob > 0 and not self.photos:
                raise InputError(f"{self.cache_dir}: pretrain.{key}={prob} but the cache holds "
                                 "no photos; set download.photos to a folder of photos and "
                                 f"masks, or pretrain.{key} to 0")

    def _video_clip(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Frames and targets (1 = one object of the last frame, 0, 255 void) of clip ``index``."""
        skip = int(rng.integers(1, self.max_skip + 1)) if self.max_skip > 1 else 1
        frames, masks = self._clip(index, skip)
        ids = object_ids(masks[-1])
        obj = int(rng.choice(ids)) if ids else 1
        target = np.where(masks == obj, 1, 0).astype(np.uint8)
        target[masks == VOID] = VOID
        return frames, target

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng(np.random.randint(2**31))  # follows mmengine's seeding
        if self.photo_prob > 0 and rng.random() < self.photo_prob:
            frames, target = photo_clip(self.photos, int(rng.integers(len(self.photos))),
                                         self.spec.clip_len, rng)
        else:
            frames, target = self._video_clip(index, rng)
        h, w = target.shape[1:]
        box = (self.spec.box(target[-1] == 1, rng)  # no object in the last frame: all of it
               or jitter_box((h / 2, w / 2, float(max(h, w))), rng))
        crops, labels = self.spec.crop(frames, target, box, fill=VOID)
        fg = (labels == 1).astype(np.uint8)
        if self.occluder_prob > 0 and rng.random() < self.occluder_prob:  # no draw at 0
            photo = self.photos[int(rng.integers(len(self.photos)))]
            crops, labels = pass_occluder(crops, labels, photo, rng)
            if rng.random() < 0.5:  # else the priors keep the hidden part
                fg = (labels == 1).astype(np.uint8)
        priors = clip_priors(fg, rng, rng.uniform(0.0, self.prior_strength), cut_prob=self.cut_prob)
        if rng.random() < self.stale_prob and len(fg) > 1:
            priors[-1] = deform_prior(fg[-2], rng, 0.5)
        results = self.pipeline({"frames": crops, "masks": labels, "priors": priors})
        inputs = with_prior(results["frames"], results["priors"])
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(inputs)).permute(3, 0, 1, 2),
            "data_samples": torch.from_numpy(np.ascontiguousarray(results["masks"])),
        }
