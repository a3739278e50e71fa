"""Checkpoint I/O that works with torch >= 2.6 (``torch.load`` defaults to weights_only=True).

mmengine 0.10.7 pickles numpy/message-hub state into its checkpoints and loads them with a
plain ``torch.load``, which now refuses them. :func:`register_trusted_loader` replaces its
local-file loader with one that passes ``weights_only=False``: our own checkpoints, written
by this pipeline, are trusted. Files from elsewhere should be loaded with
:func:`load_weights` only, which stays on ``weights_only=True``.
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from pipeline.errors import CheckpointError
from pipeline.fileio import atomic_path
from pipeline.models.legacy import upgrade_checkpoint


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
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, "model_cfg": model_cfg, "meta": meta or {}}, tmp)


def load_weights(path: Path) -> dict:
    """A checkpoint written by :func:`save_model` (tensors, dicts, strings only).

    Anything else raises :class:`CheckpointError`: a missing or truncated file, a pickle that
    holds other Python objects (code could run on loading: refused, never executed), or a
    torch file without the ``state_dict`` and ``model_cfg`` that :func:`save_model` writes,
    or weights holding NaN or infinite values.
    Checkpoints of an earlier layout come back in today's (:func:`upgrade_checkpoint`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no checkpoint; run `make repro` (or `dvc repro pretrain`) to train one"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        if isinstance(exc, pickle.UnpicklingError) and "weights only" in first.lower():
            raise CheckpointError(
                f"{path}: refused: the file holds Python objects other than tensors (code could "
                "run on loading); use a checkpoint written by this pipeline") from None
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({first}); the file is "
                              "truncated or corrupt: train it again or copy it again") from None
    if not isinstance(ckpt, dict) or not {"state_dict", "model_cfg"} <= set(ckpt):
        raise CheckpointError(
            f"{path}: not a checkpoint of this pipeline (no state_dict and model_cfg); give the "
            "weights written by the pretrain stage (data/pretrain/model.pth)")
    bad = next((k for k, v in ckpt["state_dict"].items()
                if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad} holds NaN or infinite values (the training "
                              "that wrote it diverged); use an earlier checkpoint or train again")
    return upgrade_checkpoint(ckpt)


def library_digest(parts: tuple[str, ...]) -> bytes:
    """SHA-256 of the source files of ``parts`` of the library (subpackages or modules,
    relative to ``pipeline/``, e.g. ``("data", "registry.py")``): the code a resumable result
    was computed with. Each part's name is hashed too, so moving code between parts counts."""
    library = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for part in sorted(parts):
        path = library / part
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(source.relative_to(library)).encode())
            digest.update(source.read_bytes())
    return digest.digest()
