"""Decode a DAVIS root once into ``<cache>/index.parquet`` + ``<cache>/<seq>.npz``.

The Parquet index has a row per frame (sequence, frame, split, year, original size, object
ids present, attributes, measured speed). Each npz holds ``frames`` (T, h, w, 3) uint8 and
``masks`` (T, h, w) uint8 at the working resolution ``(h, w)``. Evaluation still scores at the
ORIGINAL resolution against the DAVIS root itself, as the official toolkit does; the index
keeps the original size so predictions can be upsampled back to it.

Val sequences are checked here for what fine-tuning and evaluation need
(:func:`check_val_sequence`), so that a data problem stops the pipeline before any training.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from tqdm import tqdm

from pipeline.data.davis import VOID, DavisError, Sequence, list_sequences, read_frame, read_mask
from pipeline.data.download import held_out_names, with_origin
from pipeline.data.photos import decode_photos
from pipeline.fileio import atomic_dir
from pipeline.labels import object_ids

INDEX = "index.parquet"
MIN_VAL_FRAMES = 3  # evaluation scores frames 1..N-2 (the semi-supervised protocol)


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, h, w, 3), bilinear (antialiased by PIL); ``frames`` itself
    when it has that size already (PIL would copy each frame unchanged)."""
    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR)) for f in frames])


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W) uint8 ids -> (T, h, w), nearest neighbour (ids must not blend); ``masks``
    itself when it has that size already."""
    h, w = size
    if masks.shape[1:3] == (h, w):
        return masks
    return np.stack([np.asarray(Image.fromarray(m).resize((w, h), Image.NEAREST)) for m in masks])


def vanished_objects(mask: np.ndarray, mask_small: np.ndarray) -> list[tuple[int, int]]:
    """(id, pixels in ``mask``) of every object of ``mask`` that covers no pixel of
    ``mask_small``, its copy at the working size."""
    ids = object_ids(mask)
    return [(k, int((mask == k).sum())) for k in ids if not (mask_small == k).any()]


def check_val_sequence(seq: Sequence, mask0: np.ndarray, mask0_small: np.ndarray) -> None:
    """A DavisError for what the finetune or evaluate stage would refuse: fewer than
    :data:`MIN_VAL_FRAMES` annotated frames, no object in frame 0, or a frame-0 object that
    vanishes at the working size (``mask0_small``)."""
    first, h, w = seq.masks[0], *mask0_small.shape
    if len(seq.masks) < MIN_VAL_FRAMES:
        raise DavisError(
            f"{first.parent}: val sequence {seq.name!r} has {len(seq.masks)} annotated frame(s); "
            f"evaluation scores frames 1..N-2, so it needs at least {MIN_VAL_FRAMES}: add its "
            "masks, or move the sequence to the train split")
    if not object_ids(mask0):
        raise DavisError(
            f"{first}: the frame-0 mask of val sequence {seq.name!r} holds no object; mark "
            "the objects to segment (ids > 0), or move the sequence to the train split")
    for k, pixels in vanished_objects(mask0, mask0_small)[:1]:
        raise DavisError(
            f"{first}: object {k} ({pixels} pixel(s)) of val sequence {seq.name!r} vanishes at "
            f"the working size {w}x{h}; give a larger decode.height / decode.width (fix "
            "params.yaml), or a larger mask of it")


def motion_speed(masks: np.ndarray) -> float:
    """Mean per-frame centroid displacement of each object, over the image diagonal.

    Objects absent in a frame are skipped for the displacements touching that frame; a
    sequence with no displacement at all has speed 0.
    """
    t, h, w = masks.shape
    ids = object_ids(masks)
    yy, xx = np.mgrid[0:h, 0:w]
    steps = []
    for obj in ids:
        cents = []
        for m in masks == obj:
            area = m.sum()
            cents.append((yy[m].mean(), xx[m].mean()) if area else None)
        steps += [np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(cents, cents[1:]) if a and b]
    return float(np.mean(steps) / np.hypot(h, w)) if steps else 0.0


def decode_sequence(seq: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) and id masks (T, H, W) at the original resolution, checked.

    Frames without an annotation (only frame 0 is required) get an all-void mask.
    """
    frames = [read_frame(p) for p in seq.frames]
    for path, frame in zip(seq.frames[1:], frames[1:]):
        if frame.shape != frames[0].shape:
            raise DavisError(
                f"{path}: frame size {frame.shape[1]}x{frame.shape[0]} differs from "
                f"{frames[0].shape[1]}x{frames[0].shape[0]} of {seq.frames[0].name}; all frames "
                f"of sequence {seq.name!r} must have one size"
            )
    hw = frames[0].shape[:2]
    masks = [_checked_mask(p, seq, hw) for p in seq.masks]
    masks += [np.full(hw, VOID, np.uint8)] * (len(frames) - len(masks))
    return np.stack(frames), np.stack(masks)


def _checked_mask(path: Path, seq: Sequence, frame_hw) -> np.ndarray:
    mask = read_mask(path, seq.year)
    if mask.shape != tuple(frame_hw):
        raise DavisError(
            f"{path}: mask size {mask.shape[1]}x{mask.shape[0]} differs from the frame size "
            f"{frame_hw[1]}x{frame_hw[0]} of sequence {seq.name!r}; masks must match their frames"
        )
    return mask


def _index_rows(seq: Sequence, masks: np.ndarray, speed: float, held_out: bool) -> list[dict]:
    """A row per frame of ``seq`` for the Parquet index (``held_out``: a train sequence the
    download stage moved to val, :func:`~pipeline.data.download.hold_out`)."""
    t, h, w = masks.shape
    return [
        {
            "sequence": seq.name,
            "frame": i,
            "split": seq.split,
            "year": seq.year,
            "height": int(h),
            "width": int(w),
            "object_ids": object_ids(masks[i]),
            "attributes": list(seq.attributes),
            "speed": speed,
            "held_out": held_out,
        }
        for i in range(t)
    ]


def decode(davis_root: Path, cache_dir: Path, size: tuple[int, int]) -> Path:
    """Decode every train/val sequence to the working ``size`` (h, w), and the root's still
    photos for pretraining, if it has any (:func:`~pipeline.data.photos.decode_photos`).

    Everything goes into a temp folder renamed at the end: on an error the previous cache
    (or none) stays and nothing half-written is left. An error about a file of a root copied
    from ``download.path`` names the original file too
    (:func:`~pipeline.data.download.with_origin`).
    """
    try:
        return _decode(Path(davis_root), Path(cache_dir), size)
    except DavisError as exc:  # a root copied from download.path: name the original file too
        raise DavisError(with_origin(str(exc), Path(davis_root))) from None


def _decode(davis_root: Path, cache_dir: Path, size: tuple[int, int]) -> Path:
    with atomic_dir(cache_dir) as tmp:
        sequences = list_sequences(davis_root)
        held_out = held_out_names(davis_root)
        tmp.mkdir(parents=True)
        rows: list[dict] = []
        for seq in tqdm(sequences, desc="decode", unit="seq"):
            frames, masks = decode_sequence(seq)
            small = resize_masks(masks, size)
            if seq.split == "val":
                check_val_sequence(seq, masks[0], small[0])
            speed = motion_speed(masks)
            np.savez(tmp / f"{seq.name}.npz", frames=resize_frames(frames, size), masks=small)
            rows += _index_rows(seq, masks, speed, seq.name in held_out)
        pq.write_table(pa.Table.from_pylist(rows), tmp / INDEX)
        decode_photos(davis_root, tmp)
    return cache_dir


def read_index(cache_dir: Path):
    """The frame index as a pyarrow Table."""
    return pq.read_table(Path(cache_dir) / INDEX)


def sequence_table(cache_dir: Path, split: str | None = None) -> list[dict]:
    """One dict per sequence (name, split, year, height, width, num_frames, attributes, speed,
    held_out)."""
    out: dict[str, dict] = {}
    for row in read_index(cache_dir).to_pylist():
        if split is not None and row["split"] != split:
            continue
        info = out.setdefault(
            row["sequence"],
            {k: row[k] for k in ("split", "year", "height", "width", "attributes", "speed")}
            | {"name": row["sequence"], "num_frames": 0, "held_out": row.get("held_out", False)},
        )
        info["num_frames"] += 1
    return list(out.values())


def load_arrays(cache_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(Path(cache_dir) / f"{name}.npz") as data:
        return data["frames"], data["masks"]
