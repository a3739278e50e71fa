"""Overlay videos: predicted masks blended in their DAVIS palette colours on the frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.davis import read_frame, read_mask_as_ids
from pipeline.visualize import blend, write_video


def write_overlay(path: Path, frames: list[Path], results: list[Path], *, binary: bool = False,
                  stride: int = 2, fps: float = 10.0) -> Path:
    """A GIF of ``results`` blended on ``frames`` (pairs in order), every ``stride``-th pixel
    (half size by default, to keep the files small). ``binary``: any non-zero id is object 1
    (DAVIS 2016 results, 0/255)."""
    images = []
    for frame_path, result_path in zip(frames, results):
        ids = read_mask_as_ids(result_path)
        ids = (ids > 0).astype(np.uint8) if binary else ids
        images.append(blend(read_frame(frame_path), ids)[::stride, ::stride])
    write_video(path, np.stack(images), fps)
    return path


def write_overlays(results_dir: Path, davis_root: Path, out_dir: Path, sequences: list[str], *,
                   binary: bool = False) -> list[Path]:
    """``out_dir/<seq>.gif`` for each of ``sequences``: the frames of
    ``davis_root/JPEGImages/480p/<seq>/`` that have a result PNG, with it blended on."""
    written = []
    for name in sequences:
        results = sorted((Path(results_dir) / name).glob("*.png"))
        frame_dir = Path(davis_root) / "JPEGImages" / "480p" / name
        frames = [frame_dir / f"{r.stem}.jpg" for r in results]
        written.append(write_overlay(Path(out_dir) / f"{name}.gif", frames, results, binary=binary))
    return written
