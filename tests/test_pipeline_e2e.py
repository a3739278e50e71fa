"""End to end: copy the project into a temp git+DVC repo, `dvc repro` on tiny params, then
`dvc exp run -S model.pathways=fast` and `dvc metrics diff`, and the ablation as queued
experiments (`dvc exp run --queue`, then `dvc exp run --run-all`)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import REPO, TINY_MODEL

TINY_PARAMS = {
    "download": {"synthetic": {"num_train": 2, "num_val": 2, "num_frames": 8, "height": 32,
                               "width": 48, "max_objects": 2, "seed": 5}},
    "decode": {"height": 32, "width": 48},
    "pretrain": {"iters": 4, "batch_size": 1, "clip_len": 4, "checkpoint_interval": 2},
    "finetune": {"steps": 3, "batch_size": 1, "clip_len": 4},
}


def _sh(args: list[str], cwd: Path) -> str:
    bindir = str(Path(sys.executable).parent)
    env = os.environ | {"PATH": bindir + os.pathsep + os.environ["PATH"], "DVC_NO_ANALYTICS": "1"}
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def _project_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if rel.startswith("tests/") or not (REPO / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    for section, values in TINY_PARAMS.items():
        for key, value in values.items():
            if isinstance(value, dict):
                params[section][key].update(value)
            else:
                params[section][key] = value
    params["model"] = dict(TINY_MODEL)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dest / "dvc.lock").unlink(missing_ok=True)
    (dest / "metrics.json").unlink(missing_ok=True)
    return dest


GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """The tiny project in git, after a first `dvc repro`, committed."""
    repo = _project_copy(tmp_path_factory.mktemp("e2e") / "project")
    _sh(["git", "init", "-q", "-b", "main"], repo)
    _sh(GIT + ["add", "-A"], repo)
    _sh(GIT + ["commit", "-qm", "init"], repo)
    _sh(["dvc", "repro"], repo)
    _sh(GIT + ["add", "-A"], repo)
    _sh(GIT + ["commit", "-qm", "baseline"], repo)
    return repo


@pytest.mark.slow
def test_dvc_repro_and_pathway_experiment(baseline):
    repo = baseline
    metrics = json.loads((repo / "metrics.json").read_text())
    for key in ("J_and_F", "J_mean", "F_mean", "J_decay", "J_and_F_FM", "params", "fps"):
        assert key in metrics
    assert 0.0 <= metrics["J_and_F"] <= 1.0
    results = repo / "data" / "results"
    val = sorted(p.name for p in results.iterdir())
    assert len(val) == 2 and all(len(list((results / v).glob("*.png"))) == 8 for v in val)
    # only the source fingerprint stage, which DVC runs every time (milliseconds), is listed
    assert _sh(["dvc", "status"], repo).split() == ["source:", "always", "changed"]
    again = _sh(["dvc", "repro"], repo)
    assert "Running stage 'source'" in again and again.count("Running stage") == 1, again

    _sh(["dvc", "exp", "run", "-S", "model.pathways=fast"], repo)
    fast = json.loads((repo / "metrics.json").read_text())
    assert fast["params"] < metrics["params"]
    diff = json.loads(_sh(["dvc", "metrics", "diff", "--json"], repo))
    assert "params" in diff["metrics.json"], diff
    assert diff["metrics.json"]["params"]["old"] == metrics["params"]
    assert diff["metrics.json"]["params"]["new"] == fast["params"]


@pytest.mark.slow
def test_queued_ablation_runs_every_experiment(baseline):
    """The README's queued ablation: queue the variants, run them one at a time (--run-all
    waits for them, unlike `dvc queue start`), then `dvc exp show` has a row for each."""
    from pipeline.evaluation.report import experiment_rows

    repo = baseline
    _sh(["git", "checkout", "--", "."], repo)  # the committed baseline, not another test's run
    for pathways in ("slow", "fast"):
        _sh(["dvc", "exp", "run", "--queue", "-n", f"queued-{pathways}",
             "-S", f"model.pathways={pathways}"], repo)
    assert _sh(["dvc", "queue", "status"], repo).count("Queued") == 2
    _sh(["dvc", "exp", "run", "--run-all", "--jobs", "1"], repo)
    rows = {r["experiment"]: r for r in experiment_rows(json.loads(_sh(["dvc", "exp", "show", "--json"], repo)))}
    assert {"queued-slow", "queued-fast"} <= set(rows), rows
    for pathways in ("slow", "fast"):
        row = rows[f"queued-{pathways}"]
        assert row["pathways"] == pathways and 0.0 <= row["J_and_F"] <= 1.0, row
    assert rows["queued-slow"]["J_and_F"] != rows["queued-fast"]["J_and_F"]  # two real runs
    assert _sh(["dvc", "queue", "status"], repo).count("Success") == 2
    diff = json.loads(_sh(["dvc", "metrics", "diff", "--json", "HEAD", "queued-slow"], repo))
    assert diff["metrics.json"]["J_and_F"]["new"] == rows["queued-slow"]["J_and_F"], diff
