"""`sfvos` commands on bad input: one line on stderr, exit 2, checked before expensive work."""
from __future__ import annotations

import pickle

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from pipeline.data.davis import read_mask_as_ids, write_palette_png
from pipeline.engine.checkpoint import save_model
from pipeline.engine.segment import read_first_mask
from pipeline.models import build_segmenter
from stages.cli import app
from tests.support import TINY_MODEL
from tests.support import make_root

H, W = 32, 48


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    for t in range(4):
        iio.imwrite(folder / f"{t:05d}.png", np.full((H, W, 3), 40 * t, np.uint8))
    return folder


@pytest.fixture(scope="module")
def mask(tmp_path_factory):
    path = tmp_path_factory.mktemp("mask") / "mask.png"
    ids = np.zeros((H, W), np.uint8)
    ids[8:20, 8:24] = 1
    write_palette_png(path, ids)
    return path


def invoke(*args, env=None):
    """(exit code, stderr lines) of ``sfvos ARGS``."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line(code, err, *words):
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    for w in words:
        assert w in err[0], err[0]


def _truncated(path, good):
    path.write_bytes(good.read_bytes()[:200])


def _pickle_with_code(path, good):
    class Payload:  # unpickling calls os.system: a weights-only load never does
        def __reduce__(self):
            import os
            return os.system, (f"touch {path.parent / 'pwned'}",)

    path.write_bytes(pickle.dumps({"state_dict": Payload(), "model_cfg": {}}))


def _not_ours(path, good):
    torch.save({"conv.weight": torch.zeros(2, 2)}, path)


def _other_model(path, good):
    state = torch.load(good, weights_only=True)
    state["model_cfg"] = dict(state["model_cfg"], pathways="fast")
    torch.save(state, path)


def _nan_weights(path, good):
    state = torch.load(good, weights_only=True)
    name = next(iter(state["state_dict"]))
    state["state_dict"][name] = torch.full_like(state["state_dict"][name], float("nan"))
    torch.save(state, path)


CHECKPOINTS = {
    "truncated checkpoint": (_truncated, "not a readable torch checkpoint"),
    "checkpoint pickling code": (_pickle_with_code, "refused: the file holds Python objects"),
    "checkpoint not of this pipeline": (_not_ours, "not a checkpoint of this pipeline"),
    "weights not fitting their config": (_other_model, "do not fit its model config"),
    "checkpoint with NaN weights": (_nan_weights, "holds NaN or infinite values"),
}


@pytest.mark.parametrize("case", CHECKPOINTS)
def test_bad_checkpoint_one_line_before_the_video_is_read(case, checkpoint, mask, tmp_path):
    damage, words = CHECKPOINTS[case]
    bad = tmp_path / "bad.pth"
    damage(bad, checkpoint)
    # the video does not exist: the checkpoint must be refused first
    code, err = invoke("segment", tmp_path / "no.mp4", "--mask", mask, "--out", tmp_path / "o",
                       "--checkpoint", bad)
    assert_one_line(code, err, str(bad), words)
    assert not (tmp_path / "pwned").exists()


OPTIONS = {
    "negative steps": (("--steps", -5), "--steps -5: must be >= 0"),
    "no clips per step": (("--batch-size", 0), "--batch-size 0: fine-tuning clips per step"),
    "negative frozen scales": (("--frozen-scales", -1), "--frozen-scales -1: must be >= 0"),
    "more frozen scales than the backbone has": (("--frozen-scales", 9), "backbone has 3 scales; give 0 to 3"),
    "out is a file": (("--out", "FILE"), "is a file; give a folder"),
    "flip share above 1": (("--flip-uncertain", 2), "--flip-uncertain 2.0: a share of a crop's pixels"),
    "appearance vote above 1": (("--appearance-vote", 1.5), "--appearance-vote 1.5: a share"),
    "negative appearance update": (("--appearance-update", -1), "--appearance-update -1: frames between"),
    "edge window beyond the frame": (("--edge-refine", 1.5), "--edge-refine 1.5: a share of the frame's diagonal"),
    "negative refind area": (("--refind-area", -0.5), "--refind-area -0.5: a share of the object's given area"),
    "motion check beyond the frame": (("--motion-check", 2), "--motion-check 2.0: a share of the frame's diagonal"),
    "working size under 16": (("--height", 8), "--height 8: the working size must be >= 16"),
    "no such device": (("--device", "tpu9"), "--device tpu9"),
    "unknown pathways": (("--pathways", "bogus"), "--pathways bogus: not one of slow, fast, slowfast"),
}


@pytest.mark.parametrize("case", OPTIONS)
def test_bad_options_refused_before_any_work(case, checkpoint, mask, tmp_path):
    (option, value), words = OPTIONS[case]
    target = tmp_path / "o"
    if value == "FILE":
        target.write_text("my notes")
    args = ["--out", target] if option == "--out" else ["--out", target, option, value]
    code, err = invoke("segment", tmp_path / "no.mp4", "--mask", mask, "--checkpoint", checkpoint, *args)
    assert_one_line(code, err, words)
    assert value != "FILE" or target.read_text() == "my notes"


def test_fine_tuning_options_reach_the_config(checkpoint, mask, frames, tmp_path, monkeypatch):
    from pipeline.engine import segment

    seen = {}

    def record(*args):  # the config segment_video is given, then stop before any work
        seen["cfg"] = args[4]
        raise RuntimeError("stopped by the test")

    monkeypatch.setattr(segment, "segment_video", record)
    invoke("segment", frames, "--mask", mask, "--out", tmp_path / "o", "--checkpoint", checkpoint,
           "--steps", 7, "--batch-size", 4, "--frozen-scales", 1)
    cfg = seen["cfg"]
    assert (cfg.steps, cfg.batch_size, cfg.frozen_scales) == (7, 4, 1)


def test_cuda_without_cuda_is_one_line(checkpoint, mask, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, err = invoke("segment", tmp_path / "no.mp4", "--mask", mask, "--out", tmp_path / "o",
                       "--checkpoint", checkpoint, "--device", "cuda")
    assert_one_line(code, err, "--device cuda: CUDA is not available")


def test_unreadable_video_is_one_line_without_the_ffmpeg_banner(checkpoint, mask, tmp_path):
    video = tmp_path / "bad.mp4"
    video.write_bytes(b"\x00" * 4096)
    code, err = invoke("segment", video, "--mask", mask, "--out", tmp_path / "o", "--checkpoint",
                       checkpoint)
    assert_one_line(code, err, "cannot read the video")
    assert "ffmpeg version" not in err[0] and len(err[0]) < 400


def _ellipse(h=64, w=96, cy=30, cx=40, ry=14, rx=22, colour=(230, 20, 20), canvas=None):
    """An anti-aliased ellipse (4x4 supersampling): edge pixels mix the colour with what is under."""
    yy, xx = np.mgrid[0:h * 4, 0:w * 4] / 4.0
    inside = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1).reshape(h, 4, w, 4).mean((1, 3))
    base = np.zeros((h, w, 3)) if canvas is None else canvas.astype(float)
    return np.round(base * (1 - inside[..., None]) + np.array(colour) * inside[..., None]).astype(np.uint8)


def test_rgb_masks_are_read_by_colour(tmp_path):
    one = _ellipse()
    assert len({tuple(c) for c in one.reshape(-1, 3)}) > 10  # many edge colours
    Image.fromarray(one).save(tmp_path / "one.png")
    ids = read_first_mask(tmp_path / "one.png", (64, 96))
    assert set(np.unique(ids)) == {0, 1}
    core = np.all(one == (230, 20, 20), -1)
    assert ids[core].min() == 1 and (ids[one.sum(-1) == 0] == 0).all()
    two = _ellipse(cy=40, cx=60, colour=(20, 200, 240), canvas=one)  # overlapping, edges mixed
    Image.fromarray(two).save(tmp_path / "two.png")
    ids = read_first_mask(tmp_path / "two.png", (64, 96))
    assert set(np.unique(ids)) == {0, 1, 2}
    palette = np.zeros((64, 96), np.uint8)
    palette[5:20, 5:20], palette[30:50, 30:60], palette[50:60, 70:90] = 1, 2, 3
    write_palette_png(tmp_path / "pal.png", palette)  # DAVIS colours saved as RGB: its ids
    Image.open(tmp_path / "pal.png").convert("RGB").save(tmp_path / "pal_rgb.png")
    assert np.array_equal(read_first_mask(tmp_path / "pal_rgb.png", (64, 96)), palette)


def test_smoothed_grey_mask_is_refused(checkpoint, frames, tmp_path):
    grey = _ellipse(h=H, w=W, cy=16, cx=24, ry=8, rx=12, colour=(255, 255, 255))[..., 0]
    grey[grey > 0] = np.linspace(1, 254, int((grey > 0).sum())).astype(np.uint8)  # 254 levels
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    code, err = invoke("segment", frames, "--mask", tmp_path / "grey.png", "--out", tmp_path / "o",
                       "--checkpoint", checkpoint, "--steps", 0)
    assert_one_line(code, err, "grey levels")


def prior_copier(path):
    """A tiny segmenter whose answer is its prior mask: the decoder's last layers pass the
    prior channel through (the rest of the network is zeroed out)."""
    model = build_segmenter(TINY_MODEL).eval()
    fuse, head = model.decoder.prior_fuse[0], model.decoder.head
    with torch.no_grad():
        fuse.weight.zero_()
        fuse.weight[0, -1, 0, 1, 1] = 1.0  # output channel 0 <- the prior (+1 object, -1 not)
        head.weight.zero_()
        head.bias.zero_()
        head.weight[1, 0] = 10.0
        head.bias[1] = -5.0
    save_model(path, model, TINY_MODEL)
    return path


@pytest.mark.parametrize("flip", ["--flip", "--no-flip", "--bf16", "--flip-uncertain=0"])
def test_steps_0_propagates_every_object_of_a_multi_object_mask(tmp_path, flip):
    """Each object gets its own crop and prior: object 2 is predicted too (it used to be nowhere)."""
    root = make_root(tmp_path / "DAVIS", 2017, sequences=(("two", "val", 6),), objects=2)
    out = tmp_path / "out"
    code, err = invoke("segment", root / "JPEGImages/480p/two", "--mask",
                       root / "Annotations/480p/two/00000.png", "--out", out, "--checkpoint",
                       prior_copier(tmp_path / "copier.pth"), "--steps", 0, flip)
    assert code == 0, err
    for t in range(1, 6):
        pred, gt = read_mask_as_ids(out / f"{t:05d}.png"), read_mask_as_ids(
            root / f"Annotations/480p/two/{t:05d}.png")
        for k in (1, 2):
            inter, union = ((pred == k) & (gt == k)).sum(), ((pred == k) | (gt == k)).sum()
            assert inter / union > 0.5, (t, k, inter / union)


def test_evaluate_year_mismatch_is_one_line(tmp_path):
    root = make_root(tmp_path / "DAVIS", 2017, sequences=(("two", "val", 4),), objects=2)
    code, err = invoke("evaluate", root / "Annotations/480p", root, "--year", 2016)
    assert_one_line(code, err, "a DAVIS 2017 root", "scored with year 2016")


def test_evaluate_with_no_object_in_the_first_frame_is_one_line(tmp_path):
    root = make_root(tmp_path / "DAVIS", 2017, sequences=(("two", "val", 4),), objects=1)
    write_palette_png(root / "Annotations/480p/two/00000.png", np.zeros((H, W), np.uint8))
    code, err = invoke("evaluate", root / "Annotations/480p", root)
    assert_one_line(code, err, "00000.png: the first ground-truth frame holds no object")


def test_evaluate_zero_byte_result_is_one_line(tmp_path):
    root = make_root(tmp_path / "DAVIS", 2017, sequences=(("two", "val", 4),), objects=1)
    results = tmp_path / "res"
    for t in range(4):
        write_palette_png((results / "two").mkdir(parents=True, exist_ok=True) or
                          results / "two" / f"{t:05d}.png", np.zeros((H, W), np.uint8))
    (results / "two" / "00002.png").write_bytes(b"")
    code, err = invoke("evaluate", results, root, "--jobs", 1)
    assert_one_line(code, err, "00002.png: zero-byte file")


def test_report_outside_a_dvc_project_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = invoke("report")
    assert_one_line(code, err, "pass --input")
    (tmp_path / "show.json").write_text("{not json")
    code, err = invoke("report", "--input", tmp_path / "show.json")
    assert_one_line(code, err, "not the JSON of `dvc exp show --json`")


def test_debug_shows_the_traceback_and_bugs_keep_theirs(checkpoint, mask, tmp_path, monkeypatch):
    args = ["segment", tmp_path / "no.mp4", "--mask", mask, "--out", tmp_path / "o",
            "--checkpoint", checkpoint, "--steps", -5]
    monkeypatch.setenv("SFVOS_DEBUG", "0")  # restored (removed) after the test
    result = CliRunner().invoke(app, ["--debug", *map(str, args)])
    assert result.exit_code == 1 and type(result.exception).__name__ == "ConfigError"
    monkeypatch.setenv("SFVOS_DEBUG", "0")  # --debug set it to 1
    code, _ = invoke(*args)
    assert code == 2  # without --debug: one line again
    import pipeline.engine.segment as segment

    monkeypatch.setattr(segment, "VideoSource", lambda path: 1 / 0)  # a bug, not bad input
    result = CliRunner().invoke(app, [str(a) for a in args[:-2]])
    assert isinstance(result.exception, ZeroDivisionError)  # not swallowed into one line


def test_segment_option_defaults_are_the_finetune_defaults():
    """The CLI writes its fine-tuning defaults as literals (importing the config would load
    torch at start-up); they must stay those of ``FinetuneConfig``, which the README and
    ``make bench`` describe."""
    import inspect

    from pipeline.engine.osvos import FinetuneConfig
    from stages import segment

    options = inspect.signature(segment.main).parameters
    for name in ("steps", "frozen_scales"):
        assert options[name].default.default == getattr(FinetuneConfig(), name), name
