"""`sfvos segment` streams: frames read, segmented and written one at a time; masks at later
frames; one folder of binary PNGs per object."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from pipeline.data.davis import read_mask_as_ids
from pipeline.visualize import write_video
from stages.cli import app
from tests.support import REPO, square_mask

runner = CliRunner()


def _frames_folder(root, n=8):
    """Frames of two moving squares (tests.support.square_mask) on noise, and their ids."""
    rng = np.random.default_rng(0)
    root.mkdir()
    ids = []
    for t in range(n):
        m = np.maximum(square_mask(t, 1), square_mask(t, 2))
        frame = rng.integers(0, 60, m.shape + (3,), dtype=np.uint8)
        frame[m == 1], frame[m == 2] = (230, 40, 40), (40, 230, 40)
        Image.fromarray(frame).save(root / f"{t:05d}.png")
        ids.append(m)
    return np.stack(ids)


def _mask(path, ids):
    Image.fromarray(ids.astype(np.uint8) * 127).save(path)  # grey ids 127, 254: two objects
    return path


def test_a_mask_at_a_later_frame_adds_an_object_and_per_object_folders(tmp_path, checkpoint):
    ids = _frames_folder(tmp_path / "frames")
    first = _mask(tmp_path / "m0.png", np.where(ids[0] == 1, 1, 0))
    later = _mask(tmp_path / "m4.png", np.where(ids[4] == 2, 2, 0))
    out = tmp_path / "out"
    result = runner.invoke(app, ["segment", str(tmp_path / "frames"), "--mask", str(first),
                                 "--mask", f"4:{later}", "--out", str(out), "--checkpoint",
                                 str(checkpoint), "--steps", "0", "--per-object"])
    assert result.exit_code == 0, result.output
    assert "segmented 8 frames, 2 object(s)" in result.output
    pred = np.stack([read_mask_as_ids(out / f"{t:05d}.png") for t in range(8)])
    assert not (pred[:4] == 254).any() and np.array_equal(pred[4] == 254, ids[4] == 2)
    assert np.array_equal(pred[0], np.where(ids[0] == 1, 127, 0))
    for k in (127, 254):
        folder = np.stack([np.asarray(Image.open(out / f"object_{k}" / f"{t:05d}.png")) for t in range(8)])
        assert set(np.unique(folder)) <= {0, 255} and np.array_equal(folder == 255, pred == k)
    rows = list(csv.reader((out / "areas.csv").open()))
    assert rows[0] == ["frame", "object_127", "object_254"] and rows[4][2] == "0"
    assert int(rows[5][2]) == int((pred[4] == 254).sum())
    assert json.loads((out / ".sfvos-segment.json").read_text())["masks"]["4"] == str(later)


def test_a_mask_for_a_frame_that_never_comes_is_one_line_and_leaves_nothing(tmp_path, checkpoint):
    ids = _frames_folder(tmp_path / "frames", n=4)
    first = _mask(tmp_path / "m0.png", ids[0] > 0)
    out = tmp_path / "out"
    result = runner.invoke(app, ["segment", str(tmp_path / "frames"), "--mask", str(first),
                                 "--mask", f"9:{first}", "--out", str(out), "--checkpoint",
                                 str(checkpoint), "--steps", "0"])
    assert result.exit_code == 2
    assert "frame 9 never comes; the video has 4 frames" in result.output
    assert not out.exists() and not (tmp_path / "out.tmp").exists()


PEAK_RSS = """
import resource, sys
from stages.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_a_long_video_streams_in_constant_memory(tmp_path, checkpoint):
    """Peak RSS of 200 frames of 240x320 (46 MB of pixels) against 20: streaming keeps it
    flat (reading the whole video first, as before, added about 3x the pixels)."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    peaks = {}
    for n in (20, 200):
        video = tmp_path / f"v{n}.mp4"
        write_video(video, (np.roll(base, t, axis=1) for t in range(n)), fps=25)
        mask = tmp_path / "m.png"
        m = np.zeros((240, 320), np.uint8)
        m[100:140, 120:170] = 255
        Image.fromarray(m).save(mask)
        run = subprocess.run([sys.executable, "-c", PEAK_RSS, "segment", str(video), "--mask",
                              str(mask), "--out", str(tmp_path / f"out{n}"), "--checkpoint",
                              str(checkpoint), "--steps", "0", "--no-flip"],
                             cwd=REPO, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        peaks[n] = int(run.stdout.split()[-1]) / 1024  # MB
        assert len(list((tmp_path / f"out{n}").glob("*.png"))) == n
    print(peaks)
    assert peaks[200] < 1.1 * peaks[20], peaks


def test_with_next_pairs_each_item_with_the_one_after_it():
    from pipeline.engine.segment import with_next

    assert list(with_next(iter("abc"))) == [("a", "b"), ("b", "c"), ("c", None)]
    assert list(with_next([1])) == [(1, None)] and list(with_next([])) == []


def test_the_writer_writes_behind_and_raises_a_failed_frame(tmp_path, monkeypatch):
    """Frames are written on a worker thread, in order; an error writing one is raised by the
    next call (or at the end), not lost."""
    import pytest

    import pipeline.engine.segment as segment

    ids = np.zeros((16, 24), np.uint8)
    ids[4:10, 6:12] = 3
    frame = np.full((16, 24, 3), 90, np.uint8)
    with segment.ResultWriter(tmp_path, 10.0, per_object=True) as writer:
        for t in range(3):
            writer.write(t, frame, np.roll(ids, t, axis=1), [3])
    assert sorted(p.name for p in tmp_path.glob("0*.png")) == ["00000.png", "00001.png", "00002.png"]
    for t in range(3):
        assert np.array_equal(read_mask_as_ids(tmp_path / f"{t:05d}.png"), np.roll(ids, t, axis=1))
    assert (tmp_path / "areas.csv").read_text().splitlines() == ["frame,object_3", "0,36", "1,36", "2,36"]

    def broken(path, ids):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(segment, "write_palette_png", broken)
    out = tmp_path / "second"
    out.mkdir()
    with pytest.raises(OSError, match="No space left"):
        with segment.ResultWriter(out, 10.0, per_object=False) as writer:
            writer.write(0, frame, ids, [3])
            writer.write(1, frame, ids, [3])  # raises frame 0's error
            raise AssertionError("not reached")
    assert not (out / "areas.csv").exists()

