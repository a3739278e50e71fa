"""Multi-scale mask decoder: per-frame logits at the input resolution."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.models.layers import ConvBNAct3d, Conv3d
from pipeline.models.slowfast import slow_offset
from pipeline.registry import MODELS


def upsample_time(x: torch.Tensor, frames: int, alpha: int, last: int | None = None) -> torch.Tensor:
    """Slow features (B, C, n, H, W) -> (B, C, T, H, W), nearest in time; with ``last``,
    only the last ``last`` of those T frames (nothing else is gathered).

    Slow frame ``j`` was sampled at input frame ``offset + j * alpha`` with
    ``offset = (T - 1) % alpha`` (:func:`slow_offset`: the last frame is always sampled);
    frame ``t`` takes the slow frame sampled nearest to it, ties to the later one.
    """
    offset = slow_offset(frames, alpha)
    t = torch.arange(frames - (last or frames), frames, device=x.device)
    index = torch.div(t - offset + alpha // 2, alpha, rounding_mode="floor").clamp(0, x.shape[2] - 1)
    return x.index_select(2, index)


@MODELS.register_module()
class MultiScaleMaskDecoder(nn.Module):
    """FPN-like top-down decoder over every backbone scale.

    At each scale the slow features, brought to full temporal resolution by
    :func:`upsample_time` (the same parameter-free path for every pathway variant, so the
    slow / fast / slowfast ablation compares backbones only), and the fast features are
    concatenated, projected to ``channels`` and merged top-down. The 1/4 map is refined by a
    (3,3,3) conv (the decoder's only temporal mixing), the 1/2 (stem) projection added for
    boundary detail, concatenated with the prior mask at 1/2 (so that where the prior is
    right its boundary needs no trip through the encoder), then classified and upsampled
    bilinearly to the input frame size. With ``refine_channels`` > 0 the *last* frame's
    logits (the frame being predicted: clips end at it) get a residual correction at full
    crop resolution from two small convs over [upsampled logits, RGB, prior]: the boundary
    follows image edges and the prior's own full-resolution outline instead of a 1/2 grid.
    Only the last frame, so inference pays for one frame (about 0.08 GFLOPs at 160 px).

    Args:
        slow_channels / fast_channels: per-scale channels of the backbone (None if absent).
        alpha: the backbone's frame-rate ratio (slow frame j = input frame j*alpha).
        channels: decoder width.
        num_classes: 2 (background / this object; objects are merged by the caller).
        prior_channels: channels of the prior input (0: none).
        refine_channels: width of the last frame's full-resolution refinement (0: none).
    Output logits: (B, num_classes, T, H, W) at the input resolution.
    """

    def __init__(self, slow_channels=None, fast_channels=None, alpha: int = 1, channels: int = 32,
                 num_classes: int = 2, prior_channels: int = 1, refine_channels: int = 0):
        super().__init__()
        scales = len(slow_channels or fast_channels)
        cin = [(slow_channels[i] if slow_channels else 0) + (fast_channels[i] if fast_channels else 0)
               for i in range(scales)]
        self.alpha = alpha
        self.lateral = nn.ModuleList(Conv3d(c, channels, 1) for c in cin)
        self.refine = ConvBNAct3d(channels, channels, (3, 3, 3))
        self.prior_channels = prior_channels
        self.prior_fuse = ConvBNAct3d(channels + prior_channels, channels, (1, 3, 3)) if prior_channels else None
        self.head = Conv3d(channels, num_classes, 1)
        self.refine_full = nn.Sequential(
            ConvBNAct3d(num_classes + 3 + prior_channels, refine_channels, (1, 3, 3)),
            ConvBNAct3d(refine_channels, refine_channels, (1, 3, 3)),
            Conv3d(refine_channels, num_classes, 1),
        ) if refine_channels else None
        if self.refine_full is not None:  # starts as the identity: the coarse logits as they are
            nn.init.zeros_(self.refine_full[-1].weight)
            nn.init.zeros_(self.refine_full[-1].bias)

    @property
    def num_classes(self) -> int:
        return self.head.out_channels

    def forward(self, features, out_size: tuple[int, int, int], prior: torch.Tensor | None = None,
                image: torch.Tensor | None = None, last_only: bool = False) -> torch.Tensor:
        """Logits (B, C, T, H, W); with ``last_only`` those of the last frame alone,
        (B, C, 1, H, W), equal to the full output's last frame at a fraction of the cost:
        everything but the (3,3,3) refinement is per frame, and that needs only the frame
        before the last (prediction uses nothing else)."""
        frames = out_size[0]
        merged = None
        for scale in reversed(range(len(features))):
            keep = frames if not last_only else 2 if scale >= 1 else 1  # frames this scale needs
            slow, fast = features[scale]
            parts = [p for p in (slow, fast) if p is not None]
            if slow is not None:
                parts[0] = upsample_time(slow, frames, self.alpha, keep)
            x = self.lateral[scale](torch.cat([p[:, :, -keep:] for p in parts], dim=1))
            if merged is not None:
                x = x + _resize_frames(merged[:, :, -keep:], x.shape[3:])
            merged = self.refine(x) if scale == 1 else x  # refine at 1/4: 4x cheaper than 1/2
        merged = torch.relu(merged)
        if last_only:
            prior, image = (None if v is None else v[:, :, -1:] for v in (prior, image))
        if self.prior_fuse is not None:  # the prior mask again at 1/2: its boundary, sharp
            merged = self.prior_fuse(torch.cat([merged, _resize_frames(prior, merged.shape[3:])], 1))
        logits = _resize_frames(self.head(merged), out_size[1:])  # from (B, C, T, H/2, W/2)
        if self.refine_full is None:
            return logits
        last = [logits[:, :, -1:], image[:, :, -1:]] + ([prior[:, :, -1:]] if self.prior_channels else [])
        refined = logits[:, :, -1:] + self.refine_full(torch.cat(last, 1))
        return torch.cat([logits[:, :, :-1], refined], 2)


def _resize_frames(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear per-frame resize of (B, C, T, h, w) to (B, C, T, *size); time untouched."""
    b, c, t, h, w = x.shape
    y = F.interpolate(x.transpose(1, 2).reshape(b * t, c, h, w), size=tuple(size), mode="bilinear",
                      align_corners=False)
    return y.reshape(b, t, c, *y.shape[2:]).transpose(1, 2)
