"""Helpers for the stage-command tests: a params.yaml written from the repository's own, with
keys changed, and a stage run that captures the one error line."""
from __future__ import annotations

import copy
import subprocess

import pytest
import yaml

from tests.conftest import REPO, TINY_MODEL


def committed_params() -> dict:
    """params.yaml as committed (``git show HEAD:``; the file itself outside a git checkout):
    a ``dvc exp run -S ...`` rewrites the workspace copy, which must not fail the tests."""
    shown = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=REPO, capture_output=True,
                           text=True)
    return yaml.safe_load(shown.stdout if shown.returncode == 0 else (REPO / "params.yaml").read_text())


def repo_params() -> dict:
    """The committed params.yaml, with the tiny model of the tests."""
    params = committed_params()
    params["model"] = copy.deepcopy(TINY_MODEL)
    return params


def set_key(params: dict, key: str, value) -> dict:
    """``params`` with ``a.b.c`` set to ``value`` (``...`` deletes it), as ``dvc exp run -S``."""
    *path, last = key.split(".")
    node = params
    for part in path:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return params


@pytest.fixture
def run_stage(tmp_path, capsys):
    """``run_stage(main, params, **kwargs)``: run a stage's ``main`` on ``params`` (a dict written
    to tmp_path/params.yaml); returns (exit code, stderr lines)."""

    def run(main, params: dict, **kwargs):
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        try:
            main(params=path, **kwargs)
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    return run
