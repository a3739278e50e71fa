"""Shared fixtures: a tiny synthetic DAVIS-layout dataset, its cache and tiny configs."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.data.cache import decode
from pipeline.data.synthetic import SyntheticSpec, generate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

TINY_SPEC = SyntheticSpec(num_train=2, num_val=2, num_frames=8, height=32, width=48,
                          max_objects=2, seed=3)
TINY_MODEL = {
    "type": "SlowFastSegmenter",
    "pathways": "slowfast",
    "backbone": {"type": "SlowFastBackbone", "alpha": 2, "beta_inv": 4, "stem_width": 8,
                 "widths": [8, 16], "depths": [1, 1], "slow_temporal_kernels": [1, 3]},
    "decoder": {"type": "MultiScaleMaskDecoder", "channels": 8},
    "loss": {"type": "CrossEntropyLoss"},
    "crop_size": 32,
    "context": 2.0,
}


@pytest.fixture(scope="session")
def tiny_davis(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("davis") / "DAVIS", TINY_SPEC)


@pytest.fixture(scope="session")
def tiny_cache(tiny_davis, tmp_path_factory) -> Path:
    return decode(tiny_davis, tmp_path_factory.mktemp("cache") / "cache", (32, 48))


@pytest.fixture
def tiny_model_cfg() -> dict:
    import copy

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
