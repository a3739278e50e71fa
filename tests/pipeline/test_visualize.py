import imageio.v3 as iio
import numpy as np
from PIL import Image

from pipeline.data.davis import davis_palette
from pipeline.visualize import blend, write_video


def test_gif_keeps_every_frame_and_its_duration(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 8, 10, 3), dtype=np.uint8)
    write_video(tmp_path / "clip.gif", frames, fps=5)
    assert iio.imread(tmp_path / "clip.gif").shape[:3] == (3, 8, 10)
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.info["duration"] == 200  # ms per frame at 5 fps
    assert not list(tmp_path.glob(".*"))


def test_blend_mixes_palette_colours_on_objects_only():
    frame = np.full((2, 2, 3), 100, np.uint8)
    ids = np.array([[0, 1], [2, 0]], np.uint8)  # DAVIS palette: 1 = (128, 0, 0), 2 = (0, 128, 0)
    out = blend(frame, ids)
    np.testing.assert_array_equal(out[0, 0], [100, 100, 100])
    np.testing.assert_array_equal(out[0, 1], [114, 50, 50])
    np.testing.assert_array_equal(out[1, 0], [50, 114, 50])


def test_blend_of_a_video_matches_the_formula_in_each_objects_box():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 30, 40, 3), np.uint8)
    ids = np.zeros((3, 30, 40), np.uint8)
    ids[0, 5:9, 30:38], ids[0, 20, 2], ids[2, 10:20, 10:15] = 1, 2, 3  # frame 1: no object
    for alpha in (0.5, 0.3):
        out = blend(frames, ids, alpha)
        palette = davis_palette()[ids].astype(np.float64)
        expected = np.where((ids > 0)[..., None],
                            np.round((1 - alpha) * frames + alpha * palette), frames)
        np.testing.assert_allclose(out, expected, atol=1)  # rounding of x.5 may differ by 1
        np.testing.assert_array_equal(out[ids == 0], frames[ids == 0])
        np.testing.assert_array_equal(out[1], frames[1])
