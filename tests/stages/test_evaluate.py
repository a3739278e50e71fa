"""The evaluate stage end to end on a tiny synthetic DAVIS: ground truth as the results."""
import csv
import json
import shutil

import imageio.v3 as iio
import numpy as np
import pytest

from pipeline.data.cache import decode
from pipeline.data.synthetic import SyntheticSpec, generate
from pipeline.timing import FinetuneTiming
from stages import evaluate


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    spec = SyntheticSpec(num_train=1, num_val=3, num_frames=6, height=32, width=48, seed=1)
    davis = generate(root / "DAVIS", spec)
    return davis, decode(davis, root / "cache", (32, 48))


def test_stage_writes_metrics_plots_reports_and_overlays(synthetic, tmp_path):
    davis, cache = synthetic
    names = (davis / "ImageSets" / "2017" / "val.txt").read_text().split()
    for name in names:
        shutil.copytree(davis / "Annotations" / "480p" / name, tmp_path / "results" / name)
    timing = tmp_path / "timing.json"
    FinetuneTiming(
        sequences={n: {"predict_fps": 10.0 * (i + 1), "finetune_s": 2.0} for i, n in enumerate(names)},
        compute={"params": 1000, "gflops_per_frame": 0.5}).write(timing)
    params = tmp_path / "params.yaml"
    params.write_text("evaluate:\n  split: val\n  jobs: 1\n  overlays: 2\n")
    evaluate.main(results=tmp_path / "results", davis=davis, cache=cache, timing=timing,
                  out=tmp_path / "evaluate", overlays=tmp_path / "evaluate" / "overlays",
                  metrics=tmp_path / "metrics.json", plots=tmp_path / "plots", params=params,
                  loss_curve=tmp_path / "no_loss_curve.tsv")
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["J_and_F"] == m["J_mean"] == m["F_mean"] == 1.0
    assert m["fps"] == pytest.approx(20.0) and m["gflops_per_frame"] == 0.5 and m["params"] == 1000
    assert m["num_sequences"] == 3 and m["J_and_F_FM"] in (1.0, None) and m["J_and_F_speed_fast"] == 1.0
    with (tmp_path / "plots" / "per_sequence.csv").open() as f:
        assert len(list(csv.DictReader(f))) == m["num_objects"]
    with (tmp_path / "plots" / "j_over_time.csv").open() as f:
        assert {int(r["frame"]) for r in csv.DictReader(f)} == {1, 2, 3, 4}
    assert (tmp_path / "plots" / "per_sequence.png").is_file()
    assert (tmp_path / "plots" / "j_over_time.png").is_file()
    assert not (tmp_path / "plots" / "pretrain_loss.png").exists()  # no loss curve given
    gifs = sorted((tmp_path / "evaluate" / "overlays").glob("*.gif"))
    assert [g.stem for g in gifs] == sorted(names[:2])
    assert iio.imread(gifs[0]).shape == (6, 16, 24, 3)  # every frame, half size
    assert (tmp_path / "evaluate" / "global_results-val.csv").is_file()
