"""``sfvos report`` on a captured ``dvc exp show --json`` (DVC 3.67: a baseline commit, two
experiments and a failed queued one)."""
import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.evaluation.report import experiment_rows, markdown_table
from stages.cli import app

FIXTURE = Path(__file__).parent / "data" / "dvc_exp_show.json"


def test_rows_from_captured_exp_show():
    rows = experiment_rows(json.loads(FIXTURE.read_text()))
    assert [(r["experiment"], r["pathways"], r["J_and_F"]) for r in rows] == [
        ("master", "slowfast", 0.7), ("regal-vang", "fast", 0.6), ("exp-slow", "slow", 0.5)]
    assert rows[0]["J_and_F_FM"] == 0.6 and rows[0]["gflops_per_frame"] == 1.5
    with_ws = experiment_rows(json.loads(FIXTURE.read_text()), workspace=True)
    assert with_ws[0]["experiment"] == "workspace" and len(with_ws) == 4


def test_robust_to_missing_files_and_errors():
    entry = {"rev": "abc1234def", "name": None, "error": None, "experiments": None,
             "data": {"params": {"params.yaml": {"error": {"type": "YAMLError"}}},
                      "metrics": {"metrics.json": {"data": {"J_and_F": 0.25}}}}}
    no_metrics = {"rev": "ffff", "name": "x", "error": None, "data": {"metrics": {}}}
    rows = experiment_rows([entry, no_metrics, {"rev": "workspace", "data": None}])
    assert rows == [{"experiment": "abc1234", "pathways": None, "J_and_F": 0.25, "J_mean": None,
                     "F_mean": None, "J_and_F_FM": None, "gflops_per_frame": None, "fps": None}]
    assert markdown_table(rows).splitlines()[2] == "| abc1234 | – | 0.250 | – | – | – | – | – |"


def test_command_writes_markdown(tmp_path):
    out = tmp_path / "ablation.md"
    result = CliRunner().invoke(app, ["report", "--input", str(FIXTURE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "| experiment | pathways | J&F | J | F | J&F FM | GFLOPs | fps |"
    assert lines[2] == "| master | slowfast | 0.700 | 0.690 | 0.710 | 0.600 | 1.500 | 30.0 |"
    assert len(lines) == 5
