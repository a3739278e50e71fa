import imageio.v3 as iio
import numpy as np
from PIL import Image

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
