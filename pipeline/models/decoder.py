"""Multi-scale mask decoder: per-frame logits at the input resolution."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.registry import MODELS


def upsample_time(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Slow features (B, C, T/alpha, H, W) -> (B, C, T, H, W) by repeating each slow frame.

    Slow frame ``j`` was sampled at input frame ``j * alpha`` and stands for frames
    ``j*alpha .. j*alpha + alpha - 1``: nearest (causal-free) temporal upsampling.
    """
    repeat = -(-frames // x.shape[2])
    return x.repeat_interleave(repeat, dim=2)[:, :, :frames]


@MODELS.register_module()
class MultiScaleMaskDecoder(nn.Module):
    """FPN-like top-down decoder over every backbone scale.

    At each scale the slow features (brought to full temporal resolution by
    :func:`upsample_time`, identical for every pathway variant) and the fast features are
    concatenated, projected to ``channels``, merged top-down, refined and classified.

    Args:
        slow_channels / fast_channels: per-scale channels of the backbone (None if absent).
        channels: decoder width.
        num_classes: 2 for objectness (background / foreground); K+1 for K objects.
    Output logits: (B, num_classes, T, H, W) at the input resolution.
    """

    def __init__(self, slow_channels=None, fast_channels=None, channels: int = 32, num_classes: int = 2):
        super().__init__()
        scales = len(slow_channels or fast_channels)
        cin = [(slow_channels[i] if slow_channels else 0) + (fast_channels[i] if fast_channels else 0)
               for i in range(scales)]
        self.lateral = nn.ModuleList(nn.Conv3d(c, channels, 1) for c in cin)
        self.refine = nn.Sequential(
            nn.Conv3d(channels, channels, (3, 3, 3), padding=1, bias=False),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv3d(channels, num_classes, 1)

    @property
    def num_classes(self) -> int:
        return self.head.out_channels

    def forward(self, features, out_size: tuple[int, int, int]) -> torch.Tensor:
        frames = out_size[0]
        merged = None
        for (slow, fast), lateral in zip(reversed(features), reversed(self.lateral)):
            parts = ([upsample_time(slow, frames)] if slow is not None else []) + (
                [fast] if fast is not None else []
            )
            x = lateral(torch.cat(parts, dim=1))
            if merged is not None:
                x = x + F.interpolate(merged, size=x.shape[2:], mode="trilinear", align_corners=False)
            merged = x
        logits = self.head(self.refine(merged))
        return F.interpolate(logits, size=out_size, mode="trilinear", align_corners=False)
