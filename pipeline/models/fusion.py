"""The network as prediction runs it: Conv-BN folding and channels-last memory.

A BatchNorm in eval mode is an affine map per channel, so the convolution before it can
absorb it (weights scaled, a bias added) and the BN pass over every activation disappears.
The 3-D weights are then stored channels-last (``torch.channels_last_3d``), the layout
oneDNN's CPU convolutions run fastest in (callers pass their clips in it too). The result
is the same function up to float rounding (measured: 1.5e-6 on the shipped parent; the
8-frame 160-pixel clip and its mirror image, every frame decoded, in 72 ms instead of 85 ms
on 2 cores, interleaved medians).

Which BN follows which conv is known for certain in an ``nn.Sequential`` (its order is the
order of the forward pass); other modules declare their pairs in ``conv_bn_pairs`` (names of
a conv and of the BN its output goes through directly, as :class:`MBConv
<pipeline.models.efficientnet.MBConv>` does). Then each narrow conv with a temporal kernel
(the fast pathway's stem) is replaced by its taps form, :class:`TemporalTapsConv3d` (the
same function, computed as one 2-D conv per frame). Nothing else is touched.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from pipeline.models.layers import Conv3d

_CONVS = (nn.Conv2d, nn.Conv3d)
_BNS = (nn.BatchNorm2d, nn.BatchNorm3d)


def _fusable(conv, bn) -> bool:
    return (isinstance(conv, _CONVS) and isinstance(bn, _BNS) and bn.track_running_stats
            and conv.out_channels == bn.num_features)


def fused_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every known conv -> BN pair folded into the conv
    (the BN becomes ``nn.Identity``), channels-last 3-D weights, and narrow temporal convs in
    their taps form (:class:`TemporalTapsConv3d`); ``model`` itself is left as it is."""
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            pairs = zip(names, names[1:])
        else:
            pairs = getattr(module, "conv_bn_pairs", ())
        for conv_name, bn_name in pairs:
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if _fusable(conv, bn):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
    model = model.to(memory_format=torch.channels_last_3d)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if TemporalTapsConv3d.suits(child):
                setattr(module, name, TemporalTapsConv3d(child))
    return model


class TemporalTapsConv3d(nn.Module):
    """A narrow ``nn.Conv3d`` with a temporal kernel, computed as one 2-D convolution per
    frame whose output channels are the kernel's temporal taps, then summed frame-shifted.

    ``out[t] = bias + sum_k conv2d(x[t + k - kt // 2], w[:, :, k])``: the same function as the
    3-D convolution (zero padding in time included), up to float rounding. oneDNN's CPU
    kernels vectorise over output channels, so a 3-D conv with few of them (the fast
    pathway's 4-channel stem) leaves most of each vector empty; as taps x channels the 2-D
    conv fills them, and each input frame is read once instead of ``kt`` times.
    """

    max_out = 8  # output channels up to which the taps form pays (one AVX2 vector)

    def __init__(self, conv: nn.Conv3d):
        super().__init__()
        kt = conv.kernel_size[0]
        weight = conv.weight.detach()
        self.kt, self.out_channels = kt, conv.out_channels
        self.stride, self.padding = conv.stride[1:], conv.padding[1:]
        self.weight = nn.Parameter(weight.transpose(1, 2).transpose(0, 1).reshape(
            kt * conv.out_channels, conv.in_channels, *conv.kernel_size[1:]).contiguous(),
            requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(),
                                                                requires_grad=False)

    @staticmethod
    def suits(conv: nn.Module) -> bool:
        """A plain Conv3d the taps form computes exactly: temporal kernel > 1 with 'same'
        padding, temporal stride and dilation 1, no groups, few output channels."""
        return (type(conv) in (nn.Conv3d, Conv3d) and conv.kernel_size[0] > 1
                and conv.stride[0] == 1 and conv.dilation == (1, 1, 1) and conv.groups == 1
                and conv.padding_mode == "zeros" and conv.padding[0] == conv.kernel_size[0] // 2
                and conv.kernel_size[0] % 2 == 1 and conv.out_channels <= TemporalTapsConv3d.max_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w).contiguous()
        y = F.conv2d(frames, self.weight, None, self.stride, self.padding)
        y = y.reshape(b, t, self.kt, self.out_channels, *y.shape[2:])
        half = self.kt // 2
        out = y[:, :, half].clone()
        for k in range(self.kt):  # out[t] += tap k of frame t + k - half
            if k != half:
                lo, hi = max(0, half - k), min(t, t + half - k)
                out[:, lo:hi] += y[:, lo + k - half: hi + k - half, k]
        if self.bias is not None:
            out += self.bias.view(1, 1, -1, 1, 1)
        return out.transpose(1, 2).contiguous(memory_format=torch.channels_last_3d)
