"""The SlowFast backbone (Feichtenhofer et al., ICCV 2019, arXiv 2018), small and 3D-conv.

* Fast pathway: all ``T`` frames, ``1/beta`` of the slow channels (``beta_inv``), keeps its
  temporal resolution, temporal kernels from the stem on.
* Slow pathway: ``T / alpha`` frames (every ``alpha``-th), many channels, temporal kernel 1
  in the stem and early stages (as in the paper), 3 in the last stage.
* Lateral fast->slow fusion after the stem and after each stage (:class:`FuseFastToSlow`).

The clip itself is sampled every ``tau`` raw frames by the data pipeline (``clip_len`` and
``tau`` of the training stages): the fast pathway sees frames ``tau`` apart, the slow
``tau * alpha`` apart, as in the paper.

``pathways`` selects ``slow`` (slow only), ``fast`` (fast only) or ``slowfast`` (both with
laterals). The backbone returns every scale of both pathways; the decoder brings slow
features back to full temporal resolution in the same way for every variant.
"""
from __future__ import annotations

import torch
from torch import nn

from pipeline.models.efficientnet import TRUNK_CHANNELS, load_imagenet_slow, lite0_slow_pathway
from pipeline.models.layers import ConvBNAct3d
from pipeline.registry import MODELS

PATHWAYS = ("slow", "fast", "slowfast")
SLOW_ARCHS = ("light", "efficientnet_lite0")
SLOW_INITS = ("none", "imagenet")


class ResBlock3d(nn.Module):
    """Basic residual block: (kt,3,3) conv with spatial stride, then (1,3,3) conv."""

    def __init__(self, cin: int, cout: int, temporal_kernel: int, spatial_stride: int):
        super().__init__()
        stride = (1, spatial_stride, spatial_stride)
        self.conv1 = ConvBNAct3d(cin, cout, (temporal_kernel, 3, 3), stride)
        self.conv2 = ConvBNAct3d(cout, cout, (1, 3, 3), act=None)
        self.shortcut = (
            nn.Identity()
            if cin == cout and spatial_stride == 1
            else ConvBNAct3d(cin, cout, (1, 1, 1), stride, act=None)
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
        self.conv = ConvBNAct3d(fast_channels, 2 * fast_channels, (kernel, 1, 1), (alpha, 1, 1))

    def forward(self, slow: torch.Tensor, fast: torch.Tensor, offset: int = 0) -> torch.Tensor:
        lateral = self.conv(fast[:, :, offset:])  # output j centred on frame offset + j*alpha
        return torch.cat([slow, lateral[:, :, : slow.shape[2]]], dim=1)


def residual_stages(widths: list[int], depths, temporal_kernels, extra_in=None) -> nn.ModuleList:
    """Stage ``i``: ``depths[i]`` residual blocks from ``widths[i]`` (+ ``extra_in[i]``
    lateral channels) to ``widths[i+1]`` channels, spatial stride 2 in its first block."""
    extra_in = extra_in or [0] * len(widths)
    return nn.ModuleList(
        nn.Sequential(*[
            ResBlock3d(widths[i] + extra_in[i] if b == 0 else widths[i + 1], widths[i + 1],
                       temporal_kernels[i], 2 if b == 0 else 1)
            for b in range(depths[i])
        ])
        for i in range(len(widths) - 1)
    )


@MODELS.register_module()
class SlowFastBackbone(nn.Module):
    """SlowFast backbone.

    Args:
        pathways: ``slow`` | ``fast`` | ``slowfast``.
        alpha: frame-rate ratio; the slow pathway sees every ``alpha``-th frame.
        beta_inv: channel ratio; fast channels = slow channels / ``beta_inv``.
        stem_width / widths: slow channels of the stem and of each stage of the ``light``
            slow pathway (``efficientnet_lite0`` has its own: 16, 24, 40, 112).
        depths: residual blocks per stage (fast pathway; also the light slow pathway).
        slow_temporal_kernels: temporal kernel of the slow stages (1 = per-frame, paper).
        fast_temporal_kernel: temporal kernel of the fast stages; its stem uses 5 (paper).
        fusion_kernel: temporal kernel ``k`` of the lateral connections.
        slow_arch: ``light`` (a small 3D ResNet) or ``efficientnet_lite0`` (Lite0's trunk
            up to 1/16, depthwise convs inflated to 3D).
        slow_init: ``none`` or ``imagenet`` (``efficientnet_lite0`` only: inflated ImageNet
            weights; lateral input channels start at zero, so at initialisation the slow
            pathway computes the 2D network on each of its frames).
        inflate: ``centre`` or ``mean`` 2D->3D kernel inflation for ``slow_init=imagenet``.
        in_channels: 3 (RGB) or 4 (RGB + the prior mask of mask propagation).

    The slow pathway samples every ``alpha``-th frame *ending at the last one* (frames
    ``T-1, T-1-alpha, ...``): in causal mask propagation the last frame of the clip is the one
    predicted, and its slow features are its own, not ``alpha - 1`` frames old.

    Input (B, in_channels, T, H, W). Output: list of (slow, fast) per scale, stem then stages, with
    slow (B, C_s, ceil(T/alpha), H_s, W_s) and fast (B, C_s/beta_inv, T, H_s, W_s); an absent
    pathway is ``None``. Scales are 1/2 (stem), then 1/4, 1/8, 1/16.
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
        slow_arch: str = "light",
        slow_init: str = "none",
        inflate: str = "centre",
        in_channels: int = 3,
    ):
        super().__init__()
        _check_choice("pathways", pathways, PATHWAYS)
        _check_choice("slow_arch", slow_arch, SLOW_ARCHS)
        _check_choice("slow_init", slow_init, SLOW_INITS)
        if slow_init == "imagenet" and slow_arch != "efficientnet_lite0":
            raise ValueError("slow_init=imagenet needs slow_arch=efficientnet_lite0 (the light "
                             "slow pathway has no pretrained weights)")
        if not len(widths) == len(depths) == len(slow_temporal_kernels):
            raise ValueError("widths, depths and slow_temporal_kernels need one entry per stage")
        if alpha < 1 or beta_inv < 1:
            raise ValueError(f"alpha and beta_inv must be >= 1, got {alpha}, {beta_inv}")
        self.pathways, self.alpha, self.slow_arch, self.slow_init = pathways, alpha, slow_arch, slow_init
        self.in_channels = in_channels
        self.use_slow = pathways in ("slow", "slowfast")
        self.use_fast = pathways in ("fast", "slowfast")
        self.fuse = pathways == "slowfast"
        slow_w = [stem_width, *widths] if slow_arch == "light" else list(TRUNK_CHANNELS)
        if len(slow_w) != len(depths) + 1:
            raise ValueError(f"{slow_arch} has {len(slow_w) - 1} stages; depths has {len(depths)}")
        fast_w = [max(1, w // beta_inv) for w in slow_w]
        lateral = [2 * f if self.fuse else 0 for f in fast_w]
        self.slow_channels = [s + lat for s, lat in zip(slow_w, lateral)] if self.use_slow else None
        self.fast_channels = fast_w if self.use_fast else None
        if self.use_slow and slow_arch == "light":
            self.slow_stem = ConvBNAct3d(in_channels, stem_width, (1, 7, 7), (1, 2, 2))
            self.slow_stages = residual_stages(slow_w, depths, slow_temporal_kernels, lateral)
        elif self.use_slow:
            self.slow_stem, self.slow_stages = lite0_slow_pathway(lateral, tuple(slow_temporal_kernels),
                                                                 in_channels)
            if slow_init == "imagenet":
                load_imagenet_slow(self.slow_stem, self.slow_stages, inflate)
        if self.use_fast:
            self.fast_stem = ConvBNAct3d(in_channels, fast_w[0], (5, 7, 7), (1, 2, 2))
            self.fast_stages = residual_stages(fast_w, depths, [fast_temporal_kernel] * len(depths))
        if self.fuse:
            self.laterals = nn.ModuleList(FuseFastToSlow(f, alpha, fusion_kernel) for f in fast_w)
        self.num_scales = len(slow_w)

    def check_input(self, x: torch.Tensor) -> None:
        """Clear errors for clips the network cannot take, before any conv runs."""
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected a clip (B, {self.in_channels}, T, H, W), got shape {tuple(x.shape)}")
        t = x.shape[2]
        if self.use_slow and t < self.alpha:
            raise ValueError(
                f"clip of T={t} frames is shorter than alpha={self.alpha}: the slow pathway "
                f"would see a single frame and no temporal stride; use clips of at least "
                f"{self.alpha} frames or a smaller alpha"
            )
        min_hw = 2 ** self.num_scales
        if min(x.shape[3:]) < min_hw:
            raise ValueError(f"frames of {tuple(x.shape[3:])} px are too small; need >= {min_hw}")

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
        self.check_input(x)
        offset = slow_offset(x.shape[2], self.alpha)
        slow = self.slow_stem(x[:, :, offset :: self.alpha]) if self.use_slow else None  # (B, C, T/alpha, H/2, W/2)
        fast = self.fast_stem(x) if self.use_fast else None  # (B, C/beta, T, H/2, W/2)
        if self.fuse:
            slow = self.laterals[0](slow, fast, offset)
        features = [(slow, fast)]
        for i in range(self.num_scales - 1):
            slow = self.slow_stages[i](slow) if self.use_slow else None
            fast = self.fast_stages[i](fast) if self.use_fast else None
            if self.fuse:
                slow = self.laterals[i + 1](slow, fast, offset)
            features.append((slow, fast))
        return features


def slow_offset(frames: int, alpha: int) -> int:
    """First frame the slow pathway samples: frames ``offset, offset+alpha, ..., frames-1``."""
    return (frames - 1) % alpha


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
