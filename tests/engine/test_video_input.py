"""A user's frames and frame-0 mask as `sfvos segment` reads them: natural order, upright RGB
whatever the image mode, lossy or void-only masks refused, and one line naming a bad file."""
from __future__ import annotations

import logging

import imageio.v2 as iio2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pipeline.data.davis import write_palette_png
from pipeline.engine.segment import working_size
from pipeline.engine.video_input import read_first_mask, read_video
from stages.cli import app

H, W = 32, 48


def invoke(*args):
    """(exit code, stderr lines) of ``sfvos segment ARGS``."""
    result = CliRunner().invoke(app, ["segment", *map(str, args)])
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line(code, err, *words):
    err = [line for line in err if line.startswith("error:")] or err
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert all(w in err[0] for w in words), err[0]


def box_mask(path, value=1, mode="P"):
    ids = np.zeros((H, W), np.uint8)
    ids[8:20, 8:24] = value
    if mode == "P":
        write_palette_png(path, ids)
    else:
        Image.fromarray(ids, mode).save(path)
    return path


def grey_frames(folder, names, size=(H, W)):
    """Frames named ``names``, frame i all grey level 10 * i."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((*size, 3), 10 * i, np.uint8)).save(folder / name)
    return folder


def test_frames_are_read_in_natural_order(tmp_path):
    names = [f"frame{i}.png" for i in range(1, 13)]
    frames, _ = read_video(grey_frames(tmp_path / "f", names))
    assert frames[:, 0, 0, 0].tolist() == [10 * i for i in range(12)]  # frame10 after frame9


def test_every_image_mode_becomes_rgb_and_exif_orientation_is_applied(tmp_path):
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[:, : W // 2] = (200, 40, 40)  # the left half red
    folder = tmp_path / "modes"
    folder.mkdir()
    Image.fromarray(rgb).convert("L").save(folder / "0.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "1.png")
    Image.fromarray(rgb).convert("RGBA").save(folder / "2.png")
    Image.fromarray(rgb).convert("CMYK").save(folder / "3.jpg", quality=100)
    frames, _ = read_video(folder)
    assert frames.shape == (4, H, W, 3)
    grey = round(0.299 * 200 + 0.587 * 40 + 0.114 * 40)
    assert np.abs(frames[0, 0, 0].astype(int) - grey).max() <= 1
    for t in (1, 2, 3):
        assert np.abs(frames[t, 5, 5].astype(int) - (200, 40, 40)).max() <= 6, t
        assert np.abs(frames[t, 5, W - 5].astype(int)).max() <= 6, t
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: turn 90 degrees clockwise to show it
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    Image.fromarray(rgb).save(rotated / "0.jpg", exif=exif, quality=100)
    upright, _ = read_video(rotated)
    assert upright.shape == (1, W, H, 3)
    assert np.abs(upright[0].astype(int) - np.rot90(rgb, -1)).max() <= 40
    assert upright[0, 5, H - 5, 0] > 150 and upright[0, W - 5, 5, 0] < 50  # red on top


def test_a_folder_of_grey_frames_is_segmented(tmp_path, checkpoint):
    folder = tmp_path / "grey"
    folder.mkdir()
    for t in range(3):
        Image.fromarray(np.full((H, W), 40 * t, np.uint8), "L").save(folder / f"{t:05d}.png")
    code, err = invoke(folder, "--mask", box_mask(tmp_path / "m.png"), "--out", tmp_path / "o",
                       "--checkpoint", checkpoint, "--steps", 0)
    assert code == 0, err  # it was "frames are 3x96": a grey frame's width cut to 3
    assert sorted(p.name for p in (tmp_path / "o").glob("*.png")) == [f"{t:05d}.png" for t in range(3)]


@pytest.mark.parametrize("case", ["corrupt JPEG", "mask left in the folder"])
def test_a_bad_file_in_the_frames_folder_is_one_line_naming_it(case, tmp_path, checkpoint):
    folder = grey_frames(tmp_path / "f", [f"{t:05d}.jpg" for t in range(3)])
    if case == "corrupt JPEG":
        bad = folder / "00001.jpg"
        bad.write_bytes(bad.read_bytes()[:40] + b"\x00" * 100)
        words = (str(bad), "cannot decode the image", "replace it or remove it")
    else:
        bad = box_mask(folder / "mask.png", 255, "L")  # a mask of the video's size, smaller still
        Image.open(bad).resize((W // 2, H // 2)).save(bad)
        words = (str(bad), "24x16, but 00000.jpg is 48x32", "remove the file")
    code, err = invoke(folder, "--mask", box_mask(tmp_path / "m.png"), "--out", tmp_path / "o",
                       "--checkpoint", checkpoint, "--steps", 0)
    assert_one_line(code, err, *words)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_jpeg_mask_is_refused(mode, tmp_path):
    path = tmp_path / "mask.jpg"
    box_mask(tmp_path / "m.png", 255, "L")
    Image.open(tmp_path / "m.png").convert(mode).save(path, quality=90)
    with pytest.raises(Exception, match="a JPEG mask: lossy compression .* save the mask as PNG"):
        read_first_mask(path, (H, W))


def test_255_in_a_palette_mask_is_void_not_an_object(tmp_path):
    ids = np.zeros((H, W), np.uint8)
    ids[8:20, 8:24], ids[0:2, :] = 1, 255
    write_palette_png(tmp_path / "p.png", ids)
    assert np.array_equal(read_first_mask(tmp_path / "p.png", (H, W)), ids)
    only_void = np.where(ids == 1, 255, 0).astype(np.uint8)  # 0 and 255 only: no object
    write_palette_png(tmp_path / "void.png", only_void)
    with pytest.raises(Exception, match="the mask is empty \\(in a palette PNG 255 is void"):
        read_first_mask(tmp_path / "void.png", (H, W))
    Image.fromarray(only_void, "L").save(tmp_path / "binary.png")  # grey 0/255: one object
    assert np.array_equal(read_first_mask(tmp_path / "binary.png", (H, W)), only_void // 255)


def test_width_alone_keeps_the_aspect_ratio():
    assert working_size((480, 854), None, 160) == (96, 160)  # 480 * 160 / 854 = 90 -> 96
    assert working_size((960, 1708), None, None) == (480, 848)  # as before: --height 480
    assert working_size((480, 854), None, None) == (480, 854)  # no taller than 480: as it is
    assert working_size((480, 854), 240, 160) == (240, 160)  # both given: both taken


@pytest.mark.parametrize("steps", [0, 2])
def test_an_object_that_vanishes_at_the_working_size_is_named(steps, tmp_path, checkpoint):
    folder = grey_frames(tmp_path / "f", [f"{t:05d}.png" for t in range(3)], size=(64, 96))
    ids = np.zeros((64, 96), np.uint8)
    ids[16:48, 16:48], ids[1, 1] = 1, 2  # object 2: one pixel, never sampled at a quarter size
    write_palette_png(tmp_path / "m.png", ids)
    code, err = invoke(folder, "--mask", tmp_path / "m.png", "--out", tmp_path / "o",
                       "--checkpoint", checkpoint, "--steps", steps, "--height", 16)
    assert_one_line(code, err, "object 2 (1 pixel(s)) vanishes at the working size 32x16",
                    "give a larger --height")


def test_a_video_cut_short_is_read_with_a_warning(tmp_path, caplog):
    frames = np.random.default_rng(0).integers(0, 255, (20, H, W, 3), dtype=np.uint8)
    video = tmp_path / "v.mp4"
    with iio2.get_writer(video, fps=10, codec="libx264", macro_block_size=2, ffmpeg_log_level="error",
                         output_params=["-movflags", "+faststart"]) as writer:  # header first
        for frame in frames:
            writer.append_data(frame)
    with caplog.at_level(logging.WARNING):
        assert len(read_video(video)[0]) == 20
    assert not caplog.records
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[: int(video.stat().st_size * 0.6)])
    with caplog.at_level(logging.WARNING):
        read, _ = read_video(cut)
    assert 0 < len(read) < 20
    assert [r.getMessage() for r in caplog.records] == [
        f"warning: {cut}: read {len(read)} of the 20 frames its container declares; the file "
        "may be cut short (segmenting the frames read)"]


def test_a_variable_frame_rate_video_gives_each_coded_frame_once(tmp_path, caplog):
    """12 coded frames with a 6 s pause after the 6th: read as 12 frames (ffmpeg's default
    constant-rate output repeated frames: 73), in order, without a cut-short warning."""
    import subprocess

    import imageio_ffmpeg

    video = tmp_path / "vfr.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi",
                    "-i", "testsrc=size=64x48:rate=10", "-frames:v", "12", "-vf",
                    r"setpts='(N+if(gt(N\,5)\,60\,0))/10/TB'", "-fps_mode", "vfr",
                    "-c:v", "libx264", str(video)], check=True)
    with caplog.at_level(logging.WARNING):
        frames, _ = read_video(video)
    assert len(frames) == 12 and not caplog.records
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))  # no repeats
