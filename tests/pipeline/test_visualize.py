import imageio.v3 as iio
import numpy as np
from PIL import Image

from pipeline.visualize import write_video


def test_gif_keeps_every_frame_and_its_duration(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 8, 10, 3), dtype=np.uint8)
    write_video(tmp_path / "clip.gif", frames, fps=5)
    assert iio.imread(tmp_path / "clip.gif").shape[:3] == (3, 8, 10)
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.info["duration"] == 200  # ms per frame at 5 fps
    assert not list(tmp_path.glob(".*"))
