"""Shared fixtures: the tiny synthetic DAVIS-layout dataset, its cache, the tiny model's
config and weights (the definitions are in :mod:`tests.support`), and the real DAVIS sample
and fragment in ``../shared/data``, skipped with a reason where absent (a user's machine)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pipeline.data.cache import decode
from pipeline.data.synthetic import generate
from tests.support import FRAGMENT_2017, SAMPLE_2016, TINY_MODEL, TINY_SPEC


@pytest.fixture(scope="session")
def tiny_davis(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("davis") / "DAVIS", TINY_SPEC)


@pytest.fixture(scope="session")
def tiny_cache(tiny_davis, tmp_path_factory) -> Path:
    return decode(tiny_davis, tmp_path_factory.mktemp("cache") / "cache", (32, 48))


@pytest.fixture
def tiny_model_cfg() -> dict:
    """A copy of :data:`tests.support.TINY_MODEL` that a test may change."""
    return copy.deepcopy(TINY_MODEL)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """Weights of the tiny model (seed 0) as the pretrain stage writes them."""
    import torch

    from pipeline.engine.checkpoint import save_model
    from pipeline.models import build_segmenter

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pth"
    save_model(path, build_segmenter(TINY_MODEL), TINY_MODEL)
    return path


@pytest.fixture(scope="session")
def sample_2016() -> Path:
    if not SAMPLE_2016.is_dir():
        pytest.skip(f"real DAVIS 2016 sample not found at {SAMPLE_2016} (../shared/data)")
    return SAMPLE_2016


@pytest.fixture(scope="session")
def fragment_2017() -> Path:
    if not FRAGMENT_2017.is_dir():
        pytest.skip(f"real DAVIS 2017 fragment not found at {FRAGMENT_2017} (../shared/data)")
    return FRAGMENT_2017
