import imageio.v3 as iio
import numpy as np

from pipeline import figures


def test_figures_render_readable_pngs(tmp_path):
    per_object = [{"object": "a_1", "J_and_F": 0.5, "J": 0.6, "F": 0.4},
                  {"object": "b_1", "J_and_F": 0.9, "J": 0.95, "F": 0.85}]
    over_time = [{"object": o, "frame": t, "J": 0.1 * t} for o in ("a_1", "b_1") for t in range(1, 6)]
    tsv = tmp_path / "loss.tsv"
    tsv.write_text("step\tloss\n" + "".join(f"{i}\t{1 / i:.4f}\n" for i in range(1, 41)))
    figures.per_object_bars(per_object, tmp_path / "bars.png")
    figures.j_over_time(over_time, tmp_path / "j.png")
    figures.loss_curve(tsv, tmp_path / "loss.png")
    for name in ("bars.png", "j.png", "loss.png"):
        image = iio.imread(tmp_path / name)
        assert image.ndim == 3 and min(image.shape[:2]) > 100
        assert np.ptp(image[..., :3]) > 0, f"{name} is blank"
    assert not list(tmp_path.glob(".*tmp*"))
