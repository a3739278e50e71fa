"""Semi-supervised VOS over a DAVIS split: fine-tune on frame 0, predict, write results.

Results follow the DAVIS layout: ``<results>/<sequence>/00000.png`` palette PNGs of object
ids at the ORIGINAL resolution. Frame 0 is the given mask (void set to background).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.data.cache import load_arrays, sequence_table
from pipeline.data.davis import VOID, list_sequences, read_mask, write_palette_png
from pipeline.engine.checkpoint import load_weights
from pipeline.engine.osvos import FinetuneConfig, classes_to_ids, finetune, frame0_labels, propagate
from pipeline.models import build_segmenter


def load_segmenter(checkpoint: Path, pathways: str | None = None):
    """The pretrained segmenter from a checkpoint written by :func:`save_model`."""
    ckpt = load_weights(checkpoint)
    cfg = dict(ckpt["model_cfg"])
    if pathways is not None and pathways != cfg.get("pathways"):
        raise ValueError(
            f"{checkpoint}: trained with pathways={cfg.get('pathways')!r}, asked for {pathways!r}"
        )
    model = build_segmenter(cfg)
    model.load_state_dict(ckpt["state_dict"])
    return model


def write_sequence(out_dir: Path, ids: np.ndarray) -> None:
    """Write (T, H, W) ids as ``out_dir/00000.png...`` via a temp folder and a rename."""
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for t, frame in enumerate(ids):
        write_palette_png(tmp / f"{t:05d}.png", frame)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.replace(out_dir)


def segment_sequence(checkpoint: Path, frames: np.ndarray, mask0: np.ndarray,
                     mask0_small: np.ndarray, cfg: FinetuneConfig, device: str = "cpu",
                     progress=None, pathways: str | None = None) -> tuple[np.ndarray, dict]:
    """One sequence: (T, H, W) ids at the size of ``mask0`` and timings."""
    object_ids = sorted(int(i) for i in np.unique(mask0) if i not in (0, VOID))
    if not object_ids:
        raise ValueError("the frame-0 mask is empty: there is no object to segment")
    model = load_segmenter(checkpoint, pathways)
    labels0 = frame0_labels(mask0_small, object_ids)
    t0 = time.perf_counter()
    losses = finetune(model, frames, labels0, cfg, device, progress) if cfg.steps else []
    t1 = time.perf_counter()
    classes = propagate(model, frames, labels0, cfg.clip_len, out_size=mask0.shape, device=device)
    t2 = time.perf_counter()
    ids = classes_to_ids(classes, object_ids)
    ids[0] = np.where(mask0 == VOID, 0, mask0)
    timing = {
        "finetune_s": t1 - t0,
        "predict_s": t2 - t1,
        "predict_fps": len(frames) / max(t2 - t1, 1e-9),
        "final_loss": losses[-1] if losses else None,
        "objects": len(object_ids),
    }
    return ids, timing


def run_split(cache_dir: Path, davis_root: Path, checkpoint: Path, results_dir: Path,
              cfg: FinetuneConfig, split: str = "val", rank: int = 0, world_size: int = 1,
              device: str = "cpu") -> dict:
    """Segment every sequence of ``split`` (sequence i goes to rank i % world_size)."""
    names = [s["name"] for s in sequence_table(cache_dir, split)][rank::world_size]
    by_name = {s.name: s for s in list_sequences(Path(davis_root), (split,))}
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    with tqdm(total=len(names) * cfg.steps, desc=f"finetune[{rank}]", unit="step") as bar:
        for name in names:
            seq = by_name[name]
            frames, masks_small = load_arrays(cache_dir, name)
            mask0 = read_mask(seq.masks[0], seq.year)
            ids, timing = segment_sequence(checkpoint, frames, mask0, masks_small[0], cfg, device, bar)
            write_sequence(results_dir / name, ids)
            timings[name] = timing | {"rank": rank}
    return timings
