import pytest
import torch
import torch.nn.functional as F

from pipeline.models.layers import Conv3d
from pipeline.models.segmenter import build_segmenter
from pipeline.models.slowfast import SlowFastBackbone
from tests.support import FAST_3_STAGES


def backbone(model_cfg: dict, **kw) -> SlowFastBackbone:
    cfg = {k: v for k, v in model_cfg["backbone"].items() if k != "type"}
    return SlowFastBackbone(**{**cfg, **kw})


@pytest.mark.parametrize("pathways", ["slow", "fast", "slowfast"])
@pytest.mark.parametrize("frames,alpha", [(8, 1), (8, 2), (8, 4), (8, 8), (6, 4), (5, 2)])
def test_feature_and_logit_shapes(tiny_model_cfg, pathways, frames, alpha):
    tiny_model_cfg["backbone"]["alpha"] = alpha
    model = build_segmenter({**tiny_model_cfg, "pathways": pathways}).eval()
    clip = torch.randn(2, 4, frames, 32, 48)
    feats = model.backbone(clip)
    slow_frames = -(-frames // alpha)
    cfg = tiny_model_cfg["backbone"]
    slow_w = [cfg["slow_pathway"]["stem_width"], *cfg["slow_pathway"]["widths"]]  # 8, 8, 16
    fast_w = [w // cfg["beta_inv"] for w in slow_w]
    assert len(feats) == len(slow_w)
    for scale, (slow, fast) in enumerate(feats):
        hw = (32 // 2 ** (scale + 1), 48 // 2 ** (scale + 1))
        if pathways == "fast":
            assert slow is None
        else:
            lateral = 2 * fast_w[scale] if pathways == "slowfast" else 0
            assert slow.shape == (2, slow_w[scale] + lateral, slow_frames, *hw)
        if pathways == "slow":
            assert fast is None
        else:
            assert fast.shape == (2, fast_w[scale], frames, *hw)
    assert model(clip).shape == (2, 2, frames, 32, 48)  # a mask for every input frame


@pytest.mark.parametrize("pathways", ["slow", "slowfast"])
def test_clip_shorter_than_alpha_fails_at_entry(tiny_model_cfg, pathways):
    model = build_segmenter({**tiny_model_cfg, "pathways": pathways})
    with pytest.raises(ValueError, match="shorter than alpha=2"):
        model(torch.randn(1, 4, 1, 32, 32))


def test_fast_pathway_takes_any_clip_length(tiny_model_cfg):
    model = build_segmenter({**tiny_model_cfg, "pathways": "fast"})
    assert model(torch.randn(1, 4, 1, 32, 32)).shape == (1, 2, 1, 32, 32)


def test_too_small_frames_and_bad_options_fail_clearly(tiny_model_cfg):
    with pytest.raises(ValueError, match="too small; need >= 8"):  # 1/8 after 2 stages
        backbone(tiny_model_cfg)(torch.randn(1, 3, 8, 4, 64))
    with pytest.raises(ValueError, match="expected a clip"):
        backbone(tiny_model_cfg)(torch.randn(3, 8, 32, 32))
    with pytest.raises(ValueError, match="pathways must be one of"):
        backbone(tiny_model_cfg, pathways="both")
    slow = tiny_model_cfg["backbone"]["slow_pathway"]
    with pytest.raises(TypeError, match="init"):  # the light pathway has no pretrained weights
        backbone(tiny_model_cfg, slow_pathway=dict(slow, init="imagenet"))
    with pytest.raises(ValueError, match="one entry per stage"):
        backbone(tiny_model_cfg, slow_pathway=dict(slow, depths=[1]))
    with pytest.raises(ValueError, match=r"fast_pathway: depths needs one entry per stage of the slow pathway \(2\)"):
        backbone(tiny_model_cfg, fast_pathway=FAST_3_STAGES)
    with pytest.raises(ValueError, match="fast_pathway takes no stem_width"):
        backbone(tiny_model_cfg, fast_pathway=dict(FAST_3_STAGES, widths=[4, 4]))
    with pytest.raises(ValueError, match="'Nope' is not a registered pathway"):
        backbone(tiny_model_cfg, slow_pathway={"type": "Nope"})
    with pytest.raises(ValueError, match="'SlowFastBackbone' is not a registered pathway"):
        backbone(tiny_model_cfg, slow_pathway={"type": "SlowFastBackbone"})


def test_gradients_reach_both_pathways_and_every_lateral(tiny_model_cfg):
    model = build_segmenter(tiny_model_cfg)
    clip = torch.randn(2, 4, 8, 32, 32)
    target = torch.randint(0, 2, (2, 8, 32, 32))
    sum(model(clip, target, mode="loss").values()).backward()
    bb = model.backbone
    parts = {"slow_stem": bb.slow_pathway.stem, "fast_stem": bb.fast_pathway.stem,
             **{f"lateral{i}": lat for i, lat in enumerate(bb.laterals)}}
    assert len(bb.laterals) == 3  # after the stem and after each of the 2 stages
    for name, module in parts.items():
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name


def test_slow_alpha_1_is_a_per_frame_network(tiny_model_cfg):
    """alpha=1 with temporal kernel 1 everywhere: each frame is segmented on its own."""
    slow = dict(tiny_model_cfg["backbone"]["slow_pathway"], temporal_kernels=[1, 1])
    model = backbone(tiny_model_cfg, pathways="slow", alpha=1, slow_pathway=slow).eval()
    clip = torch.randn(1, 3, 8, 32, 32)
    alone = model(clip[:, :, 3:4])[-1][0]
    in_clip = model(clip)[-1][0][:, :, 3:4]
    torch.testing.assert_close(alone, in_clip)


@pytest.mark.parametrize("kernel,groups,stride", [((3, 3, 3), 1, (1, 1, 1)), ((1, 5, 5), 8, (1, 2, 2)),
                                                  ((5, 1, 1), 1, (4, 1, 1))])
def test_onednn_conv3d_matches_reference_forward_and_backward(kernel, groups, stride):
    conv = Conv3d(8, 16, kernel, stride, tuple(k // 2 for k in kernel), groups=groups)
    x = torch.randn(1, 8, 8, 12, 12, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out = conv(x)
    ref = F.conv3d(x_ref, conv.weight, conv.bias, conv.stride, conv.padding, groups=groups)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    w_grad = torch.autograd.grad(out.square().sum(), [x, conv.weight])
    w_ref = torch.autograd.grad(ref.square().sum(), [x_ref, conv.weight])
    for g, r in zip(w_grad, w_ref):
        torch.testing.assert_close(g, r, rtol=1e-3, atol=1e-3)


def test_frame_differences_replace_the_frames_and_keep_the_prior():
    from pipeline.models.slowfast import frame_differences

    x = torch.randn(2, 4, 5, 8, 8)
    d = frame_differences(x)
    assert torch.equal(d[:, :3, 0], torch.zeros_like(d[:, :3, 0]))
    assert torch.allclose(d[:, :3, 1:], x[:, :3, 1:] - x[:, :3, :-1])
    assert torch.equal(d[:, 3], x[:, 3])


@pytest.mark.parametrize("fast_input,invariant", [("diff", True), ("rgb", False)])
def test_a_fast_pathway_on_motion_ignores_a_constant_brightness_change(tiny_model_cfg, fast_input,
                                                                       invariant):
    """Frame differences cancel what every frame shares: the fast pathway on ``diff`` gives the
    same features when all frames are brighter; the slow pathway still sees appearance."""
    torch.manual_seed(0)
    net = backbone(tiny_model_cfg, pathways="slowfast", in_channels=4, fast_input=fast_input).eval()
    clip = torch.randn(1, 4, 8, 32, 32)
    brighter = clip.clone()
    brighter[:, :3] += 0.5
    with torch.no_grad():
        a, b = net(clip), net(brighter)
    same_fast = all(torch.allclose(fa, fb, atol=1e-5) for (_, fa), (_, fb) in zip(a, b))
    assert same_fast == invariant
    assert not torch.allclose(a[-1][0], b[-1][0], atol=1e-5)  # slow features see the change
    with pytest.raises(ValueError, match="fast_input"):
        backbone(tiny_model_cfg, fast_input="flow")
