"""The real DAVIS sample scored through ``evaluate_folder``: ground truth against itself, an
eroded copy and an empty result, with expected values from direct pixel counting and the
literal reference in ``davis_reference`` (never from the code under test)."""
import json

import numpy as np
import pytest
from tests.evaluation.eval_helpers import VAL2016, write_ids
from tests.evaluation.davis_reference import f_measure as reference_f
from tests.evaluation.davis_reference import jaccard
from PIL import Image
from scipy.ndimage import binary_erosion

from pipeline.evaluation.evaluate import EvaluationError, evaluate_folder, run_evaluation


def _gt(root, name):
    files = sorted((root / "Annotations" / "480p" / name).glob("*.png"))
    return np.stack([np.asarray(Image.open(f).convert("L")) > 127 for f in files])


@pytest.fixture(scope="module")
def gt2016(sample_2016):
    return {name: _gt(sample_2016, name) for name in VAL2016}


@pytest.fixture(scope="module")
def eroded(gt2016):
    return {name: np.stack([binary_erosion(m, iterations=3) for m in masks])
            for name, masks in gt2016.items()}


@pytest.fixture(scope="module")
def eroded_results(eroded, tmp_path_factory):
    root = tmp_path_factory.mktemp("eroded")
    for name, masks in eroded.items():  # 2016 style: grayscale 0/255
        write_ids(root / name, masks.astype(np.uint8) * 255, gray=True)
    return root


def _by_name(scores):
    return {s.sequence: s for s in scores}


def test_ground_truth_against_itself_scores_one(sample_2016, tmp_path):
    results = tmp_path / "res"
    for name in VAL2016:  # palette ids 1, not the 0/255 of the ground truth
        write_ids(results / name, _gt(sample_2016, name).astype(np.uint8))
    scores, row = run_evaluation(results, sample_2016, tmp_path / "out")
    assert [s.name for s in scores] == [f"{n}_1" for n in VAL2016]
    assert row == {"J&F-Mean": 1.0, "J-Mean": 1.0, "J-Recall": 1.0, "J-Decay": 0.0,
                   "F-Mean": 1.0, "F-Recall": 1.0, "F-Decay": 0.0}
    assert [len(s.J) for s in scores] == [50 - 2, 40 - 2, 52 - 2]  # first and last excluded


def test_eroded_copy(sample_2016, gt2016, eroded, eroded_results):
    scores = _by_name(evaluate_folder(eroded_results, sample_2016, jobs=2))
    for name, gt in gt2016.items():
        e = eroded[name]
        expected_j = [e[t].sum() / gt[t].sum() for t in range(1, len(gt) - 1)]  # E inside G
        np.testing.assert_allclose(scores[name].J, expected_j, rtol=0, atol=1e-12)
        for t in np.linspace(1, len(gt) - 2, 4).astype(int):  # the literal F is slow: 4 frames
            assert scores[name].F[t - 1] == pytest.approx(reference_f(e[t], gt[t]), abs=1e-12)
    assert all(0.8 < np.mean(s.J) < 1 and 0.8 < np.mean(s.F) < 1 for s in scores.values())


def test_empty_result(sample_2016, gt2016, tmp_path):
    results = tmp_path / "res"
    for name, gt in gt2016.items():
        write_ids(results / name, np.zeros_like(gt, np.uint8))
    scores = _by_name(evaluate_folder(results, sample_2016, jobs=1))
    for name, gt in gt2016.items():
        area = gt[1:-1].sum(axis=(1, 2))
        expected = np.where(area == 0, 1.0, 0.0)  # no object: both empty; else P=1, R=0 / J=0
        np.testing.assert_array_equal(scores[name].J, expected)
        np.testing.assert_array_equal(scores[name].F, expected)


def test_reports_hold_full_precision_and_toolkit_csvs(sample_2016, gt2016, eroded, eroded_results,
                                                      tmp_path):
    scores, row = run_evaluation(eroded_results, sample_2016, tmp_path, sequences=["blackswan"])
    full = json.loads((tmp_path / "results-val.json").read_text())
    assert full["global"]["J-Mean"] == pytest.approx(np.mean(scores[0].J), abs=1e-15)
    pairs = zip(eroded["blackswan"][1:-1], gt2016["blackswan"][1:-1])
    assert row["J-Mean"] == pytest.approx(np.mean([jaccard(e, g) for e, g in pairs]), abs=1e-12)
    lines = (tmp_path / "global_results-val.csv").read_text().splitlines()
    assert lines[0] == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert lines[1].split(",")[1] == f"{row['J-Mean']:.3f}"
    per_seq = (tmp_path / "per-sequence_results-val.csv").read_text().splitlines()
    assert per_seq[0] == "Sequence,J-Mean,F-Mean" and per_seq[1].startswith("blackswan_1,")


def test_davis2017_void_is_background(fragment_2017, tmp_path):
    """tennis frames 0, 1, 0 (frame 1 is scored), read without a split file."""
    folder = fragment_2017 / "Annotations" / "480p" / "tennis"
    ids = [np.asarray(Image.open(folder / f"{t:05d}.png")) for t in (0, 1, 0)]
    root = tmp_path / "DAVIS"
    write_ids(root / "Annotations" / "480p" / "tennis", np.stack(ids))
    gt, void = ids[1], ids[1] == 255
    clean = np.where(void, 0, np.stack(ids))
    write_ids(tmp_path / "clean" / "tennis", clean)
    scores = evaluate_folder(tmp_path / "clean", root, year=2017, sequences=["tennis"])
    assert [(s.name, s.J, s.F) for s in scores] == [("tennis_1", (1.0,), (1.0,)), ("tennis_2", (1.0,), (1.0,))]
    # void labelled as object 1: with a void mask J would stay 1; as background it drops
    write_ids(tmp_path / "voidy" / "tennis", np.where(void, 1, np.stack(ids)))
    j1 = evaluate_folder(tmp_path / "voidy", root, sequences=["tennis"])[0].J[0]
    assert j1 == pytest.approx((gt == 1).sum() / ((gt == 1) | void).sum(), abs=1e-12) and j1 < 1
    write_ids(tmp_path / "raw" / "tennis", np.stack(ids))  # 255 in a result is object 255
    with pytest.raises(EvaluationError, match="object id 255 .* only 2 object"):
        evaluate_folder(tmp_path / "raw", root, sequences=["tennis"])
