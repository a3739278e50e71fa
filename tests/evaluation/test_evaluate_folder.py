"""The semi-supervised protocol on small DAVIS-layout folders, and ``sfvos evaluate``."""
import logging

import numpy as np
import pytest
from PIL import Image
from tests.evaluation.eval_helpers import make_davis2017, write_ids
from typer.testing import CliRunner

from pipeline.evaluation.evaluate import EvaluationError, evaluate_folder, global_row
from pipeline.evaluation.summary import summarize
from stages.cli import app

H, W = 24, 32


def _frames(t, boxes):
    """(t, H, W) ids: ``boxes`` maps id -> (y0, y1, x0, x1) on every frame."""
    m = np.zeros((t, H, W), np.uint8)
    for k, (y0, y1, x0, x1) in boxes.items():
        m[:, y0:y1, x0:x1] = k
    return m


@pytest.fixture
def davis(tmp_path):
    two = _frames(6, {1: (2, 10, 2, 10), 2: (12, 20, 14, 30)})
    two[3, 0:2, 0:2] = 3  # an id absent from frame 0 is no object
    return make_davis2017(tmp_path / "DAVIS", {"two": two, "one": _frames(5, {1: (4, 12, 4, 20)})})


def test_first_and_last_frames_are_not_scored(davis, tmp_path):
    res = {"two": _frames(6, {1: (2, 10, 2, 10), 2: (12, 20, 14, 30)}), "one": _frames(5, {1: (4, 12, 4, 20)})}
    for masks in res.values():
        masks[0] = masks[-1] = 0  # wrong on the first and last frames only
    for name, masks in res.items():
        write_ids(tmp_path / "res" / name, masks)
    scores = evaluate_folder(tmp_path / "res", davis, jobs=1)
    assert [s.name for s in scores] == ["two_1", "two_2", "one_1"]
    assert all(s.J == (1.0,) * len(s.J) and s.F == (1.0,) * len(s.F) for s in scores)
    assert [len(s.J) for s in scores] == [4, 4, 3]


def test_missing_ids_score_empty_and_globals_average_objects(davis, tmp_path):
    write_ids(tmp_path / "res" / "two", _frames(6, {1: (2, 10, 2, 10)}))  # no object 2
    write_ids(tmp_path / "res" / "one", _frames(5, {1: (4, 12, 4, 12)}))  # half of the box
    scores = evaluate_folder(tmp_path / "res", davis, jobs=2)
    assert [s.J for s in scores] == [(1.0,) * 4, (0.0,) * 4, (0.5,) * 3]
    assert [s.F for s in scores][:2] == [(1.0,) * 4, (0.0,) * 4]
    row = global_row(scores)
    assert row["J-Mean"] == pytest.approx((1 + 0 + 0.5) / 3)  # over objects, not sequences
    assert row["J-Recall"] == pytest.approx((1 + 0 + 0) / 3)  # 0.5 is not > 0.5
    assert row["J&F-Mean"] == pytest.approx((row["J-Mean"] + row["F-Mean"]) / 2)


def test_extra_ids_are_an_error(davis, tmp_path):
    write_ids(tmp_path / "res" / "two", _frames(6, {1: (2, 10, 2, 10), 3: (12, 20, 14, 30)}))
    write_ids(tmp_path / "res" / "one", _frames(5, {1: (4, 12, 4, 20)}))
    with pytest.raises(EvaluationError, match=r"two: results hold object id 3 .* only 2 object"):
        evaluate_folder(tmp_path / "res", davis, jobs=1)


def test_wrong_size_and_missing_frames_are_errors(davis, tmp_path):
    write_ids(tmp_path / "res" / "one", np.zeros((5, H, W + 1), np.uint8))
    with pytest.raises(EvaluationError, match="size 33x24 differs"):
        evaluate_folder(tmp_path / "res", davis, sequences=["one"])
    with pytest.raises(EvaluationError, match="two/00001.png: result missing"):
        evaluate_folder(tmp_path / "res", davis, sequences=["two"])
    with pytest.raises(EvaluationError, match="no ground truth for sequence.* nope"):
        evaluate_folder(tmp_path / "res", davis, sequences=["nope"])


def test_year_2016_any_nonzero_result_pixel_is_the_object(tmp_path):
    """A 2016 root: 0/255 grayscale masks, ``ImageSets/480p`` pairs."""
    gt = _frames(4, {255: (4, 12, 4, 20)})
    root = tmp_path / "DAVIS"
    write_ids(root / "Annotations" / "480p" / "s", gt, gray=True)
    (root / "JPEGImages" / "480p" / "s").mkdir(parents=True)
    for t in range(4):
        (root / "JPEGImages" / "480p" / "s" / f"{t:05d}.jpg").write_bytes(b"")
    (root / "ImageSets" / "480p").mkdir(parents=True)
    (root / "ImageSets" / "480p" / "val.txt").write_text(
        "".join(f"/JPEGImages/480p/s/{t:05d}.jpg /Annotations/480p/s/{t:05d}.png\n" for t in range(4)))
    for value, gray in ((255, True), (1, False), (7, True)):
        write_ids(tmp_path / f"r{value}" / "s", _frames(4, {value: (4, 12, 4, 12)}), gray=gray)
        scores = evaluate_folder(tmp_path / f"r{value}", root)
        assert [s.name for s in scores] == ["s_1"] and scores[0].J == (0.5, 0.5)


def test_cli_scores_a_folder_and_prints_the_global_row(davis, tmp_path):
    write_ids(tmp_path / "res" / "one", _frames(5, {1: (4, 12, 4, 12)}))
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "res"), str(davis), "--year", "2017",
                                      "--sequences", "one", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    header, values = result.stdout.splitlines()[:2]
    assert header == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert values.split(",")[1] == "0.500"
    assert (tmp_path / "out" / "global_results-val.csv").read_text().splitlines()[1] == values
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "global_results-val.csv", "per-sequence_results-val.csv", "results-val.json"}


def test_cli_errors_exit_2_with_the_reason(davis, tmp_path):
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path), str(davis), "--year", "2018"])
    assert result.exit_code == 2 and "year 2018" in result.stderr
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path), str(davis)])
    assert result.exit_code == 2 and "result missing" in result.stderr


def _moving(t):
    """(t, H, W) ids: object 1, a box moving 2 px per frame (each frame's mask differs)."""
    m = np.zeros((t, H, W), np.uint8)
    for i in range(t):
        m[i, 4:12, i * 2 % 20:i * 2 % 20 + 8] = 1
    return m


def test_results_are_paired_with_the_ground_truth_by_frame_name(tmp_path):
    """Ground truth on every 5th frame: the results of those frames are scored."""
    truth = _moving(11)
    root = make_davis2017(tmp_path / "DAVIS", {"s": truth})
    for path in (root / "Annotations" / "480p" / "s").glob("*.png"):
        if int(path.stem) % 5:
            path.unlink()  # 00000, 00005, 00010 are left
    write_ids(tmp_path / "res" / "s", truth)  # results equal to the truth on every frame
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "res"), str(root),
                                      "--sequences", "s", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split(",")[:2] == ["1.000", "1.000"]  # was 0.395
    (tmp_path / "res" / "s" / "00005.png").unlink()
    with pytest.raises(EvaluationError, match="s/00005.png: result missing"):
        evaluate_folder(tmp_path / "res", root, sequences=["s"], jobs=1)


def test_rgb_results_on_a_2017_root_are_one_line(davis, tmp_path):
    for name, n in (("two", 6), ("one", 5)):
        write_ids(tmp_path / "res" / name, _frames(n, {1: (4, 12, 4, 12)}))
    rgb = tmp_path / "res" / "one" / "00001.png"
    Image.open(rgb).convert("RGB").save(rgb)  # the DAVIS colours, not the ids
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "res"), str(davis), "--jobs", "1"])
    err = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(err) == 1, result.output
    assert f"error: {rgb}: an RGB image; DAVIS 2017 results must be palette or grey ids" in err[0]


def test_an_id_the_first_frame_skips_is_scored_as_the_toolkit_and_warned(tmp_path, caplog):
    gap = _frames(5, {1: (2, 10, 2, 10), 3: (12, 20, 14, 30)})  # ids 1 and 3: no object 2
    root = make_davis2017(tmp_path / "DAVIS", {"gap": gap, "one": _frames(5, {1: (4, 12, 4, 20)})})
    write_ids(tmp_path / "res" / "gap", _frames(5, {1: (2, 10, 2, 10)}))  # object 3 missed
    write_ids(tmp_path / "res" / "one", _frames(5, {1: (4, 12, 4, 20)}))
    with caplog.at_level(logging.WARNING):
        scores = evaluate_folder(tmp_path / "res", root, jobs=2)  # warned in this process
    assert [(s.name, s.J[0], s.in_first_frame) for s in scores] == [
        ("gap_1", 1.0, True), ("gap_2", 1.0, False), ("gap_3", 0.0, True), ("one_1", 1.0, True)]
    assert [r.getMessage()[:67] for r in caplog.records] == [
        "warning: sequence gap: object id(s) 2 absent from its first ground-"]
    metrics = summarize(scores, global_row(scores), {})
    assert metrics["J_and_F"] == pytest.approx(3 / 4)  # the toolkit's: id 2 counts as perfect
    assert metrics["J_and_F_present"] == pytest.approx(2 / 3)  # objects 1 and 3 of gap, one's 1
    assert metrics["num_objects_present"] == 3
    kept = [s for s in scores if s.name != "gap_2"]
    assert "J_and_F_present" not in summarize(kept, global_row(kept), {})  # all present: as before
