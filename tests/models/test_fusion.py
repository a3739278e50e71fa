"""Conv-BN folding for inference (pipeline.models.fusion)."""
import copy

import pytest
import torch

from pipeline.models import build_segmenter
from pipeline.models.fusion import fused_for_inference
from pipeline.models.layers import Conv3d, temporal_taps_conv3d
from tests.support import with_lite0


def _batchnorms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def _randomise_statistics(model, seed=0):
    """BN running statistics and affine terms far from the identity, so folding matters."""
    g = torch.Generator().manual_seed(seed)
    for bn in _batchnorms(model):
        n = bn.num_features
        bn.running_mean.copy_(torch.randn(n, generator=g))
        bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        bn.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
        bn.bias.data.copy_(torch.randn(n, generator=g))


@pytest.mark.parametrize("slow_pathway", ["ResNet3dPathway", "EfficientNetLite0Pathway"])
def test_folding_removes_every_batchnorm_and_keeps_the_output(tiny_model_cfg, slow_pathway):
    cfg = copy.deepcopy(tiny_model_cfg)
    if slow_pathway != "ResNet3dPathway":  # MBConv blocks declare their conv -> BN pairs
        cfg = with_lite0(cfg, init="none")
        cfg["crop_size"] = 64
    torch.manual_seed(0)
    model = build_segmenter(cfg)
    _randomise_statistics(model)
    model.eval()
    fused = fused_for_inference(model)
    assert len(_batchnorms(model)) > 5 and _batchnorms(fused) == []  # the original keeps its BNs
    assert any(isinstance(m, Conv3d) and m.taps_form for m in fused.modules())  # the fast stem
    x = torch.rand(2, 4, 4, cfg["crop_size"], cfg["crop_size"])
    with torch.no_grad():
        expected, got = model(x), fused(x)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel, stride, bias, batch, frames", [
    ((5, 7, 7), (1, 2, 2), False, 2, 8),  # the fast pathway's stem
    ((3, 5, 5), (1, 1, 1), True, 1, 3),
    ((3, 5, 5), (1, 2, 2), True, 3, 1),  # a clip shorter than the kernel: all padding
])
def test_the_temporal_taps_form_computes_the_3d_conv(kernel, stride, bias, batch, frames):
    torch.manual_seed(0)
    conv = Conv3d(4, 6, kernel, stride, tuple(k // 2 for k in kernel), bias=bias)
    assert conv.taps_form
    x = torch.randn(batch, 4, frames, 20, 26)
    expected = torch.nn.functional.conv3d(x, conv.weight, conv.bias, stride, conv.padding)
    got = temporal_taps_conv3d(x, conv.weight, conv.bias, stride[1:], conv.padding[1:])
    assert got.shape == expected.shape
    assert got.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_narrow_temporal_conv_takes_the_taps_form_only_when_its_weights_take_no_gradient():
    torch.manual_seed(0)
    conv = Conv3d(4, 4, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False)
    x = torch.randn(2, 4, 6, 24, 24)
    with torch.no_grad():  # prediction: the taps form (it returns channels-last clips)
        assert conv(x).is_contiguous(memory_format=torch.channels_last_3d)
    trained = conv(x)  # training it: the stock conv and its gradient
    assert trained.is_contiguous() and trained.requires_grad
    conv.requires_grad_(False)  # fine-tuning with the stem frozen: the taps form again
    frozen = conv(x)
    assert frozen.is_contiguous(memory_format=torch.channels_last_3d) and not frozen.requires_grad
    torch.testing.assert_close(frozen, trained.detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("conv", [
    Conv3d(4, 4, (1, 7, 7), padding=(0, 3, 3)),  # no temporal kernel: nothing to gain
    Conv3d(4, 4, (3, 7, 7), (2, 1, 1), (1, 3, 3)),  # temporal stride
    Conv3d(4, 4, (3, 7, 7), padding=(0, 3, 3)),  # no temporal padding
    Conv3d(4, 4, (3, 7, 7), padding=(1, 3, 3), groups=4),  # depthwise
    Conv3d(4, 64, (3, 7, 7), padding=(1, 3, 3)),  # wide: oneDNN's 3-D conv fills its vectors
    Conv3d(4, 6, (3, 3, 3), padding=1),  # a 3x3 kernel: the 3-D conv is faster
])
def test_the_temporal_taps_form_is_used_only_where_it_is_exact_and_pays(conv):
    assert not conv.taps_form
