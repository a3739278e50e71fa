"""Pathways of the SlowFast backbone: registered types that ``slow_pathway=dict(type=...)``
and ``fast_pathway=dict(type=...)`` of :class:`SlowFastBackbone
<pipeline.models.slowfast.SlowFastBackbone>` name, as mmaction2's ``ResNet3dSlowFast`` does.

A pathway is a ``stem`` (to 1/2) and ``stages`` (an ``nn.ModuleList``, each halving the
size): the backbone runs them itself, scale by scale, because the lateral connections join
the two pathways between scales. Every pathway type offers the same interface:

* ``__init__(..., in_channels, lateral_channels)``: the backbone passes the clip's channels
  and, per scale, the fast->slow lateral channels concatenated into this pathway's output
  there (the next stage takes them as extra input; zeros without fusion);
* ``scale_channels(**cfg)`` (classmethod): its own channels at each scale, stem then
  stages, without building anything (the fast pathway's widths derive from the slow ones);
* ``mean`` / ``std``: the input normalisation its weights expect (on the [0, 1] scale).

The ImageNet-initialised EfficientNet-Lite0 pathway is in :mod:`pipeline.models.efficientnet`.
"""
from __future__ import annotations

import torch
from torch import nn

from pipeline.models.layers import ConvBNAct3d
from pipeline.models.preprocessor import IMAGENET_MEAN, IMAGENET_STD
from pipeline.registry import MODELS


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


@MODELS.register_module()
class ResNet3dPathway(nn.Module):
    """A small 3D ResNet pathway, trained from scratch: the ``light`` slow pathway and the
    fast pathway.

    Args:
        stem_width: channels of the (``stem_temporal_kernel``, 7, 7) stem, stride 2.
        widths: channels of each stage (stride 2 in its first block).
        depths: residual blocks per stage.
        temporal_kernels: temporal kernel of each stage (1 = per frame: the paper's early
            slow stages; the fast pathway uses 3 throughout).
        stem_temporal_kernel: 1 for the slow pathway, 5 for the fast one (paper).
        in_channels, lateral_channels: set by the backbone (see the module docstring).
    """

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, stem_width: int = 16, widths: tuple[int, ...] = (32, 64, 128),
                 depths: tuple[int, ...] = (1, 1, 1), temporal_kernels: tuple[int, ...] = (1, 1, 3),
                 stem_temporal_kernel: int = 1, in_channels: int = 3,
                 lateral_channels: tuple[int, ...] | None = None):
        super().__init__()
        if not len(widths) == len(depths) == len(temporal_kernels):
            raise ValueError(f"widths, depths and temporal_kernels need one entry per stage, got "
                             f"{len(widths)}, {len(depths)} and {len(temporal_kernels)}")
        channels = self.scale_channels(stem_width, widths)
        lateral = list(lateral_channels or [0] * len(channels))
        self.stem = ConvBNAct3d(in_channels, stem_width, (stem_temporal_kernel, 7, 7), (1, 2, 2))
        self.stages = nn.ModuleList(
            nn.Sequential(*[
                ResBlock3d(channels[i] + lateral[i] if b == 0 else channels[i + 1], channels[i + 1],
                           temporal_kernels[i], 2 if b == 0 else 1)
                for b in range(depths[i])
            ])
            for i in range(len(widths))
        )

    @classmethod
    def scale_channels(cls, stem_width: int = 16, widths: tuple[int, ...] = (32, 64, 128),
                       **_) -> list[int]:
        return [stem_width, *widths]
