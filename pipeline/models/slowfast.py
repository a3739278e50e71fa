"""The SlowFast backbone (Feichtenhofer et al., ICCV 2019, arXiv 2018), small and 3D-conv.

* Fast pathway: all ``T`` frames, ``1/beta`` of the slow channels (``beta_inv``), keeps its
  temporal resolution, temporal kernels from the stem on.
* Slow pathway: ``T / alpha`` frames (every ``alpha``-th), many channels, temporal kernel 1
  in the stem and early stages (as in the paper), 3 in the last stage.
* Lateral fast->slow fusion after the stem and after each stage (:class:`FuseFastToSlow`).

``pathways`` selects ``slow`` (slow only), ``fast`` (fast only) or ``slowfast`` (both with
laterals). The backbone returns every scale of both pathways; the decoder brings slow
features back to full temporal resolution in the same way for every variant.
"""
from __future__ import annotations

import torch
from torch import nn

from pipeline.registry import MODELS

PATHWAYS = ("slow", "fast", "slowfast")


class ConvBNReLU3d(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int], stride=(1, 1, 1)):
        padding = tuple(k // 2 for k in kernel)
        super().__init__(
            nn.Conv3d(cin, cout, kernel, stride, padding, bias=False),
            nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True),
        )


class ResBlock3d(nn.Module):
    """Basic residual block: (kt,3,3) conv with spatial stride, then (1,3,3) conv."""

    def __init__(self, cin: int, cout: int, temporal_kernel: int, spatial_stride: int):
        super().__init__()
        kt = temporal_kernel
        stride = (1, spatial_stride, spatial_stride)
        self.conv1 = ConvBNReLU3d(cin, cout, (kt, 3, 3), stride)
        self.conv2 = nn.Sequential(
            nn.Conv3d(cout, cout, (1, 3, 3), 1, (0, 1, 1), bias=False), nn.BatchNorm3d(cout)
        )
        self.shortcut = (
            nn.Identity()
            if cin == cout and spatial_stride == 1
            else nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class FuseFastToSlow(nn.Module):
    """Lateral connection: Conv3d kernel [k,1,1], stride [alpha,1,1], BN, ReLU; concat into slow.

    fast: (B, C_f, T, H, W) -> (B, 2*C_f, ceil(T/alpha), H, W), concatenated to slow.
    """

    def __init__(self, fast_channels: int, alpha: int, kernel: int = 5):
        super().__init__()
        self.conv = ConvBNReLU3d(fast_channels, 2 * fast_channels, (kernel, 1, 1), (alpha, 1, 1))

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        lateral = self.conv(fast)
        return torch.cat([slow, lateral[:, :, : slow.shape[2]]], dim=1)


def _stage(cin, cout, depth, kt, stride) -> nn.Sequential:
    return nn.Sequential(*[ResBlock3d(cin if i == 0 else cout, cout, kt, stride if i == 0 else 1)
                           for i in range(depth)])


@MODELS.register_module()
class SlowFastBackbone(nn.Module):
    """SlowFast backbone.

    Args:
        pathways: ``slow`` | ``fast`` | ``slowfast``.
        alpha: frame-rate ratio; the slow pathway sees every ``alpha``-th frame.
        beta_inv: channel ratio; fast channels = slow channels / ``beta_inv``.
        stem_width: slow stem channels.
        widths: slow channels of each stage (each stage halves the resolution).
        depths: residual blocks per stage.
        slow_temporal_kernels: temporal kernel of the slow stages (1 = per-frame, paper).
        fast_temporal_kernel: temporal kernel of the fast stages; its stem uses 5 (paper).
        fusion_kernel: temporal kernel ``k`` of the lateral connections.

    Input (B, 3, T, H, W). Output: list of (slow, fast) per scale, stem then stages, with
    slow (B, C_s, T/alpha, H_s, W_s) and fast (B, C_s/beta_inv, T, H_s, W_s); an absent
    pathway is ``None``. Scales are 1/2 (stem), then 1/4, 1/8, ... .
    """

    def __init__(
        self,
        pathways: str = "slowfast",
        alpha: int = 4,
        beta_inv: int = 4,
        stem_width: int = 16,
        widths: tuple[int, ...] = (32, 64, 128),
        depths: tuple[int, ...] = (1, 1, 1),
        slow_temporal_kernels: tuple[int, ...] = (1, 1, 3),
        fast_temporal_kernel: int = 3,
        fusion_kernel: int = 5,
    ):
        super().__init__()
        if pathways not in PATHWAYS:
            raise ValueError(f"pathways must be one of {PATHWAYS}, got {pathways!r}")
        if not len(widths) == len(depths) == len(slow_temporal_kernels):
            raise ValueError("widths, depths and slow_temporal_kernels need one entry per stage")
        if alpha < 1 or beta_inv < 1:
            raise ValueError(f"alpha and beta_inv must be >= 1, got {alpha}, {beta_inv}")
        self.pathways, self.alpha = pathways, alpha
        self.use_slow = pathways in ("slow", "slowfast")
        self.use_fast = pathways in ("fast", "slowfast")
        self.fuse = pathways == "slowfast"
        slow_w = [stem_width, *widths]
        fast_w = [max(1, w // beta_inv) for w in slow_w]
        lateral = [2 * f if self.fuse else 0 for f in fast_w]
        self.slow_channels = [s + lat for s, lat in zip(slow_w, lateral)] if self.use_slow else None
        self.fast_channels = fast_w if self.use_fast else None
        if self.use_slow:
            self.slow_stem = ConvBNReLU3d(3, stem_width, (1, 7, 7), (1, 2, 2))
            self.slow_stages = nn.ModuleList(
                _stage(slow_w[i] + lateral[i], slow_w[i + 1], depths[i], slow_temporal_kernels[i], 2)
                for i in range(len(widths))
            )
        if self.use_fast:
            self.fast_stem = ConvBNReLU3d(3, fast_w[0], (5, 7, 7), (1, 2, 2))
            self.fast_stages = nn.ModuleList(
                _stage(fast_w[i], fast_w[i + 1], depths[i], fast_temporal_kernel, 2)
                for i in range(len(widths))
            )
        if self.fuse:
            self.laterals = nn.ModuleList(
                FuseFastToSlow(f, alpha, fusion_kernel) for f in fast_w
            )
        self.num_scales = len(slow_w)

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"expected a clip (B, 3, T, H, W), got shape {tuple(x.shape)}")
        t = x.shape[2]
        if self.use_slow and t < self.alpha:
            raise ValueError(
                f"clip of T={t} frames is shorter than alpha={self.alpha}: the slow pathway "
                f"would see no frame; use clips of at least {self.alpha} frames or a smaller alpha"
            )
        min_hw = 2 ** self.num_scales
        if min(x.shape[3:]) < min_hw:
            raise ValueError(f"frames of {tuple(x.shape[3:])} px are too small; need >= {min_hw}")

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
        self.check_input(x)
        slow = self.slow_stem(x[:, :, :: self.alpha]) if self.use_slow else None
        fast = self.fast_stem(x) if self.use_fast else None
        if self.fuse:
            slow = self.laterals[0](slow, fast)
        features = [(slow, fast)]
        for i in range(self.num_scales - 1):
            slow = self.slow_stages[i](slow) if self.use_slow else None
            fast = self.fast_stages[i](fast) if self.use_fast else None
            if self.fuse:
                slow = self.laterals[i + 1](slow, fast)
            features.append((slow, fast))
        return features
