
import shlex

import pytest
import torch
import yaml

from pipeline.engine.vos import load_segmenter
from pipeline.models.complexity import complexity, count_macs, pathway_complexity
from pipeline.models.legacy import RENAMES
from pipeline.models.segmenter import build_segmenter
from pipeline.registry import MODELS, build
from tests.support import REPO

PARAMS = REPO / "params.yaml"
# `dvc exp run -S ...` rewrites the workspace params.yaml: these tests must hold for any of
# the README's experiments, not only for the committed values
EXPERIMENTS = {"as committed": {}, "pathways=fast": {"pathways": "fast"},
               "pathways=slow alpha=1": {"pathways": "slow", "backbone.alpha": 1},
               "beta_inv=8": {"backbone.beta_inv": 8}}


def workspace_model(changes: dict) -> dict:
    """The ``model:`` section of the workspace params.yaml with ``-S``-style changes."""
    cfg = yaml.safe_load(PARAMS.read_text())["model"]
    for key, value in changes.items():
        *path, last = key.split(".")
        node = cfg
        for part in path:
            node = node[part]
        node[last] = value
    return cfg


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_params_yaml_model_section_builds_and_round_trips(tmp_path, experiment):
    cfg = workspace_model(EXPERIMENTS[experiment])
    model = build(MODELS, cfg)  # nested type= dicts, in the sfvos scope
    assert type(model).__name__ == "SlowFastSegmenter" and model.pathways == cfg["pathways"]
    assert cfg["backbone"]["type"] == "SlowFastBackbone"  # build did not mutate the config
    path = tmp_path / "model.pth"
    torch.save({"state_dict": model.state_dict(), "model_cfg": cfg}, path)
    saved = torch.load(path, weights_only=True)
    again = build_segmenter(yaml.safe_load(yaml.safe_dump(saved["model_cfg"])))
    again.load_state_dict(saved["state_dict"], strict=True)
    clip = torch.randn(1, 4, 8, 32, 32)
    torch.testing.assert_close(again.eval()(clip), model.eval()(clip))


@pytest.mark.parametrize("pathways", ["slow", "fast", "slowfast"])
def test_pathways_key_switches_the_backbone(tiny_model_cfg, pathways):
    model = build_segmenter({**tiny_model_cfg, "pathways": pathways})
    names = {n.split(".")[1] for n, _ in model.backbone.named_parameters(prefix="b")}
    expected = {"slow": {"slow_pathway"}, "fast": {"fast_pathway"},
                "slowfast": {"slow_pathway", "fast_pathway", "laterals"}}
    assert names == expected[pathways]


def test_loss_and_predict_modes(tiny_model_cfg):
    tiny_model_cfg["loss"] = [{"type": "BalancedCrossEntropyLoss"}, {"type": "DiceLoss", "loss_weight": 0.5}]
    model = build_segmenter(tiny_model_cfg)
    clip, target = torch.randn(2, 4, 8, 32, 32), torch.randint(0, 2, (2, 8, 32, 32))
    losses = model(clip, target, mode="loss")
    assert set(losses) == {"loss_BalancedCrossEntropyLoss", "loss_DiceLoss"}
    probs = model(clip, mode="predict")
    torch.testing.assert_close(probs.sum(1), torch.ones(2, 8, 32, 32))
    with pytest.raises(ValueError, match="mode must be"):
        model(clip, mode="logits")


@pytest.mark.parametrize("refine_channels", [0, 4])
def test_a_loss_on_the_last_frame_alone_decodes_that_frame_and_changes_nothing(tiny_model_cfg,
                                                                                refine_channels):
    """One-shot fine-tuning labels only the clip's last frame: the loss decodes only it, with
    the loss and gradients of decoding every frame."""
    tiny_model_cfg["loss"] = [{"type": "BalancedCrossEntropyLoss"}, {"type": "DiceLoss", "loss_weight": 0.5}]
    tiny_model_cfg["decoder"]["refine_channels"] = refine_channels
    torch.manual_seed(0)
    model = build_segmenter(tiny_model_cfg)
    for m in model.modules():  # BN frozen, as fine-tuning has it
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    clip = torch.randn(2, 4, 8, 32, 32)
    target = torch.full((2, 8, 32, 32), 255)
    target[:, -1] = torch.randint(0, 2, (2, 32, 32))
    calls = []
    decode = model.decoder.forward
    model.decoder.forward = lambda *a, **k: calls.append(k["last_only"]) or decode(*a, **k)

    def loss_and_grads(loss):
        model.zero_grad()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    logits = model(clip, mode="tensor")
    full = loss_and_grads(sum(fn(logits, target) for fn in model.losses))
    last = loss_and_grads(sum(model(clip, target, mode="loss").values()))
    assert calls == [False, True]
    torch.testing.assert_close(last[0], full[0], rtol=1e-5, atol=1e-6)
    assert len(last[1]) == len(full[1])
    for a, b in zip(last[1], full[1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    model.decoder.refine[1].train()  # batch statistics: the other frames count, all decoded
    model(clip, target, mode="loss")
    assert calls[-1] is False
    model.decoder.refine[1].eval()
    target[0, 0, 0, 0] = 1  # one labelled pixel in an earlier frame: every frame is decoded
    model(clip, target, mode="loss")
    assert calls[-1] is False


@pytest.mark.parametrize("lite0", [False, True])
def test_a_channels_last_training_step_has_the_loss_and_gradients_of_a_contiguous_one(
        tiny_model_cfg, lite0):
    """Pretraining runs channels-last on the CPU (ChannelsLastHook): the same clip, BatchNorm
    on batch statistics, gives the same loss and gradients up to float rounding."""
    from tests.support import with_lite0

    cfg = with_lite0(tiny_model_cfg) if lite0 else tiny_model_cfg
    torch.manual_seed(0)
    model = build_segmenter(cfg).train()
    data = {"inputs": torch.randint(0, 256, (2, 4, 8, 32, 32), dtype=torch.uint8),
            "data_samples": torch.randint(0, 2, (2, 8, 32, 32))}

    def loss_and_grads():
        model.zero_grad()
        loss = sum(model(**model.data_preprocessor(data, True), mode="loss").values())
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    state = {k: v.clone() for k, v in model.state_dict().items()}  # BN running stats move
    contiguous = loss_and_grads()
    model.load_state_dict(state)
    model.to(memory_format=torch.channels_last_3d)
    model.data_preprocessor.memory_format = torch.channels_last_3d
    assert model.data_preprocessor(data, True)["inputs"].is_contiguous(
        memory_format=torch.channels_last_3d)
    channels_last = loss_and_grads()
    torch.testing.assert_close(channels_last[0], contiguous[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(channels_last[1], contiguous[1]):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("pathways", ["slow", "fast", "slowfast"])
@pytest.mark.parametrize("refine_channels", [0, 4])
def test_predict_last_is_the_last_frame_of_predict(tiny_model_cfg, pathways, refine_channels):
    """Propagation decodes only the frame it predicts; the answer must not change."""
    tiny_model_cfg["pathways"] = pathways
    tiny_model_cfg["decoder"]["refine_channels"] = refine_channels
    torch.manual_seed(0)
    model = build_segmenter(tiny_model_cfg).eval()
    for m in model.modules():  # non-trivial BN and refinement weights
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1)
        if isinstance(m, torch.nn.Conv3d) and not m.weight.abs().sum():
            torch.nn.init.normal_(m.weight, std=0.5)
    clip = torch.randn(3, 4, 7, 32, 32)
    with torch.no_grad():
        full, last = model(clip, mode="predict"), model(clip, mode="predict_last")
    assert last.shape == (3, 2, 1, 32, 32)
    assert (full[:, :, -2] - full[:, :, -1]).abs().max() > 1e-3  # frames differ: a real check
    torch.testing.assert_close(last, full[:, :, -1:], rtol=1e-5, atol=1e-6)


def test_prior_channel_is_scaled_and_reaches_the_decoder_at_half_resolution(tiny_model_cfg):
    model = build_segmenter(tiny_model_cfg).eval()
    assert model.backbone.in_channels == 4 and model.decoder.prior_fuse is not None
    clip = torch.zeros(1, 4, 8, 32, 32, dtype=torch.uint8)
    clip[:, 3, :, 8:24, 8:24] = 255
    x = model.data_preprocessor({"inputs": clip})["inputs"]
    assert x[0, 3].unique().tolist() == [-1.0, 1.0]  # background -1, object +1
    other = x.clone()
    other[:, 3] = -other[:, 3]  # another prior, same images: another answer
    assert not torch.allclose(model(x), model(other))


def test_bad_crop_size_fails_clearly(tiny_model_cfg):
    with pytest.raises(ValueError, match="crop_size must be >= 8"):  # 1/8 after 2 stages
        build_segmenter({**tiny_model_cfg, "crop_size": 4})


def test_mac_count_matches_a_hand_computed_conv():
    conv = torch.nn.Conv3d(3, 8, (3, 5, 5), padding=(1, 2, 2), bias=False)
    out_voxels = 8 * 4 * 16 * 16  # C_out * T * H * W
    assert count_macs(conv, (1, 3, 4, 16, 16)) == out_voxels * 3 * 3 * 5 * 5


def test_complexity_per_pathway_variant(tiny_model_cfg):
    table = pathway_complexity(tiny_model_cfg, frames=8, height=32, width=32)
    assert set(table) == {"slow", "fast", "slowfast"}
    # Fast is the cheap pathway; slowfast holds both pathways plus the laterals.
    assert table["fast"]["params"] < table["slow"]["params"] < table["slowfast"]["params"]
    assert table["slowfast"]["gflops_per_clip"] > table["slow"]["gflops_per_clip"]
    one = complexity(build_segmenter({**tiny_model_cfg, "pathways": "fast"}), 8, 32, 32)
    assert one == table["fast"]
    assert one["gflops_per_frame"] == pytest.approx(one["gflops_per_clip"] / 8)


def imagenet_flags() -> list[str]:
    """The ``-S`` values of the README's ImageNet switch (also the Makefile's davis profile)."""
    readme = (REPO / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("- ImageNet appearance:"))
    args = shlex.split(line.split("`")[1])
    return [value for flag, value in zip(args, args[1:]) if flag == "-S"]


def test_the_makefiles_davis_profile_uses_the_readmes_imagenet_flags():
    makefile = " ".join((REPO / "Makefile").read_text().replace("\\\n", " ").split())
    assert len(imagenet_flags()) == 2
    assert all(f"-S '{flag}'" in makefile for flag in imagenet_flags())


@pytest.mark.parametrize("experiment", ["as committed", "pathways=fast", "beta_inv=8"])
def test_imagenet_variant_is_the_readmes_two_set_param_flags(tmp_path, experiment):
    """The README's flags, applied by DVC's own -S code, swap the slow pathway's whole
    sub-config (removing the light pathway's keys) and the result builds."""
    from dvc.utils.hydra import apply_overrides

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"model": workspace_model(EXPERIMENTS[experiment])}))
    apply_overrides(params, imagenet_flags())
    cfg = yaml.safe_load(params.read_text())["model"]
    assert cfg["backbone"]["slow_pathway"] == {"type": "EfficientNetLite0Pathway", "init": "imagenet"}
    cfg["pathways"] = "slowfast"  # the lateral channels below need both pathways
    model = build_segmenter(cfg)
    # Lite0 trunk channels 16, 24, 40, 112 plus 2 * C/beta_inv lateral channels
    beta_inv = cfg["backbone"]["beta_inv"]
    assert model.backbone.slow_channels == [c + 2 * (c // beta_inv) for c in (16, 24, 40, 112)]
    torch.testing.assert_close(model.data_preprocessor.mean.flatten(), torch.full((3,), 127 / 255))
    assert model(torch.randn(1, 4, 8, 32, 32)).shape == (1, 2, 8, 32, 32)


def test_a_checkpoint_of_the_flat_backbone_layout_loads_as_the_same_network(tmp_path, tiny_model_cfg):
    """Checkpoints written before the pathways were sub-configs (the two-pathway parent is one)."""
    model = build_segmenter(tiny_model_cfg).eval()
    slow, fast = (tiny_model_cfg["backbone"][k] for k in ("slow_pathway", "fast_pathway"))
    flat = {"type": "SlowFastBackbone", "alpha": 2, "beta_inv": 4, "stem_width": slow["stem_width"],
            "widths": slow["widths"], "depths": slow["depths"],
            "slow_temporal_kernels": slow["temporal_kernels"], "fast_temporal_kernel": 3}
    assert fast == {"type": "ResNet3dPathway", "stem_temporal_kernel": 5, "depths": slow["depths"],
                    "temporal_kernels": [3, 3]}  # what the flat keys meant
    new_to_old = {new: old for old, new in RENAMES.items()}
    state = {}
    for key, value in model.state_dict().items():
        prefix = next((n for n in new_to_old if key.startswith(n)), None)
        state[new_to_old[prefix] + key[len(prefix):] if prefix else key] = value
    assert any(k.startswith("backbone.slow_stem.") for k in state)
    save = {"state_dict": state, "model_cfg": dict(tiny_model_cfg, backbone=flat), "meta": {}}
    torch.save(save, tmp_path / "old.pth")
    loaded = load_segmenter(tmp_path / "old.pth").eval()
    assert loaded.backbone.slow_pathway.stem[0].weight.shape == (8, 4, 1, 7, 7)
    clip = torch.randn(1, 4, 8, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(clip), model(clip))
