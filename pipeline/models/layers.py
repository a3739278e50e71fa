"""Building blocks shared by the backbones and the decoder (plain classes, not registered)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` with two faster ways on the CPU (float32), same parameters, state dict
    and result (up to float rounding); other devices and dtypes use the stock path.

    * A narrow conv with a temporal kernel (:attr:`taps_form`: the fast pathway's stem)
      whose weights take no gradient (prediction; fine-tuning with the stem frozen) runs as
      :func:`temporal_taps_conv3d`.
    * PyTorch sends a small CPU Conv3d of batch 1 (few channels, kernel <= 3: our whole
      inference case) to its naive ``slow_conv3d`` path, 5-10x slower than oneDNN on the same
      input; from batch 2 on it picks oneDNN itself, so only batch 1 is redirected to it.
    """

    max_taps_channels = 8  # output channels up to which the taps form pays (one AVX2 vector)

    @property
    def taps_form(self) -> bool:
        """Whether :func:`temporal_taps_conv3d` computes this conv, and faster: an odd
        temporal kernel > 1 with 'same' zero padding, temporal stride and every dilation 1, no
        groups, few output channels and a large spatial kernel (a stem's 7x7; with 3x3 the
        3-D conv was the faster, BENCHMARKS.md)."""
        kt, kh, kw = self.kernel_size
        return (kt > 1 and kt % 2 == 1 and self.padding[0] == kt // 2 and self.stride[0] == 1
                and self.dilation == (1, 1, 1) and self.groups == 1 and kh * kw >= 25
                and self.padding_mode == "zeros" and self.out_channels <= self.max_taps_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dtype != torch.float32:
            return super().forward(x)
        if self.taps_form and not (torch.is_grad_enabled() and self.weight.requires_grad):
            return temporal_taps_conv3d(x, self.weight, self.bias, self.stride[1:], self.padding[1:])
        if x.shape[0] > 1 or not torch.backends.mkldnn.is_available():
            return super().forward(x)
        if not x.is_contiguous(memory_format=torch.channels_last_3d):
            x = x.contiguous()
        return torch.ops.aten.mkldnn_convolution(
            x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups
        )


def temporal_taps_conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
    """A 3-D conv (temporal stride 1, 'same' temporal zero padding) computed as one 2-D conv
    per frame whose output channels are the kernel's temporal taps, summed frame-shifted:
    ``out[t] = bias + sum_k conv2d(x[t + k - kt // 2], weight[:, :, k])``. ``stride`` and
    ``padding`` are the spatial ones. oneDNN's CPU kernels vectorise over output channels,
    so a 3-D conv with few of them (the fast pathway's 4-channel stem) leaves most of each
    vector empty; as taps x channels the 2-D conv fills them, and each input frame is read
    once instead of ``kt`` times. Returns a channels-last clip."""
    b, c, t, h, w = x.shape
    out_channels, kt = weight.shape[0], weight.shape[2]
    taps = weight.transpose(1, 2).transpose(0, 1).reshape(kt * out_channels, c, *weight.shape[3:])
    frames = x.transpose(1, 2).reshape(b * t, c, h, w).contiguous()
    y = F.conv2d(frames, taps.contiguous(), None, stride, padding)
    y = y.reshape(b, t, kt, out_channels, *y.shape[2:])
    half = kt // 2
    out = y[:, :, half].clone()
    for k in range(kt):  # out[t] += tap k of frame t + k - half
        if k != half:
            lo, hi = max(0, half - k), min(t, t + half - k)
            out[:, lo:hi] += y[:, lo + k - half: hi + k - half, k]
    if bias is not None:
        out += bias.view(1, 1, -1, 1, 1)
    return out.transpose(1, 2).contiguous(memory_format=torch.channels_last_3d)


class ConvBNAct3d(nn.Sequential):
    """Conv3d (no bias, 'same' padding) -> BN -> activation; ``act=None`` for none."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int], stride=(1, 1, 1),
                 groups: int = 1, act: type[nn.Module] | None = nn.ReLU):
        padding = tuple(k // 2 for k in kernel)
        layers = [Conv3d(cin, cout, kernel, stride, padding, groups=groups, bias=False), nn.BatchNorm3d(cout)]
        super().__init__(*layers, *([act(inplace=True)] if act else []))


def inflate_kernel(weight2d: torch.Tensor, temporal_kernel: int, mode: str = "centre") -> torch.Tensor:
    """(O, I, kh, kw) -> (O, I, kt, kh, kw), I3D-style inflation of a 2D kernel.

    ``centre``: the 2D kernel at the centre tap, zeros elsewhere: the 3D conv computes the
    2D conv on every frame, exactly (also at clip borders). ``mean``: the kernel divided by
    ``kt`` on every tap (I3D's "boring video" rule): same output on a static clip.
    """
    if mode == "mean":
        return weight2d.unsqueeze(2).repeat(1, 1, temporal_kernel, 1, 1) / temporal_kernel
    if mode == "centre":
        out = weight2d.new_zeros(weight2d.shape[:2] + (temporal_kernel,) + weight2d.shape[2:])
        out[:, :, temporal_kernel // 2] = weight2d
        return out
    raise ValueError(f"inflate must be 'centre' or 'mean', got {mode!r}")


def inflate_state_dict(module3d: nn.Module, state2d: dict, mode: str = "centre") -> dict:
    """The 2D ``state2d`` reshaped to ``module3d``'s state dict (same keys), ready to load.

    Conv kernels are inflated (:func:`inflate_kernel`); input channels that the 3D module
    has in excess (lateral fast->slow channels concatenated into slow) get zero weights, so
    the inflated network computes the 2D network on every frame until training moves them.
    """
    out = {}
    for key, target in module3d.state_dict().items():
        if key not in state2d:
            raise KeyError(f"{key} has no counterpart in the 2D state dict")
        src = state2d[key]
        if target.ndim == src.ndim + 1:
            src = inflate_kernel(src, target.shape[2], mode)
        if target.ndim > 1 and target.shape[1] > src.shape[1]:
            pad = src.new_zeros((src.shape[0], target.shape[1] - src.shape[1]) + tuple(src.shape[2:]))
            src = torch.cat([src, pad], dim=1)
        if src.shape != target.shape:
            raise ValueError(f"{key}: 2D shape {tuple(state2d[key].shape)} cannot become {tuple(target.shape)}")
        out[key] = src
    return out
