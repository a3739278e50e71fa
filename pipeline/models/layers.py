"""Building blocks shared by the backbones and the decoder (plain classes, not registered)."""
from __future__ import annotations

import torch
from torch import nn


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that always takes oneDNN (MKL-DNN) on the CPU.

    PyTorch sends a small CPU Conv3d of batch 1 (few channels, kernel <= 3: our whole
    inference case) to its naive ``slow_conv3d`` path, 5-10x slower than oneDNN on the same
    input; from batch 2 on it picks oneDNN itself, so only batch 1 is redirected. Same
    parameters, state dict and result; other devices and dtypes use the stock path.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.shape[0] > 1 or x.device.type != "cpu" or x.dtype != torch.float32
                or not torch.backends.mkldnn.is_available()):
            return super().forward(x)
        if not x.is_contiguous(memory_format=torch.channels_last_3d):
            x = x.contiguous()
        return torch.ops.aten.mkldnn_convolution(
            x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups
        )


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
