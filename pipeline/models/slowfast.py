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

from pipeline.models.layers import ConvBNAct3d
from pipeline.registry import MODELS, build, lookup

PATHWAYS = ("slow", "fast", "slowfast")
FAST_INPUTS = ("rgb", "diff")


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


SLOW_PATHWAY = {"type": "ResNet3dPathway"}
FAST_PATHWAY = {"type": "ResNet3dPathway", "stem_temporal_kernel": 5, "temporal_kernels": [3, 3, 3]}


@MODELS.register_module()
class SlowFastBackbone(nn.Module):
    """SlowFast backbone: two registered pathways joined by lateral connections.

    Args:
        pathways: ``slow`` | ``fast`` | ``slowfast``.
        alpha: frame-rate ratio; the slow pathway sees every ``alpha``-th frame.
        beta_inv: channel ratio; fast channels = slow channels / ``beta_inv`` at every scale.
        fusion_kernel: temporal kernel ``k`` of the lateral connections.
        slow_pathway: ``type=`` dict of the slow pathway (:mod:`pipeline.models.pathways`):
            ``ResNet3dPathway`` (small, from scratch; the default) or
            ``EfficientNetLite0Pathway`` (ImageNet appearance with ``init: imagenet``).
        fast_pathway: ``type=`` dict of the fast pathway, without widths (they are the slow
            pathway's / ``beta_inv``); one ``depths`` / ``temporal_kernels`` entry per stage
            of the slow pathway.
        in_channels: 3 (RGB) or 4 (RGB + the prior mask of mask propagation).
        fast_input: what the fast pathway sees of the clip: ``rgb`` (the frames, as the
            slow pathway; the paper's design) or ``diff`` (motion: each frame minus the one
            before it, zero for the first, the other channels such as the prior as they are).
            The slow pathway always sees the frames. Same compute either way.

    Both pathways are built (for ``pathways`` that use them) in the order slow, fast,
    laterals. The slow pathway's ``mean`` / ``std`` are the backbone's ``input_mean`` /
    ``input_std``: the normalisation the segmenter's data preprocessor applies.

    The slow pathway samples every ``alpha``-th frame *ending at the last one* (frames
    ``T-1, T-1-alpha, ...``): in causal mask propagation the last frame of the clip is the one
    predicted, and its slow features are its own, not ``alpha - 1`` frames old.

    Input (B, in_channels, T, H, W). Output: list of (slow, fast) per scale, stem then stages, with
    slow (B, C_s, ceil(T/alpha), H_s, W_s) and fast (B, C_s/beta_inv, T, H_s, W_s); an absent
    pathway is ``None``. Scales are 1/2 (stem), then 1/4, 1/8, 1/16.
    """

    def __init__(self, pathways: str = "slowfast", alpha: int = 4, beta_inv: int = 4,
                 fusion_kernel: int = 5, slow_pathway: dict | None = None,
                 fast_pathway: dict | None = None, in_channels: int = 3,
                 fast_input: str = "rgb"):
        super().__init__()
        _check_choice("pathways", pathways, PATHWAYS)
        _check_choice("fast_input", fast_input, FAST_INPUTS)
        self.fast_input = fast_input
        if alpha < 1 or beta_inv < 1:
            raise ValueError(f"alpha and beta_inv must be >= 1, got {alpha}, {beta_inv}")
        slow_cfg, fast_cfg = dict(slow_pathway or SLOW_PATHWAY), dict(fast_pathway or FAST_PATHWAY)
        if {"stem_width", "widths"} & set(fast_cfg):
            raise ValueError("fast_pathway takes no stem_width / widths: its channels are the slow "
                             "pathway's divided by beta_inv")
        self.pathways, self.alpha, self.in_channels = pathways, alpha, in_channels
        self.use_slow = pathways in ("slow", "slowfast")
        self.use_fast = pathways in ("fast", "slowfast")
        self.fuse = pathways == "slowfast"
        slow_cls = _pathway_class("slow_pathway", slow_cfg)
        _pathway_class("fast_pathway", fast_cfg)
        self.input_mean, self.input_std = slow_cls.mean, slow_cls.std
        slow_w = slow_cls.scale_channels(**slow_cfg)
        for name in ("depths", "temporal_kernels") if pathways != "slow" else ():
            if len(fast_cfg.get(name, slow_w[1:])) != len(slow_w) - 1:
                raise ValueError(f"fast_pathway: {name} needs one entry per stage of the slow "
                                 f"pathway ({len(slow_w) - 1}), got {fast_cfg[name]}")
        fast_w = [max(1, w // beta_inv) for w in slow_w]
        lateral = [2 * f if self.fuse else 0 for f in fast_w]
        self.slow_channels = [s + lat for s, lat in zip(slow_w, lateral)] if self.use_slow else None
        self.fast_channels = fast_w if self.use_fast else None
        if self.use_slow:
            self.slow_pathway = build(MODELS, dict(slow_cfg, in_channels=in_channels,
                                                   lateral_channels=lateral))
        if self.use_fast:
            self.fast_pathway = build(MODELS, dict(fast_cfg, in_channels=in_channels,
                                                   stem_width=fast_w[0], widths=fast_w[1:]))
        if self.fuse:
            self.laterals = nn.ModuleList(FuseFastToSlow(f, alpha, fusion_kernel) for f in fast_w)
        self.num_scales = len(slow_w)

    def scale_modules(self, scale: int) -> list[nn.Module]:
        """The modules that make scale ``scale``'s features (0: the stems, ``i``: stage
        ``i - 1``), each pathway's with the lateral connection that joins them there."""
        if not 0 <= scale < self.num_scales:
            raise ValueError(f"scale must be in [0, {self.num_scales}), got {scale}")
        parts = []
        for used, name in ((self.use_slow, "slow_pathway"), (self.use_fast, "fast_pathway")):
            if used:
                pathway = getattr(self, name)
                parts.append(pathway.stem if scale == 0 else pathway.stages[scale - 1])
        return parts + ([self.laterals[scale]] if self.fuse else [])

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
        slow = self.slow_pathway.stem(x[:, :, offset :: self.alpha]) if self.use_slow else None  # (B, C, T/alpha, H/2, W/2)
        fast_x = frame_differences(x) if self.use_fast and self.fast_input == "diff" else x
        fast = self.fast_pathway.stem(fast_x) if self.use_fast else None  # (B, C/beta, T, H/2, W/2)
        if self.fuse:
            slow = self.laterals[0](slow, fast, offset)
        features = [(slow, fast)]
        for i in range(self.num_scales - 1):
            slow = self.slow_pathway.stages[i](slow) if self.use_slow else None
            fast = self.fast_pathway.stages[i](fast) if self.use_fast else None
            if self.fuse:
                slow = self.laterals[i + 1](slow, fast, offset)
            features.append((slow, fast))
        return features


def frame_differences(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) clip -> the same with its first 3 channels (the frames) replaced by each
    frame minus the one before it (zero for the first frame)."""
    rgb = x[:, :3]
    motion = torch.cat([torch.zeros_like(rgb[:, :, :1]), rgb[:, :, 1:] - rgb[:, :, :-1]], dim=2)
    return torch.cat([motion, x[:, 3:]], dim=1)


def slow_offset(frames: int, alpha: int) -> int:
    """First frame the slow pathway samples: frames ``offset, offset+alpha, ..., frames-1``."""
    return (frames - 1) % alpha


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _pathway_class(key: str, cfg: dict) -> type:
    """The registered class ``cfg['type']`` names (the pathway interface checked)."""
    cls = lookup(MODELS, cfg.get("type", ""))
    if cls is None or not hasattr(cls, "scale_channels"):
        pathways = sorted(n for n, c in MODELS.module_dict.items() if hasattr(c, "scale_channels"))
        raise ValueError(f"{key}: type {cfg.get('type')!r} is not a registered pathway; one of "
                         f"{', '.join(pathways)}")
    return cls
