"""Fixtures for the evaluation tests: the real DAVIS sample, skipped with a reason when
absent (a user's machine)."""
from __future__ import annotations

from pathlib import Path

import pytest
from tests.evaluation.eval_helpers import DAVIS2016, DAVIS2017


def _require(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"real DAVIS data not found at {path.resolve()} (shared/ beside the clone)")
    return path


@pytest.fixture(scope="session")
def davis2016() -> Path:
    return _require(DAVIS2016)


@pytest.fixture(scope="session")
def davis2017() -> Path:
    return _require(DAVIS2017)
