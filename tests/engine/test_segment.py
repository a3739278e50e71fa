"""`sfvos segment` on a user's video: a real DAVIS sequence turned into an mp4."""
from __future__ import annotations

import csv

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.support import FRAGMENT_2017 as DAVIS17
from tests.support import SAMPLE_2016 as DAVIS16
from tests.support import TINY_MODEL
from pipeline.data.davis import read_mask, read_mask_as_ids
from pipeline.engine.checkpoint import save_model
from pipeline.models import build_segmenter
from pipeline.visualize import write_video
from pipeline.weights import PARENT_CHECKPOINT
from stages.cli import app

needs_davis = pytest.mark.skipif(not DAVIS16.is_dir(), reason=f"real DAVIS sample absent: {DAVIS16}")
runner = CliRunner()
SHIPPED_J_BAR = 0.8


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pth"
    cfg = dict(TINY_MODEL, decoder={"type": "MultiScaleMaskDecoder", "channels": 16})
    save_model(path, build_segmenter(cfg), cfg)
    return path


def _invoke(*args):
    return runner.invoke(app, ["segment", *map(str, args)])


@needs_davis
def test_segment_real_video_against_ground_truth(tmp_path, checkpoint):
    seq, n = "blackswan", 16
    frames = np.stack([iio.imread(DAVIS16 / "JPEGImages/480p" / seq / f"{t:05d}.jpg") for t in range(n)])
    video = tmp_path / "blackswan.mp4"
    write_video(video, frames, fps=24)
    mask = DAVIS16 / "Annotations/480p" / seq / "00000.png"
    out = tmp_path / "out"
    result = _invoke(video, "--mask", mask, "--out", out, "--checkpoint", checkpoint,
                     "--steps", 150, "--frozen-scales", 0, "--height", 96)
    assert result.exit_code == 0, result.output
    assert f"segmented {n} frames" in result.output
    assert (out / "overlay.mp4").stat().st_size > 0
    pred = np.stack([read_mask_as_ids(out / f"{t:05d}.png") for t in range(n)])
    gt = np.stack([read_mask(DAVIS16 / "Annotations/480p" / seq / f"{t:05d}.png", 2016)
                   for t in range(n)]) > 0
    inter = np.logical_and(pred[1:] > 0, gt[1:]).sum((1, 2))
    union = np.logical_or(pred[1:] > 0, gt[1:]).sum((1, 2))
    j = float(np.mean(inter / union))
    # The bar: a one-shot fine-tune of an untrained tiny net must still roughly follow the
    # swan (measured 0.52; an all-background or all-object answer scores under 0.1).
    print(f"J={j:.3f}")
    assert j > 0.4, f"J={j:.3f}"
    rows = list(csv.reader((out / "areas.csv").open()))
    assert rows[0] == ["frame", "object_1"] and len(rows) == n + 1
    assert int(rows[3][1]) == int((pred[2] == 1).sum())


def test_errors_are_one_line_with_exit_code_2(tmp_path, checkpoint):
    frames = np.zeros((4, 32, 48, 3), np.uint8)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, f in enumerate(frames):
        iio.imwrite(folder / f"{t:05d}.png", f)
    small = tmp_path / "small.png"
    iio.imwrite(small, np.ones((16, 16), np.uint8))
    empty = tmp_path / "empty.png"
    iio.imwrite(empty, np.zeros((32, 48), np.uint8))
    bad_video = tmp_path / "bad.mp4"
    bad_video.write_bytes(b"not a video")
    cases = [
        ((folder, "--mask", small, "--checkpoint", checkpoint), "16x16 but the video's frames are 48x32"),
        ((folder, "--mask", empty, "--checkpoint", checkpoint), "the mask is empty"),
        ((bad_video, "--mask", empty, "--checkpoint", checkpoint), "cannot read the video"),
        ((folder, "--mask", empty, "--checkpoint", tmp_path / "none.pth"), "make repro"),
    ]
    for args, message in cases:
        result = _invoke(*args, "--out", tmp_path / "o")
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output


@needs_davis
@pytest.mark.skipif(not PARENT_CHECKPOINT.is_file(), reason=f"no shipped parent: {PARENT_CHECKPOINT}")
def test_shipped_parent_segments_a_real_val_video_without_training(tmp_path):
    """The default checkpoint, no fine-tuning, on a DAVIS 2016 val sequence it never saw."""
    seq, n = "car-shadow", 20
    frames = np.stack([iio.imread(DAVIS16 / "JPEGImages/480p" / seq / f"{t:05d}.jpg") for t in range(n)])
    video = tmp_path / f"{seq}.mp4"
    write_video(video, frames, fps=24)
    out = tmp_path / "out"
    result = _invoke(video, "--mask", DAVIS16 / "Annotations/480p" / seq / "00000.png", "--out", out,
                     "--steps", 0)
    assert result.exit_code == 0, result.output
    pred = np.stack([read_mask_as_ids(out / f"{t:05d}.png") for t in range(1, n)]) > 0
    gt = np.stack([read_mask(DAVIS16 / "Annotations/480p" / seq / f"{t:05d}.png", 2016)
                   for t in range(1, n)]) > 0
    j = float(np.mean((pred & gt).sum((1, 2)) / (pred | gt).sum((1, 2))))
    print(f"J={j:.3f}")
    assert j > SHIPPED_J_BAR, f"J={j:.3f}"




@pytest.mark.skipif(not DAVIS17.is_dir(), reason=f"DAVIS 2017 fragment absent: {DAVIS17}")
@pytest.mark.skipif(not PARENT_CHECKPOINT.is_file(), reason=f"no shipped parent: {PARENT_CHECKPOINT}")
def test_shipped_parent_propagates_each_object_of_a_2017_palette_mask(tmp_path):
    """Multi-object: tennis (player and racket, palette ids 1, 2) from frame 0 to frame 1."""
    out = tmp_path / "out"
    result = _invoke(DAVIS17 / "JPEGImages/480p/tennis", "--mask",
                     DAVIS17 / "Annotations/480p/tennis/00000.png", "--out", out, "--steps", 0)
    assert result.exit_code == 0, result.output
    assert "2 object(s)" in result.output
    pred = read_mask_as_ids(out / "00001.png")
    gt0, gt = (read_mask(DAVIS17 / f"Annotations/480p/tennis/{t:05d}.png", 2017) for t in (0, 1))
    iou = lambda a, b: (a & b).sum() / (a | b).sum()
    # Each object follows its own motion: better than its frame-0 mask left in place (the
    # player: 0.85 vs 0.39 with the shipped parent; the fast, thin racket, 362 pixels in frame 0
    # and 916 motion-blurred ones in frame 1: 0.00 left in place, 0.07 with the shipped parent,
    # 0.17 with the videos-only slow parent and 0.09 with the two-pathway one, measured
    # 2026-12-02: one blurred frame of a thin object separates no parent from another).
    for k, bar, gain in ((1, 0.7, 0.15), (2, 0.05, 0.05)):
        j, static = iou(pred == k, gt == k), iou(gt0 == k, gt == k)
        assert j > bar and j > static + gain, (k, j, static)


def test_diverged_fine_tuning_names_the_segment_options(tmp_path, checkpoint):
    """Finite weights whose loss overflows: the advice is segment's own (`--steps`, another
    checkpoint), not the finetune stage's `finetune.lr`, which segment does not read."""
    state = torch.load(checkpoint, weights_only=True)
    state["state_dict"] = {k: v * 1e30 if v.is_floating_point() else v
                           for k, v in state["state_dict"].items()}
    huge = tmp_path / "huge.pth"
    torch.save(state, huge)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(3):
        iio.imwrite(folder / f"{t:05d}.png", np.full((32, 48, 3), 50 * t, np.uint8))
    mask = np.zeros((32, 48), np.uint8)
    mask[8:20, 8:24] = 255
    iio.imwrite(tmp_path / "mask.png", mask)
    result = _invoke(folder, "--mask", tmp_path / "mask.png", "--out", tmp_path / "o",
                     "--checkpoint", huge, "--steps", 2)
    err = [line for line in result.stderr.splitlines() if line.strip().startswith("error:")]
    assert result.exit_code == 2 and len(err) == 1, result.output
    assert f"{huge}: fine-tuning on frame 0 diverged (finetune step 1: the loss is" in err[0]
    assert "--steps 0" in err[0] and "finetune.lr" not in err[0]
    assert not (tmp_path / "o").exists()
