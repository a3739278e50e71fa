"""sfvos: SlowFast two-pathway networks for semi-supervised video object segmentation.

Layers, in one direction: ``dvc.yaml`` stage -> thin command in ``stages/`` -> library code
here -> modules built from ``type=`` dicts through :mod:`pipeline.registry`.
Nothing in this package reads ``params.yaml`` or knows about DVC.
"""

__version__ = "0.1.0"

# The Python API (README, "From Python"), imported on first use: torch loads slowly, and
# most of the package (params checks, data) does not need it.
_API = {
    "load_segmenter": "pipeline.engine.vos",
    "finetune": "pipeline.engine.osvos",
    "FinetuneConfig": "pipeline.engine.osvos",
    "Propagator": "pipeline.engine.osvos",
    "VideoSource": "pipeline.engine.video_input",
    "read_first_mask": "pipeline.engine.video_input",
    "PARENT_CHECKPOINT": "pipeline.weights",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_API[name]), name)
