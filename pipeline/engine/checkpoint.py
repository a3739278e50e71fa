"""Checkpoint I/O that works with torch >= 2.6 (``torch.load`` defaults to weights_only=True).

mmengine 0.10.7 pickles numpy/message-hub state into its checkpoints and loads them with a
plain ``torch.load``, which now refuses them. :func:`register_trusted_loader` replaces its
local-file loader with one that passes ``weights_only=False``: our own checkpoints, written
by this pipeline, are trusted. Files from elsewhere should be loaded with
:func:`load_weights` only, which stays on ``weights_only=True``.
"""
from __future__ import annotations

from pathlib import Path

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def _load_trusted_local(filename: str, map_location=None):
    path = Path(filename).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    return torch.load(path, map_location=map_location, weights_only=False)


def register_trusted_loader() -> None:
    """Make mmengine's resume / load_from read our local checkpoints (idempotent)."""
    CheckpointLoader.register_scheme(prefixes="", force=True)(_load_trusted_local)


def save_model(path: Path, model: torch.nn.Module, model_cfg: dict, meta: dict | None = None) -> None:
    """Weights + the ``model:`` config that builds them, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "model_cfg": model_cfg, "meta": meta or {}}, tmp)
    tmp.replace(path)


def load_weights(path: Path) -> dict:
    """A checkpoint written by :func:`save_model` (tensors, dicts, strings only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no checkpoint; run `make repro` (or `dvc repro pretrain`) to train one"
        )
    return torch.load(path, map_location="cpu", weights_only=True)
