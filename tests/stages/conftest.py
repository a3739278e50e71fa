"""Fixtures for the stage-command tests: a stage run that captures the one error line."""
from __future__ import annotations

import pytest
import yaml


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
