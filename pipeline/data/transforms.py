"""Clip augmentations as mmcv transforms (flip, affine = scale + rotate + shift, crop, colour
jitter), one random draw per clip, applied identically to every frame and its mask.

Each transform reads and writes ``results['frames']`` (T, H, W, 3) uint8 and
``results['masks']`` (T, H, W) uint8 (255 = void), the flip also ``results['priors']``, and
draws its randomness from ``numpy.random`` (seeded by mmengine's ``randomness`` setting, per
dataloader worker). :class:`ClipAugment` is the training augmentation that params.yaml sets.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform

from pipeline.data.davis import VOID
from pipeline.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ClipRandomFlip(BaseTransform):
    """Horizontal flip of the whole clip with probability ``prob``."""

    def __init__(self, prob: float = 0.5):
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            results["frames"] = np.ascontiguousarray(results["frames"][:, :, ::-1])
            results["masks"] = np.ascontiguousarray(results["masks"][:, :, ::-1])
            if "priors" in results:
                results["priors"] = np.ascontiguousarray(results["priors"][:, :, ::-1])
        return results


@TRANSFORMS.register_module()
class ClipRandomAffine(BaseTransform):
    """Random scale (``scales`` range), rotation (+-``max_degrees``) and translation
    (+-``max_shift`` of the size), one draw per clip, output at the input size.

    Frames are resampled bilinearly, masks by nearest neighbour; pixels that come from
    outside the image are background (0) in the mask and black in the frame.
    """

    def __init__(self, scales=(0.75, 1.25), max_degrees: float = 10.0, max_shift: float = 0.1):
        self.scales, self.max_degrees, self.max_shift = tuple(scales), max_degrees, max_shift

    def transform(self, results: dict) -> dict:
        s = np.random.uniform(*self.scales)
        a = np.deg2rad(np.random.uniform(-self.max_degrees, self.max_degrees))
        tx, ty = np.random.uniform(-self.max_shift, self.max_shift, 2) * 2
        theta = torch.tensor(
            [[np.cos(a) / s, -np.sin(a) / s, tx], [np.sin(a) / s, np.cos(a) / s, ty]],
            dtype=torch.float32,
        )
        frames = torch.from_numpy(results["frames"]).permute(0, 3, 1, 2).float()
        masks = torch.from_numpy(results["masks"]).unsqueeze(1).float()
        grid = F.affine_grid(theta.expand(len(frames), 2, 3), list(frames.shape), align_corners=False)
        frames = F.grid_sample(frames, grid, mode="bilinear", align_corners=False)
        masks = F.grid_sample(masks, grid, mode="nearest", align_corners=False)
        results["frames"] = frames.permute(0, 2, 3, 1).round().clamp(0, 255).byte().numpy()
        results["masks"] = masks[:, 0].byte().numpy()
        return results


@TRANSFORMS.register_module()
class ClipColorJitter(BaseTransform):
    """Brightness, contrast and saturation jitter, one draw per clip."""

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2):
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation

    def transform(self, results: dict) -> dict:
        x = results["frames"].astype(np.float32)  # the one copy: the rest is in place
        x *= np.float32(np.random.uniform(1 - self.brightness, 1 + self.brightness))
        mean = x.mean(dtype=np.float32)
        contrast = np.float32(np.random.uniform(1 - self.contrast, 1 + self.contrast))
        x -= mean
        x *= contrast
        x += mean
        gray = x[..., 0] + x[..., 1]  # the mean over the 3 channels, as x.mean(-1) sums it,
        gray += x[..., 2]  # 15x faster than numpy's reduction over an axis of 3
        gray /= np.float32(3)
        gray = gray[..., None]
        x -= gray
        x *= np.float32(np.random.uniform(1 - self.saturation, 1 + self.saturation))
        x += gray
        results["frames"] = np.clip(x, 0, 255, out=x).astype(np.uint8)
        return results


@TRANSFORMS.register_module()
class ClipRandomCrop(BaseTransform):
    """A random ``size`` (h, w) window at one position for the whole clip.

    A clip smaller than ``size`` on a side is padded there first (frames black, masks
    ``pad_mask``: void by default, so the padding is ignored by the loss).
    """

    def __init__(self, size=(64, 64), pad_mask: int = VOID):
        self.size, self.pad_mask = tuple(size), pad_mask

    def transform(self, results: dict) -> dict:
        frames, masks = results["frames"], results["masks"]
        (h, w), (ch, cw) = frames.shape[1:3], self.size
        ph, pw = max(ch - h, 0), max(cw - w, 0)
        if ph or pw:
            frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)))
            masks = np.pad(masks, ((0, 0), (0, ph), (0, pw)), constant_values=self.pad_mask)
        y = np.random.randint(0, frames.shape[1] - ch + 1)
        x = np.random.randint(0, frames.shape[2] - cw + 1)
        results["frames"] = np.ascontiguousarray(frames[:, y:y + ch, x:x + cw])
        results["masks"] = np.ascontiguousarray(masks[:, y:y + ch, x:x + cw])
        return results


@dataclass(frozen=True)
class ClipAugment:
    """The training augmentation (``pretrain.augment``, ``finetune.augment``): a horizontal
    flip with probability ``flip`` and a colour jitter of strength ``colour`` (brightness,
    contrast and saturation each scaled by a factor drawn in [1 - colour, 1 + colour]); a
    strength of 0 leaves its transform out. No affine: object-centred crops get their scale
    and shift from the box jitter of :class:`~pipeline.data.dataset.PropagationClipDataset`.

    Iterating gives the transforms as type dicts, what ``Compose`` and the datasets take.
    """

    flip: float = 0.5
    colour: float = 0.2

    def __iter__(self) -> Iterator[dict]:
        if self.flip:
            yield {"type": "ClipRandomFlip", "prob": self.flip}
        if self.colour:
            yield {"type": "ClipColorJitter", "brightness": self.colour, "contrast": self.colour,
                   "saturation": self.colour}
