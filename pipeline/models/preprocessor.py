"""Data preprocessor: uint8 clips to normalised float on the model's device."""
from __future__ import annotations

import cv2
import torch
from mmengine.model import BaseDataPreprocessor

from pipeline.registry import MODELS

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@MODELS.register_module()
class ClipDataPreprocessor(BaseDataPreprocessor):
    """inputs (B, C, T, H, W) uint8 -> float; targets -> long.

    Channels 0-2 are RGB: ``(x/255 - mean) / std``. A 4th channel is the prior mask of mask
    propagation (0 = background, 255 = object): mapped to [-1, 1].

    ``memory_format``: the layout of the float clips unless a call names one, that of the
    model's weights (contiguous; channels-last while pretraining on the CPU,
    :class:`~pipeline.engine.hooks.ChannelsLastHook`).
    """

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.memory_format = torch.contiguous_format
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1, 1), persistent=False)

    def forward(self, data: dict, training: bool = False,
                memory_format: torch.memory_format | None = None) -> dict:
        """``memory_format``: the layout of the float clips, that of the model's weights
        (fine-tuning's channels-last on the CPU); ``self.memory_format`` by default."""
        memory_format = self.memory_format if memory_format is None else memory_format
        data = self.cast_data(data)
        # contiguous by default: frames arrive channels-last (a permuted HWC array), and
        # conv3d on a channels-last-strided input with contiguous weights takes a several
        # times slower path on the CPU
        inputs = self.normalize(data["inputs"]).contiguous(memory_format=memory_format)
        targets = data.get("data_samples")
        return {"inputs": inputs, "data_samples": None if targets is None else targets.long()}

    def normalize(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) uint8 on the model's device -> float, in the memory layout it came
        in: a clip permuted from (B, T, H, W, C), as propagation builds them, comes out
        ``channels_last_3d``, the layout its fused network runs in, without a copy to
        reorder it. Such a clip on the CPU goes through a 256-entry table per channel
        (``cv2.LUT``, made by the same float ops, so the same values), several times faster
        than the ops over every pixel."""
        if (inputs.device.type == "cpu" and inputs.dtype == torch.uint8 and inputs.shape[1] <= 4
                and inputs.is_contiguous(memory_format=torch.channels_last_3d)):
            b, c, t, h, w = inputs.shape
            levels = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 1, 256).expand(1, c, 1, 1, 256)
            table = self._normalize(levels)[0, :, 0, 0].T.contiguous().numpy()[None]  # (1, 256, C)
            pixels = inputs.permute(0, 2, 3, 4, 1).numpy().reshape(b * t * h, w, c)
            out = torch.from_numpy(cv2.LUT(pixels, table).reshape(b, t, h, w, c))
            return out.permute(0, 4, 1, 2, 3)
        return self._normalize(inputs)

    def _normalize(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs.float() / 255.0
        rgb = (x[:, :3] - self.mean) / self.std
        return torch.cat([rgb, x[:, 3:] * 2 - 1], dim=1) if x.shape[1] > 3 else rgb
