"""Data preprocessor: uint8 clips to normalised float on the model's device."""
from __future__ import annotations

import torch
from mmengine.model import BaseDataPreprocessor

from pipeline.registry import MODELS

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@MODELS.register_module()
class ClipDataPreprocessor(BaseDataPreprocessor):
    """inputs (B, C, T, H, W) uint8 -> float; targets -> long.

    Channels 0-2 are RGB: ``(x/255 - mean) / std``. A 4th channel is the prior mask of mask
    propagation (0 = background, 255 = object): mapped to [-1, 1].
    """

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1, 1), persistent=False)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        # contiguous: frames arrive channels-last (a permuted HWC array), and conv3d on a
        # channels-last-strided input takes a several times slower path on the CPU
        x = data["inputs"].float() / 255.0
        rgb = (x[:, :3] - self.mean) / self.std
        inputs = (torch.cat([rgb, x[:, 3:] * 2 - 1], dim=1) if x.shape[1] > 3 else rgb).contiguous()
        targets = data.get("data_samples")
        return {"inputs": inputs, "data_samples": None if targets is None else targets.long()}
