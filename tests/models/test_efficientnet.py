import pytest
import torch
import torch.nn.functional as F

from pipeline.models.efficientnet import (
    EfficientNetLite0,
    EfficientNetLite0Pathway,
    load_lite0_state_dict,
    trunk_ends,
)
from pipeline.models.layers import inflate_kernel
from pipeline.models.segmenter import build_segmenter
from pipeline.models.slowfast import SlowFastBackbone
from tests.support import with_lite0

skimage_data = pytest.importorskip("skimage.data")

# ImageNet-1k indices: 281 tabby, 282 tiger cat, 285 Egyptian cat; 967 espresso, 968 cup.
CATS, CUPS = {281, 282, 285}, {967, 968}


@pytest.fixture(scope="module")
def lite0():
    return EfficientNetLite0.from_imagenet().eval()


def test_state_dict_loads_strictly_with_the_published_size(lite0):
    state = load_lite0_state_dict()
    assert set(state) == set(lite0.state_dict())
    trainable = sum(p.numel() for p in lite0.parameters())
    assert trainable == sum(v.numel() for k, v in state.items()
                            if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert 4.6e6 < trainable < 4.7e6


def _photo(image) -> torch.Tensor:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    return (x - 127.0) / 128.0  # Lite0's normalisation


@pytest.mark.parametrize("photo,classes", [("chelsea", CATS), ("coffee", CUPS)])
def test_imagenet_weights_classify_sample_photos(lite0, photo, classes):
    with torch.no_grad():
        probs = lite0(_photo(getattr(skimage_data, photo)())).softmax(1)[0]
    assert int(probs.argmax()) in classes
    assert float(probs[list(classes)].sum()) > 0.5


def test_random_weights_do_not_classify_the_cat():
    """The test above depends on the weights, not on the photo being easy."""
    torch.manual_seed(0)
    with torch.no_grad():
        probs = EfficientNetLite0().eval()(_photo(skimage_data.chelsea())).softmax(1)[0]
    assert float(probs[list(CATS)].sum()) < 0.1


def _lite0_2d_scales(net: EfficientNetLite0, frames: torch.Tensor, ends) -> list[torch.Tensor]:
    """The 2D network's features at the trunk's scale ends, for (N, 3, H, W) frames."""
    x = net.act(net._bn0(net._conv_stem(frames)))
    out = []
    for i, block in enumerate(net._blocks[: ends[-1]]):
        x = block(x)
        if i + 1 in ends:
            out.append(x)
    return out


@pytest.mark.parametrize("pathways,stages", [("slow", 3), ("slowfast", 3), ("slow", 4), ("slowfast", 4)])
def test_inflated_slow_pathway_is_the_2d_network_on_each_slow_frame(lite0, pathways, stages):
    """Centre inflation + zero lateral weights: the 3D slow pathway at initialisation equals
    the 2D ImageNet network run frame by frame (also with temporal kernel 3 and laterals),
    down to 1/16 or, with ``stages=4``, 1/32."""
    fast = {"type": "ResNet3dPathway", "depths": [1] * stages, "temporal_kernels": [3] * stages}
    model = SlowFastBackbone(pathways=pathways, alpha=2, fast_pathway=fast, slow_pathway={
        "type": "EfficientNetLite0Pathway", "init": "imagenet", "stages": stages,
        "temporal_kernels": [1, 3, 3, 3][:stages]}).eval()
    assert model.num_scales == stages + 1
    clip = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        feats = model(clip)
        frames = clip[0, :, 1::2].transpose(0, 1)  # (T/alpha, 3, H, W), ending at the last frame
        ref = _lite0_2d_scales(lite0, frames, trunk_ends(stages))
    assert len(feats) == len(ref) == stages + 1
    assert ref[-1].shape[1] == (320 if stages == 4 else 112)
    for (slow, _), expected in zip(feats, ref):
        got = slow[0, : expected.shape[1]].transpose(0, 1)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_mean_inflation_keeps_a_static_clip_response():
    w = torch.randn(4, 2, 3, 3)
    clip = torch.randn(1, 2, 1, 9, 9).repeat(1, 1, 5, 1, 1)
    out3d = F.conv3d(clip, inflate_kernel(w, 3, "mean"), padding=(1, 1, 1))[:, :, 2]
    torch.testing.assert_close(out3d, F.conv2d(clip[:, :, 0], w, padding=1), rtol=1e-4, atol=1e-4)


def test_imagenet_variant_uses_lite0_normalisation_and_can_learn_laterals(tiny_model_cfg):
    cfg = with_lite0(tiny_model_cfg)
    cfg["backbone"]["alpha"] = 4
    model = build_segmenter(cfg)
    pre = model.data_preprocessor({"inputs": torch.full((1, 3, 4, 64, 64), 127, dtype=torch.uint8)})
    assert pre["inputs"].abs().max() < 1e-6  # (127 - 127) / 128
    clip, target = torch.randn(1, 4, 4, 64, 64), torch.randint(0, 2, (1, 4, 64, 64))
    sum(model(clip, target, mode="loss").values()).backward()
    expand = model.backbone.slow_pathway.stages[0][0]._expand_conv
    lateral_in = expand.weight[:, 16:]  # the 2*C_fast lateral channels after Lite0's 16
    assert lateral_in.abs().sum() == 0 and expand.weight.grad[:, 16:].abs().sum() > 0


def test_a_fourth_stage_is_checked_and_trains_end_to_end(tiny_model_cfg):
    with pytest.raises(ValueError, match="stages must be 3"):
        EfficientNetLite0Pathway(stages=5)
    with pytest.raises(ValueError, match="needs 4 temporal kernels"):
        EfficientNetLite0Pathway(stages=4, temporal_kernels=(1, 1, 3))
    cfg = with_lite0(tiny_model_cfg)
    cfg["pathways"] = "slow"
    cfg["backbone"]["slow_pathway"]["stages"] = 4
    model = build_segmenter(cfg)
    assert model.backbone.num_scales == 5 and len(model.decoder.lateral) == 5
    clip, target = torch.randn(1, 4, 4, 64, 64), torch.randint(0, 2, (1, 4, 64, 64))
    sum(model(clip, target, mode="loss").values()).backward()
    deep = model.backbone.slow_pathway.stages[3][-1]._project_conv.weight
    assert deep.grad is not None and deep.grad.abs().sum() > 0
