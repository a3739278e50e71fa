"""Tiny model configs shared by the model tests (CPU, seconds)."""
import pytest



@pytest.fixture
def tiny_cfg():
    """A ``model:`` section as params.yaml writes it, with tiny widths."""
    return {
        "type": "SlowFastSegmenter",
        "pathways": "slowfast",
        "backbone": {
            "type": "SlowFastBackbone",
            "alpha": 4,
            "beta_inv": 4,
            "stem_width": 8,
            "widths": [8, 16, 16],
            "depths": [1, 1, 1],
            "slow_temporal_kernels": [1, 1, 3],
            "fast_temporal_kernel": 3,
            "fusion_kernel": 5,
        },
        "decoder": {"type": "MultiScaleMaskDecoder", "channels": 8},
        "loss": {"type": "BalancedCrossEntropyLoss"},
        "crop_size": 32,
    }
