"""Decode a DAVIS root once into ``<cache>/index.parquet`` + ``<cache>/<seq>.npz``.

The Parquet index has a row per frame (sequence, frame, split, year, original size, object
ids present, attributes, measured speed). Each npz holds ``frames`` (T, h, w, 3) uint8 and
``masks`` (T, h, w) uint8 at the working resolution ``(h, w)``. Evaluation still scores at the
ORIGINAL resolution against the DAVIS root itself, as the official toolkit does; the index
keeps the original size so predictions can be upsampled back to it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from tqdm import tqdm

from pipeline.data.davis import VOID, DavisError, Sequence, list_sequences, read_frame, read_mask

INDEX = "index.parquet"


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, h, w, 3), bilinear (antialiased by PIL)."""
    h, w = size
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR)) for f in frames])


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W) uint8 ids -> (T, h, w), nearest neighbour (ids must not blend)."""
    h, w = size
    return np.stack([np.asarray(Image.fromarray(m).resize((w, h), Image.NEAREST)) for m in masks])


def motion_speed(masks: np.ndarray) -> float:
    """Mean per-frame centroid displacement of each object, over the image diagonal.

    Objects absent in a frame are skipped for the displacements touching that frame; a
    sequence with no displacement at all has speed 0.
    """
    t, h, w = masks.shape
    ids = [i for i in np.unique(masks) if i not in (0, VOID)]
    yy, xx = np.mgrid[0:h, 0:w]
    steps = []
    for obj in ids:
        cents = []
        for m in masks == obj:
            area = m.sum()
            cents.append((yy[m].mean(), xx[m].mean()) if area else None)
        steps += [np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(cents, cents[1:]) if a and b]
    return float(np.mean(steps) / np.hypot(h, w)) if steps else 0.0


def decode_sequence(seq: Sequence, size: tuple[int, int]):
    frames = np.stack([read_frame(p) for p in seq.frames])
    masks = np.stack([_checked_mask(p, seq, frames.shape[1:3]) for p in seq.masks])
    return frames, masks


def _checked_mask(path: Path, seq: Sequence, frame_hw) -> np.ndarray:
    mask = read_mask(path, seq.year)
    if mask.shape != tuple(frame_hw):
        raise DavisError(
            f"{path}: mask size {mask.shape[1]}x{mask.shape[0]} differs from the frame size "
            f"{frame_hw[1]}x{frame_hw[0]} of sequence {seq.name!r}; masks must match their frames"
        )
    return mask


def decode(davis_root: Path, cache_dir: Path, size: tuple[int, int]) -> Path:
    """Decode every train/val sequence; writes into a temp folder and renames at the end."""
    cache_dir = Path(cache_dir)
    tmp = cache_dir.with_name(cache_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sequences = list_sequences(Path(davis_root))
    rows: list[dict] = []
    for seq in tqdm(sequences, desc="decode", unit="seq"):
        frames, masks = decode_sequence(seq, size)
        speed = motion_speed(masks)
        small_f, small_m = resize_frames(frames, size), resize_masks(masks, size)
        np.savez(tmp / f"{seq.name}.npz", frames=small_f, masks=small_m)
        for t in range(len(frames)):
            present = masks[t] if t < len(masks) else np.zeros(1, np.uint8)
            rows.append(
                {
                    "sequence": seq.name,
                    "frame": t,
                    "split": seq.split,
                    "year": seq.year,
                    "height": int(frames.shape[1]),
                    "width": int(frames.shape[2]),
                    "object_ids": [int(i) for i in np.unique(present) if i not in (0, VOID)],
                    "attributes": list(seq.attributes),
                    "speed": speed,
                }
            )
    pq.write_table(pa.Table.from_pylist(rows), tmp / INDEX)
    shutil.rmtree(cache_dir, ignore_errors=True)
    tmp.replace(cache_dir)
    return cache_dir


def read_index(cache_dir: Path):
    """The frame index as a pyarrow Table."""
    return pq.read_table(Path(cache_dir) / INDEX)


def sequence_table(cache_dir: Path, split: str | None = None) -> list[dict]:
    """One dict per sequence (name, split, year, height, width, num_frames, attributes, speed)."""
    out: dict[str, dict] = {}
    for row in read_index(cache_dir).to_pylist():
        if split is not None and row["split"] != split:
            continue
        info = out.setdefault(
            row["sequence"],
            {k: row[k] for k in ("split", "year", "height", "width", "attributes", "speed")}
            | {"name": row["sequence"], "num_frames": 0},
        )
        info["num_frames"] += 1
    return list(out.values())


def load_arrays(cache_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(Path(cache_dir) / f"{name}.npz") as data:
        return data["frames"], data["masks"]
