"""Segment a user's own video from the mask of its first frame (the ``sfvos segment`` command).

Input is a video file (mp4, avi, mov, ... via imageio's ffmpeg plugin) or a folder of
frames (sorted by name); the mask is a PNG of frame 0: palette ids (255 = void, as DAVIS
2017), a binary 0/255 grayscale mask (one object, as DAVIS 2016) or grayscale ids.
Outputs: palette PNGs ``<out>/00000.png...`` of the original ids, ``overlay.mp4`` and
``areas.csv`` (pixels per object per frame).
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from pipeline.data.cache import resize_frames, resize_masks
from pipeline.data.davis import read_mask_as_ids, write_palette_png
from pipeline.engine.osvos import FinetuneConfig
from pipeline.engine.vos import segment_sequence
from pipeline.visualize import blend, write_video

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class SegmentError(ValueError):
    """The user's input cannot be segmented; the message says why and what to do."""


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """(T, H, W, 3) uint8 frames and the frame rate (10 for a folder of frames)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
        if not files:
            raise SegmentError(f"{path}: no frames ({', '.join(FRAME_SUFFIXES)}) in this folder")
        import imageio.v3 as iio

        frames = [np.asarray(iio.imread(f))[..., :3] for f in files]
        if len({f.shape for f in frames}) != 1:
            raise SegmentError(f"{path}: frames differ in size; all frames must be the same size")
        return np.stack(frames), 10.0
    if not path.is_file():
        raise SegmentError(f"{path}: no such video file or folder of frames")
    try:
        import imageio.v2 as iio2

        with iio2.get_reader(path, "ffmpeg") as reader:
            fps = float(reader.get_meta_data().get("fps") or 10.0)
            frames = [np.asarray(f)[..., :3] for f in reader]
    except Exception as exc:  # imageio/ffmpeg raise many types for a bad file
        raise SegmentError(f"{path}: cannot read the video ({type(exc).__name__}: {exc}); "
                           "give an mp4/avi/mov file or a folder of frames") from None
    if not frames:
        raise SegmentError(f"{path}: the video has no frames")
    return np.stack(frames), fps


def read_first_mask(path: Path, frame_hw: tuple[int, int]) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise SegmentError(f"{path}: mask file not found")
    try:
        mask = read_mask_as_ids(path)
        with Image.open(path) as image:
            palette = image.mode == "P"
    except Exception as exc:
        raise SegmentError(f"{path}: cannot read the mask ({exc})") from None
    if not palette and set(np.unique(mask).tolist()) <= {0, 255}:
        mask = (mask > 0).astype(np.uint8)  # a binary 0/255 mask (DAVIS 2016 style): one object
    if mask.shape != tuple(frame_hw):
        raise SegmentError(
            f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but the video's frames are "
            f"{frame_hw[1]}x{frame_hw[0]}; give the mask of frame 0 at the video's size"
        )
    if not (mask[mask != 255] > 0).any():
        raise SegmentError(f"{path}: the mask is empty; mark the object(s) in frame 0 with ids > 0")
    return mask


def segment_video(video: Path, mask_path: Path, checkpoint: Path, out_dir: Path,
                  cfg: FinetuneConfig, height: int = 480, width: int | None = None,
                  device: str = "cpu", pathways: str | None = None) -> dict:
    """Fine-tune on frame 0, segment every frame, write PNGs, overlay.mp4 and areas.csv."""
    if not Path(checkpoint).is_file():
        raise SegmentError(
            f"{checkpoint}: no checkpoint; run `make repro` to train one, or pass --checkpoint"
        )
    frames, fps = read_video(video)
    mask = read_first_mask(mask_path, frames.shape[1:3])
    size = working_size(frames.shape[1:3], height, width)
    small = resize_frames(frames, size)
    mask_small = resize_masks(mask[None], size)[0]
    t0 = time.perf_counter()
    with tqdm(total=cfg.steps, desc="finetune", unit="step") as bar:
        ids, timing = segment_sequence(checkpoint, small, mask, mask_small, cfg, device, bar,
                                       pathways)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for t, frame_ids in enumerate(tqdm(ids, desc="write", unit="frame")):
        write_palette_png(out_dir / f"{t:05d}.png", frame_ids)
    write_video(out_dir / "overlay.mp4", blend(frames, ids), fps)
    objects = sorted(int(i) for i in np.unique(mask) if i not in (0, 255))
    with (out_dir / "areas.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame"] + [f"object_{k}" for k in objects])
        for t, frame_ids in enumerate(ids):
            writer.writerow([t] + [int((frame_ids == k).sum()) for k in objects])
    seconds = time.perf_counter() - t0
    return {"frames": len(frames), "objects": len(objects), "seconds": seconds,
            "fps": len(frames) / seconds, **timing}


def working_size(frame_hw: tuple[int, int], height: int, width: int | None) -> tuple[int, int]:
    """(height, width); a missing width keeps the aspect ratio, rounded to a multiple of 16.

    Frames no taller than ``height`` (and no ``width`` given) are used as they are: the
    network sees object-centred crops, so there is no gain in shrinking them.
    """
    if width is None and frame_hw[0] <= height:
        return tuple(frame_hw)
    if width is None:
        width = max(16, int(round(frame_hw[1] * height / frame_hw[0] / 16)) * 16)
    return height, width
