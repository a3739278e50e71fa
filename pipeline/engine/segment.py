"""Segment a user's own video from the mask of its first frame (the ``sfvos segment`` command).

The video and the mask are read by :mod:`pipeline.engine.video_input`. Outputs: palette PNGs
``<out>/00000.png...`` of the original ids, ``overlay.mp4``, ``areas.csv`` (pixels per object
per frame) and ``.sfvos-segment.json`` (what the folder was made from; it marks the folder as
a result that the next run on it may replace).

The output folder is written whole: into ``<out>.tmp`` beside it, renamed into place at the
end, so an interrupted run leaves the earlier folder (or none), never a mix. ``<out>.lock``
(created exclusively) keeps a second run off the same ``--out`` while one runs. A non-empty
``--out`` without the marker is refused, as is one inside the input folder or holding the
input or the mask.
"""
from __future__ import annotations

import json
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from pipeline.data.cache import resize_frames, resize_masks, vanished_objects
from pipeline.data.davis import VOID, write_palette_png
from pipeline.engine.osvos import FinetuneConfig
from pipeline.engine.video_input import (SegmentError, read_first_mask,  # noqa: F401 (re-exported)
                                         read_video, rgb_to_ids)
from pipeline.engine.vos import load_segmenter, segment_sequence
from pipeline.errors import ConfigError, TrainingDivergedError
from pipeline.fileio import atomic_dir, exclusive_lock, write_csv_atomic
from pipeline.visualize import blend, write_video

MARKER = ".sfvos-segment.json"
DEFAULT_HEIGHT = 480


def segment_video(video: Path, mask_path: Path, checkpoint: Path, out_dir: Path,
                  cfg: FinetuneConfig, height: int | None = None, width: int | None = None,
                  device: str = "cpu", pathways: str | None = None) -> dict:
    """Fine-tune on frame 0, segment every frame, write PNGs, overlay.mp4 and areas.csv.

    The options, the output folder and the checkpoint are checked before the video is read.
    """
    if not Path(checkpoint).is_file():
        raise SegmentError(
            f"{checkpoint}: no checkpoint; run `make repro` to train one, or pass --checkpoint"
        )
    check_options(cfg, height, width, device, pathways)
    model = load_segmenter(checkpoint, pathways)  # readable, ours and of the asked pathways
    out_dir = Path(out_dir)
    with output_folder(out_dir, video, mask_path) as tmp:
        frames, fps = read_video(video)
        mask = read_first_mask(mask_path, frames.shape[1:3])
        size = working_size(frames.shape[1:3], height, width)
        mask_small = resize_masks(mask[None], size)[0]
        check_objects_kept(mask_path, mask, mask_small)
        small = resize_frames(frames, size)
        t0 = time.perf_counter()
        ids, timing = _segment(model, small, mask, mask_small, cfg, device, checkpoint)
        objects = write_outputs(tmp, frames, ids, mask, fps)
        (tmp / MARKER).write_text(json.dumps({"input": str(video), "mask": str(mask_path),
                                              "checkpoint": str(checkpoint),
                                              "frames": len(frames)}, indent=1))
        seconds = time.perf_counter() - t0
    return {"frames": len(frames), "objects": len(objects), "seconds": seconds,
            "fps": len(frames) / seconds, **timing}


def _segment(model, small: np.ndarray, mask: np.ndarray, mask_small: np.ndarray,
             cfg: FinetuneConfig, device: str, checkpoint: Path) -> tuple[np.ndarray, dict]:
    """:func:`segment_sequence` with a progress bar; a diverged fine-tuning says what the
    command can change (it has no learning-rate option)."""
    try:
        with tqdm(total=cfg.steps, desc="finetune", unit="step") as bar:
            return segment_sequence(model, small, mask, mask_small, cfg, device, bar)
    except TrainingDivergedError as exc:
        what = str(exc).split(";")[0]
        raise TrainingDivergedError(
            f"{checkpoint}: fine-tuning on frame 0 diverged ({what}); run with fewer --steps or "
            "--steps 0 (the checkpoint as it is), or give another --checkpoint") from None


def write_outputs(out: Path, frames: np.ndarray, ids: np.ndarray, mask: np.ndarray,
                  fps: float) -> list[int]:
    """The PNGs, overlay.mp4 and areas.csv in the (empty) folder ``out``; the object ids."""
    for t, frame_ids in enumerate(tqdm(ids, desc="write", unit="frame")):
        write_palette_png(out / f"{t:05d}.png", frame_ids)
    write_video(out / "overlay.mp4", blend(frames, ids), fps)
    objects = sorted(int(i) for i in np.unique(mask) if i not in (0, VOID))
    write_csv_atomic(out / "areas.csv", ["frame"] + [f"object_{k}" for k in objects],
                     [[t] + [int((frame_ids == k).sum()) for k in objects]
                      for t, frame_ids in enumerate(ids)])
    return objects


@contextmanager
def output_folder(out: Path, video: Path, mask: Path) -> Iterator[Path]:
    """Yield an empty temp folder that replaces ``out`` whole on success, with ``out`` locked
    against a second run; ``out`` is checked first (:func:`check_out`)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; give a folder for the outputs "
                          "(it is created)")
    lock = out.with_name(out.name + ".lock")
    with ExitStack() as stack:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                stack.enter_context(exclusive_lock(lock))
            except FileExistsError:
                raise ConfigError(f"--out {out}: another sfvos segment is writing it ({lock} "
                                  "exists); wait for it to finish, or give another --out") from None
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot create the folder ({exc.strerror}); give a "
                              "writable folder") from None
        check_out(out, video, mask)
        tmp = stack.enter_context(atomic_dir(out))
        tmp.mkdir()
        yield tmp


def check_out(out: Path, video: Path, mask: Path) -> None:
    """``--out`` may be new, empty or an earlier result (it holds :data:`MARKER`); never the
    input folder or inside it, never a folder holding the input or the mask."""
    resolved = out.resolve()
    if Path(video).is_dir() and resolved.is_relative_to(Path(video).resolve()):
        raise ConfigError(f"--out {out}: inside the input folder {video}, whose frames it would "
                          "overwrite; give a folder outside it")
    for what, path in (("input", video), ("mask", mask)):
        if Path(path).resolve().is_relative_to(resolved):
            raise ConfigError(f"--out {out}: holds the {what} {path}, which replacing the folder "
                              "would delete; give another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ConfigError(f"--out {out}: not empty and not an earlier sfvos segment result (no "
                          f"{MARKER}); give a new or empty folder")


def check_objects_kept(mask_path: Path, mask: np.ndarray, mask_small: np.ndarray) -> None:
    """Every object of the mask still covers a pixel at the working size, or a SegmentError."""
    for k, pixels in vanished_objects(mask, mask_small)[:1]:
        raise SegmentError(
            f"{mask_path}: object {k} ({pixels} pixel(s)) vanishes at the working size "
            f"{mask_small.shape[1]}x{mask_small.shape[0]}; give a larger --height (or --width), "
            "or a larger mask of it")


def check_options(cfg: FinetuneConfig, height: int | None, width: int | None, device: str,
                  pathways: str | None = None) -> None:
    """``--steps``, ``--height``, ``--width``, ``--device`` and ``--pathways`` that can work,
    or a ConfigError."""
    import torch

    from pipeline.models.slowfast import PATHWAYS

    if cfg.steps < 0:
        raise ConfigError(f"--steps {cfg.steps}: must be >= 0 (0 = the checkpoint as it is)")
    for option, value in (("--height", height), ("--width", width)):
        if value is not None and value < 16:
            raise ConfigError(f"{option} {value}: the working size must be >= 16 pixels")
    if pathways is not None and pathways not in PATHWAYS:
        raise ConfigError(f"--pathways {pathways}: not one of {', '.join(PATHWAYS)}; give one "
                          "of them or drop --pathways")
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ConfigError(f"--device {device}: not a device; use cpu or cuda") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available here (no GPU or a CPU "
                          "build of torch); use --device cpu")
    if kind not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device}: use cpu or cuda")


def working_size(frame_hw: tuple[int, int], height: int | None,
                 width: int | None) -> tuple[int, int]:
    """(height, width); a missing side keeps the aspect ratio, rounded to a multiple of 16.

    Without ``width``, frames no taller than ``height`` (default 480) are used as they are:
    the network sees object-centred crops, so there is no gain in shrinking them.
    """
    if width is None:
        height = height or DEFAULT_HEIGHT
        if frame_hw[0] <= height:
            return tuple(frame_hw)
        return height, _other_side(frame_hw[1], frame_hw[0], height)
    return height or _other_side(frame_hw[0], frame_hw[1], width), width


def _other_side(other: int, side: int, target: int) -> int:
    """The length of a frame's ``other`` side when its ``side`` becomes ``target`` (aspect
    kept), rounded to a multiple of 16, at least 16."""
    return max(16, int(round(other * target / side / 16)) * 16)
