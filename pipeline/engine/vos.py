"""Semi-supervised VOS over a DAVIS split: fine-tune on frame 0, predict, write results.

Results follow the DAVIS layout: ``<results>/<sequence>/00000.png`` palette PNGs of object
ids at the ORIGINAL resolution. Frame 0 is the given mask (void set to background).

Resuming: each finished sequence folder also holds ``.sfvos.json``, its timings and a
fingerprint of what it was computed from (checkpoint, fine-tuning config, device, the
sequence's cached arrays and frame-0 mask, library code). A re-run keeps every sequence whose
fingerprint matches and redoes the others: after a kill only the interrupted one. The folder
is written whole (temp folder, rename), so a sequence is either finished or absent.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.data.cache import load_arrays, sequence_table
from pipeline.data.davis import VOID, list_sequences, read_mask, write_palette_png
from pipeline.engine.checkpoint import library_digest, load_weights
from pipeline.engine.dist import device_for, gather, process_group
from pipeline.engine.osvos import FinetuneConfig, classes_to_ids, finetune, frame0_labels, propagate
from pipeline.errors import CheckpointError, ConfigError, InputError, TrainingDivergedError
from pipeline.fileio import atomic_dir
from pipeline.labels import object_ids
from pipeline.models import build_segmenter
from pipeline.models.complexity import complexity
from pipeline.timing import FinetuneTiming

STAMP = ".sfvos.json"
# The code fine-tuning runs (as the finetune stage's deps in dvc.yaml); not evaluation or figures.
CODE = ("data", "models", "engine", "labels.py", "registry.py", "errors.py", "fileio.py", "timing.py")


def load_segmenter(checkpoint: Path, pathways: str | None = None):
    """The pretrained segmenter from a checkpoint written by :func:`save_model`."""
    ckpt = load_weights(checkpoint)
    cfg = dict(ckpt["model_cfg"])
    if pathways is not None and pathways != cfg.get("pathways"):
        raise ConfigError(
            f"{checkpoint}: trained with pathways={cfg.get('pathways')!r}, asked for {pathways!r}; "
            "give a checkpoint of those pathways or drop --pathways"
        )
    try:
        model = build_segmenter(cfg)
        model.load_state_dict(ckpt["state_dict"])
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise CheckpointError(f"{checkpoint}: its weights do not fit its model config ({first}); "
                              "give weights written by this pipeline's pretrain stage") from None
    return model


def write_sequence(out_dir: Path, ids: np.ndarray, stamp: dict | None = None) -> None:
    """Write (T, H, W) ids as ``out_dir/00000.png...`` (and ``stamp`` as its ``.sfvos.json``)
    via a temp folder and a rename."""
    with atomic_dir(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for t, frame in enumerate(ids):
            write_palette_png(tmp / f"{t:05d}.png", frame)
        if stamp is not None:
            (tmp / STAMP).write_text(json.dumps(stamp, indent=1))


def segment_sequence(model, frames: np.ndarray, mask0: np.ndarray, mask0_small: np.ndarray,
                     cfg: FinetuneConfig, device: str = "cpu",
                     progress=None) -> tuple[np.ndarray, dict]:
    """One sequence: (T, H, W) ids at the size of ``mask0`` and timings. ``model``: a fresh
    parent network (:func:`load_segmenter`), fine-tuned here in place."""
    ids0 = object_ids(mask0)
    if not ids0:
        raise InputError("the frame-0 mask is empty: there is no object to segment; mark the "
                         "object(s) with ids > 0")
    labels0 = frame0_labels(mask0_small, ids0)
    t0 = time.perf_counter()
    losses = finetune(model, frames, labels0, cfg, device, progress) if cfg.steps else []
    t1 = time.perf_counter()
    counts = {}
    classes = propagate(model, frames, labels0, cfg.clip_len, out_size=mask0.shape, device=device,
                        counts=counts, **cfg.predict_options())
    t2 = time.perf_counter()
    ids = classes_to_ids(classes, ids0)
    ids[0] = np.where(mask0 == VOID, 0, mask0)
    timing = {
        "finetune_s": t1 - t0,
        "predict_s": t2 - t1,
        "predict_fps": len(frames) / max(t2 - t1, 1e-9),
        "final_loss": losses[-1] if losses else None,
        "objects": len(ids0),
        "clips": counts["clips"],
        "mirrored": counts["mirrored"],
    }
    return ids, timing


def _run_fingerprint(checkpoint: Path, cfg: FinetuneConfig, device: str) -> hashlib.sha256:
    digest = hashlib.sha256(Path(checkpoint).read_bytes())
    digest.update(json.dumps([asdict(cfg), device], sort_keys=True, default=str).encode())
    digest.update(library_digest(CODE))
    return digest


def _finished(out_dir: Path, fingerprint: str) -> dict | None:
    """The timings of a sequence already segmented with this fingerprint, else None."""
    try:
        stamp = json.loads((out_dir / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp.get("timing") if stamp.get("fingerprint") == fingerprint else None


def _drop_stale(results_dir: Path, names: list[str]) -> None:
    """Remove sequence folders of an earlier run that are not in this split."""
    for entry in results_dir.iterdir():
        if entry.is_dir() and entry.name not in names and not entry.name.endswith(".tmp"):
            shutil.rmtree(entry)


def run_split(cache_dir: Path, davis_root: Path, checkpoint: Path, results_dir: Path,
              cfg: FinetuneConfig, split: str = "val", rank: int = 0, world_size: int = 1,
              device: str = "cpu") -> dict:
    """Segment every sequence of ``split`` (sequence i goes to rank i % world_size); sequences
    already finished with the same checkpoint, config and data are kept (see the module doc)."""
    if not (Path(cache_dir) / "index.parquet").is_file():
        raise InputError(f"{cache_dir}: no decoded cache (index.parquet); run `dvc repro decode`")
    every = [s["name"] for s in sequence_table(cache_dir, split)]
    names = every[rank::world_size]
    by_name = {s.name: s for s in list_sequences(Path(davis_root), (split,))}
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        _drop_stale(results_dir, every)
    run = _run_fingerprint(checkpoint, cfg, device)
    timings = {}
    with tqdm(total=len(names) * cfg.steps, desc=f"finetune[{rank}]", unit="step") as bar:
        for name in names:
            seq = by_name[name]
            fingerprint = run.copy()
            fingerprint.update(Path(cache_dir, f"{name}.npz").read_bytes())
            fingerprint.update(Path(seq.masks[0]).read_bytes())
            fingerprint = fingerprint.hexdigest()
            if (timing := _finished(results_dir / name, fingerprint)) is not None:
                bar.update(cfg.steps)
                timings[name] = timing
                continue
            frames, masks_small = load_arrays(cache_dir, name)
            mask0 = read_mask(seq.masks[0], seq.year)
            try:
                ids, timing = segment_sequence(load_segmenter(checkpoint), frames, mask0,
                                               masks_small[0], cfg, device, bar)
            except TrainingDivergedError as exc:
                raise TrainingDivergedError(f"sequence {name}: {exc}") from None
            timings[name] = timing | {"rank": rank}
            write_sequence(results_dir / name, ids, {"fingerprint": fingerprint,
                                                     "timing": timings[name]})
    return timings


def finetune_split(cache_dir: Path, davis_root: Path, checkpoint: Path, results_dir: Path,
                   timing_path: Path, cfg: FinetuneConfig, model) -> FinetuneTiming | None:
    """The finetune stage: :func:`run_split` on ``val``, sharded across ``torchrun`` ranks
    (sequence i on rank i % N); rank 0 writes the merged :class:`FinetuneTiming` (``model``:
    the checkpoint's segmenter, for the compute accounting) and returns it."""
    with process_group() as (rank, world):
        mine = run_split(cache_dir, davis_root, checkpoint, results_dir, cfg, "val", rank, world,
                         device_for(rank))
        timings = {k: v for part in gather(mine, world) for k, v in part.items()}
        if rank != 0:
            return None
    # Each predicted frame of each object costs one clip of clip_len crops (the clip ends at
    # that frame, and test_flip adds its mirror image where the clip is uncertain), decoded
    # for its last frame only: per frame and object, the GFLOPs of 1 + (the share of clips
    # mirrored) such passes.
    clip = complexity(model, cfg.clip_len, model.crop_size, model.crop_size, mode="predict_last")
    predicted = sum(t["clips"] for t in timings.values())
    clips = 1 + sum(t["mirrored"] for t in timings.values()) / max(predicted, 1)
    record = FinetuneTiming(
        sequences=dict(sorted(timings.items())),
        compute=clip | {"gflops_per_frame": clips * clip["gflops_per_clip"], "crop_size": model.crop_size},
        world_size=world,
    )
    record.write(timing_path)
    return record
