"""Conv-BN folding for inference (pipeline.models.fusion)."""
import copy

import pytest
import torch

from pipeline.models import build_segmenter
from pipeline.models.fusion import fused_for_inference
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
    x = torch.rand(2, 4, 4, cfg["crop_size"], cfg["crop_size"])
    with torch.no_grad():
        expected, got = model(x), fused(x)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
