"""`sfvos segment`'s output folder: never the input's, replaced whole or left as it was, one
run at a time."""
from __future__ import annotations

import os
import subprocess

import imageio.v3 as iio
import numpy as np
import pytest
from typer.testing import CliRunner

import pipeline.engine.segment as segment
from pipeline.data.davis import write_palette_png
from stages.cli import app

H, W = 32, 48


def frames_folder(folder, n):
    folder.mkdir(parents=True)
    for t in range(n):
        iio.imwrite(folder / f"{t:05d}.png", np.full((H, W, 3), 20 * t, np.uint8))
    return folder


@pytest.fixture
def inputs(tmp_path):
    """(frames folder of 6 frames, its frame-0 mask)."""
    ids = np.zeros((H, W), np.uint8)
    ids[8:20, 8:24] = 1
    write_palette_png(tmp_path / "mask.png", ids)
    return frames_folder(tmp_path / "frames", 6), tmp_path / "mask.png"


def run(frames, mask, out, checkpoint):
    """(exit code, stderr lines) of ``sfvos segment`` with --steps 0."""
    result = CliRunner().invoke(app, ["segment", str(frames), "--mask", str(mask), "--out",
                                      str(out), "--checkpoint", str(checkpoint), "--steps", "0"])
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def assert_refused(code, err, *words):
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert all(w in err[0] for w in words), err[0]


@pytest.mark.parametrize("where", ["equal", "inside"])
def test_out_in_the_input_folder_is_refused_and_the_frames_kept(where, inputs, checkpoint):
    frames, mask = inputs
    before = snapshot(frames)
    out = frames if where == "equal" else frames / "seg"
    code, err = run(frames, mask, out, checkpoint)
    assert_refused(code, err, f"--out {out}: inside the input folder")
    assert snapshot(frames) == before


def test_out_holding_the_input_or_the_mask_is_refused(inputs, checkpoint, tmp_path):
    frames, mask = inputs
    code, err = run(frames, mask, tmp_path, checkpoint)
    assert_refused(code, err, "holds the input", "give another --out")
    code, err = run(frames, mask, tmp_path / "m" / "..", checkpoint)
    assert_refused(code, err, "holds the input")
    assert sorted(p.name for p in frames.iterdir()) == [f"{t:05d}.png" for t in range(6)]


def test_a_non_empty_folder_that_is_no_result_is_refused(inputs, checkpoint, tmp_path):
    frames, mask = inputs
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, err = run(frames, mask, out, checkpoint)
    assert_refused(code, err, "not empty and not an earlier sfvos segment result")
    assert snapshot(out) == {"notes.txt": b"keep me"}


def test_an_earlier_result_is_replaced_whole(inputs, checkpoint, tmp_path):
    frames, mask = inputs
    out = tmp_path / "seg"
    out.mkdir()  # an empty folder is taken
    assert run(frames, mask, out, checkpoint)[0] == 0
    assert {f"{t:05d}.png" for t in range(6)} <= set(snapshot(out))
    shorter = frames_folder(tmp_path / "short", 3)
    assert run(shorter, mask, out, checkpoint)[0] == 0
    names = sorted(snapshot(out))
    assert names == [segment.MARKER, "00000.png", "00001.png", "00002.png", "areas.csv",
                     "overlay.mp4"]  # no stale 00003.png... of the longer video
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "mask.png", "seg", "short"]


def test_an_interrupted_run_leaves_the_earlier_result(inputs, checkpoint, tmp_path, monkeypatch):
    frames, mask = inputs
    out = tmp_path / "seg"
    assert run(frames, mask, out, checkpoint)[0] == 0
    before = snapshot(out)

    real = segment.write_palette_png

    def killed(path, ids):
        if path.name == "00002.png":  # mid-video: the first two PNGs of the new run written
            assert path.parent.name == "seg.tmp" and (path.parent / "00001.png").is_file()
            raise KeyboardInterrupt
        real(path, ids)

    monkeypatch.setattr(segment, "write_palette_png", killed)
    with pytest.raises(KeyboardInterrupt):
        segment.segment_video(frames_folder(tmp_path / "other", 3), mask, checkpoint, out,
                              segment.FinetuneConfig(steps=0))
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "mask.png", "other", "seg"]


def test_a_second_run_on_the_same_out_is_refused(inputs, checkpoint, tmp_path):
    frames, mask = inputs
    out, lock = tmp_path / "seg", tmp_path / "seg.lock"
    lock.write_text(str(os.getpid()))  # a run in progress (this process is alive)
    code, err = run(frames, mask, out, checkpoint)
    assert_refused(code, err, "another sfvos segment is writing it", str(lock))
    assert lock.is_file() and not out.exists()
    ended = subprocess.Popen(["true"])
    ended.wait()
    lock.write_text(str(ended.pid))  # the lock of a killed run: taken over
    assert run(frames, mask, out, checkpoint)[0] == 0
    assert not lock.exists() and (out / "00005.png").is_file()
