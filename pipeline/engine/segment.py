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

import functools
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from pipeline.data.cache import resize_frames, resize_masks, vanished_objects
from pipeline.data.davis import VOID, write_palette_png
from pipeline.engine.osvos import FinetuneConfig, Propagator, classes_to_ids, finetune
from pipeline.engine.video_input import (SegmentError, VideoSource,  # noqa: F401 (re-exported)
                                         read_first_mask, read_video, rgb_to_ids)
from pipeline.engine.vos import load_segmenter
from pipeline.errors import ConfigError, TrainingDivergedError
from pipeline.fileio import atomic_dir, atomic_path, exclusive_lock, write_csv_atomic
from pipeline.labels import object_ids
from pipeline.runtime import core_for_flow
from pipeline.visualize import blend, mp4_writer

MARKER = ".sfvos-segment.json"
DEFAULT_HEIGHT = 480


def segment_video(video: Path, mask_path: Path | list[tuple[int, Path]], checkpoint: Path,
                  out_dir: Path, cfg: FinetuneConfig, height: int | None = None,
                  width: int | None = None, device: str = "cpu", pathways: str | None = None,
                  per_object: bool = False) -> dict:
    """Fine-tune on frame 0, segment every frame, write PNGs, overlay.mp4 and areas.csv (and
    with ``per_object`` a folder ``object_<id>/`` of 0/255 PNGs per object).

    ``mask_path``: frame 0's mask, or ``(frame, mask)`` pairs, frame 0's among them: a mask
    at a later frame adds the objects it holds that are new (tracked from that frame on) and
    resets the known ones it holds (a correction). The frames are streamed: read, segmented
    and written one at a time, so memory does not grow with the video's length; fine-tuning
    holds the first ``(clip_len - 1) * tau + 1`` frames, all it trains on. The options, the
    output folder and the checkpoint are checked before the video is read.
    """
    if not Path(checkpoint).is_file():
        raise SegmentError(
            f"{checkpoint}: no checkpoint; run `make repro` to train one, or pass --checkpoint"
        )
    masks = dict(_mask_list(mask_path))
    check_options(cfg, height, width, device, pathways)
    model = load_segmenter(checkpoint, pathways)  # readable, ours and of the asked pathways
    if cfg.steps and cfg.frozen_scales > model.backbone.num_scales:
        raise ConfigError(f"--frozen-scales {cfg.frozen_scales}: {checkpoint}'s backbone has "
                          f"{model.backbone.num_scales} scales; give 0 to {model.backbone.num_scales}")
    out_dir = Path(out_dir)
    with output_folder(out_dir, video, masks.values()) as tmp:
        source = VideoSource(video)
        frames = iter(source)
        head = list(itertools.islice(frames, (cfg.clip_len - 1) * cfg.tau + 1))
        first = _read_mask(masks[0], head[0].shape[:2], height, width)
        size = first.small.shape
        objects = ObjectClasses(object_ids(first.ids))
        t0 = time.perf_counter()
        losses = _finetune(model, resize_frames(np.stack(head), size), objects.classes(first.small),
                           cfg, device, checkpoint)
        t1 = time.perf_counter()
        propagator = Propagator(model, cfg.clip_len, head[0].shape[:2], device,
                                **cfg.predict_options())
        pairs = ((frame, resize_frames(frame[None], size)[0]) for frame in itertools.chain(head, frames))
        with ResultWriter(tmp, source.fps, per_object) as writer, core_for_flow(device, len(objects.order)), \
                tqdm(total=source.declared, desc="segment", unit="frame") as bar:
            try:
                for t, ((frame, small), upcoming) in enumerate(with_next(pairs)):
                    given = first if t == 0 else (_read_mask(masks[t], frame.shape[:2], height, width)
                                                  if t in masks else None)
                    if given is not None:
                        objects.add(given.ids, t, writer)
                    upcoming = None if upcoming is None else upcoming[1]
                    drawn = (propagator.advance(small, upcoming=upcoming) if given is None else
                             propagator.advance(small, objects.classes(given.small),
                                                objects.classes(given.ids), upcoming))
                    order = list(objects.order)  # drawn on the writer's thread
                    writer.write(t, frame, functools.partial(_drawn_ids, drawn, order), order)
                    bar.update(1)
            finally:
                propagator.close()
        num_frames = t + 1
        late = [n for n in masks if n >= num_frames]
        if late:
            raise SegmentError(f"--mask {late[0]}:{masks[late[0]]}: frame {late[0]} never comes; "
                               f"the video has {num_frames} frames (0 to {num_frames - 1})")
        (tmp / MARKER).write_text(json.dumps({"input": str(video), "masks": {str(k): str(v) for k, v in masks.items()},
                                              "checkpoint": str(checkpoint),
                                              "frames": num_frames}, indent=1))
        t2 = time.perf_counter()
    return {"frames": num_frames, "objects": len(objects.order), "seconds": t2 - t0,
            "fps": num_frames / (t2 - t0), "finetune_s": t1 - t0, "predict_s": t2 - t1,
            "predict_fps": num_frames / max(t2 - t1, 1e-9),
            "final_loss": losses[-1] if losses else None}


def _drawn_ids(drawn: Callable[[], np.ndarray], order: list[int]) -> np.ndarray:
    """The ids of the classes ``drawn()`` returns (:meth:`Propagator.advance`)."""
    return classes_to_ids(drawn(), order)


def with_next(items: Iterable) -> Iterator[tuple]:
    """``(item, next item)`` pairs of ``items``, ``None`` after the last: the next frame is
    read one step early, so that its flow can start while this one's network runs."""
    it = iter(items)
    try:
        item = next(it)
    except StopIteration:
        return
    for upcoming in it:
        yield item, upcoming
        item = upcoming
    yield item, None


def _mask_list(mask_path) -> list[tuple[int, Path]]:
    """``(frame, path)`` pairs, frame 0's first; a bare path is frame 0's."""
    pairs = [(0, Path(mask_path))] if isinstance(mask_path, (str, Path)) else list(mask_path)
    frames = [n for n, _ in pairs]
    if 0 not in frames:
        raise ConfigError("--mask: no mask of frame 0; give --mask PATH (frame 0's), then "
                          "--mask N:PATH for masks at later frames")
    for n in frames:
        if n < 0 or frames.count(n) > 1:
            raise ConfigError(f"--mask {n}:...: {'a negative frame' if n < 0 else 'frame given twice'}; "
                              "give each frame's mask once, frames from 0")
    return sorted(pairs)


@dataclass
class _Mask:
    ids: np.ndarray  # at the video's size
    small: np.ndarray  # at the working size


def _read_mask(path: Path, frame_hw, height, width) -> _Mask:
    mask = read_first_mask(path, frame_hw)
    small = resize_masks(mask[None], working_size(frame_hw, height, width))[0]
    check_objects_kept(path, mask, small)
    return _Mask(mask, small)


class ObjectClasses:
    """Object ids <-> the propagator's classes 1..K, in order of first appearance."""

    def __init__(self, ids):
        self.order = [int(i) for i in ids]

    def add(self, mask: np.ndarray, frame: int, writer: "ResultWriter") -> None:
        for k in object_ids(mask):
            if k not in self.order:
                self.order.append(k)
                writer.new_object(k, frame)

    def classes(self, mask: np.ndarray) -> np.ndarray:
        """Ids -> classes (void stays 255)."""
        lut = np.zeros(256, np.uint8)
        lut[VOID] = VOID
        lut[self.order] = np.arange(1, len(self.order) + 1)
        return lut[mask]

    def ids(self, classes: np.ndarray) -> np.ndarray:
        return classes_to_ids(classes, self.order)


class ResultWriter:
    """Writes one frame's results at a time into the (empty) folder ``out``: its palette PNG,
    its overlay frame of ``overlay.mp4``, its row of ``areas.csv`` (written at the end) and,
    with ``per_object``, ``object_<id>/<frame>.png`` (0/255) per object.

    A frame is written on a worker thread while the next one is segmented (PNG compression,
    OpenCV's blend and the pipe to ffmpeg's encoder release the GIL); at most one frame is
    pending, and an error in writing it is raised by the next call (or at the end of the
    block). The files are the same as written in turn."""

    def __init__(self, out: Path, fps: float, per_object: bool):
        self.out, self.fps, self.per_object = Path(out), fps, per_object
        self.areas: list[dict] = []
        self.stack = ExitStack()
        self._pending = None  # the frame being written

    def __enter__(self) -> "ResultWriter":
        self.append = self.stack.enter_context(mp4_writer(self.out / "overlay.mp4", self.fps))
        pool = self.stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="sfvos-write"))
        self.submit = pool.submit
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._done()
            elif self._pending is not None:
                self._pending.exception()  # the error being raised says more
        finally:
            self.stack.__exit__(*exc)
        if exc[0] is None:
            objects = sorted({k for row in self.areas for k in row})
            write_csv_atomic(self.out / "areas.csv", ["frame"] + [f"object_{k}" for k in objects],
                             [[t] + [row.get(k, 0) for k in objects] for t, row in enumerate(self.areas)])

    def new_object(self, k: int, frame: int) -> None:
        """Object ``k`` is tracked from ``frame`` on: empty masks before it."""
        self._done()
        if self.per_object:
            (self.out / f"object_{k}").mkdir()
            for t in range(frame):
                write_binary_png(self.out / f"object_{k}" / f"{t:05d}.png", np.zeros(self._size, bool))

    def write(self, t: int, frame: np.ndarray, ids: np.ndarray | Callable[[], np.ndarray],
              objects: list[int]) -> None:
        """Frame ``t``'s results: its ids (H, W) at the frame's size, or a function that
        returns them (called on the worker thread: :meth:`Propagator.advance`'s drawing)."""
        self._done()
        self._size = frame.shape[:2]
        self._pending = self.submit(self._write, t, frame, ids, list(objects))

    def _done(self) -> None:
        """Wait for the pending frame; its error, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, t: int, frame: np.ndarray, ids, objects: list[int]) -> None:
        ids = ids() if callable(ids) else ids
        write_palette_png(self.out / f"{t:05d}.png", ids)
        self.append(blend(frame[None], ids[None])[0])
        self.areas.append({k: int((ids == k).sum()) for k in objects})
        if self.per_object:
            for k in objects:
                if not (self.out / f"object_{k}").is_dir():
                    (self.out / f"object_{k}").mkdir()
                write_binary_png(self.out / f"object_{k}" / f"{t:05d}.png", ids == k)


def write_binary_png(path: Path, mask: np.ndarray) -> None:
    """A 0/255 grayscale PNG of a boolean (H, W) mask, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(tmp, format="PNG")


def _finetune(model, head: np.ndarray, labels0: np.ndarray, cfg: FinetuneConfig, device: str,
              checkpoint: Path) -> list[float]:
    """Fine-tune ``model`` on frame 0 with a progress bar; a diverged fine-tuning says what
    the command can change (it has no learning-rate option)."""
    if not cfg.steps:
        return []
    try:
        with tqdm(total=cfg.steps, desc="finetune", unit="step") as bar:
            return finetune(model, head, labels0, cfg, device, bar)
    except TrainingDivergedError as exc:
        what = str(exc).split(";")[0]
        raise TrainingDivergedError(
            f"{checkpoint}: fine-tuning on frame 0 diverged ({what}); run with fewer --steps or "
            "--steps 0 (the checkpoint as it is), or give another --checkpoint") from None


@contextmanager
def output_folder(out: Path, video: Path, masks: Iterable[Path]) -> Iterator[Path]:
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
        check_out(out, video, masks)
        tmp = stack.enter_context(atomic_dir(out))
        tmp.mkdir()
        yield tmp


def check_out(out: Path, video: Path, masks: Iterable[Path]) -> None:
    """``--out`` may be new, empty or an earlier result (it holds :data:`MARKER`); never the
    input folder or inside it, never a folder holding the input or a mask."""
    resolved = out.resolve()
    if Path(video).is_dir() and resolved.is_relative_to(Path(video).resolve()):
        raise ConfigError(f"--out {out}: inside the input folder {video}, whose frames it would "
                          "overwrite; give a folder outside it")
    for what, path in (("input", video), *(("mask", m) for m in masks)):
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
    """``--steps``, ``--batch-size``, ``--frozen-scales``, ``--flip-uncertain``, ``--appearance-vote``,
    ``--appearance-update``, ``--refind-area``, ``--edge-refine``, ``--height``, ``--width``,
    ``--device`` and ``--pathways`` that can work, or a ConfigError (``--frozen-scales`` beyond the
    checkpoint's scales is refused once it is loaded)."""
    import torch

    from pipeline.models.slowfast import PATHWAYS

    if cfg.steps < 0:
        raise ConfigError(f"--steps {cfg.steps}: must be >= 0 (0 = the checkpoint as it is)")
    if cfg.batch_size < 1:
        raise ConfigError(f"--batch-size {cfg.batch_size}: fine-tuning clips per step, must be "
                          ">= 1")
    if cfg.frozen_scales < 0:
        raise ConfigError(f"--frozen-scales {cfg.frozen_scales}: must be >= 0 (0 = fine-tune "
                          "every weight)")
    if not 0 <= cfg.flip_uncertain <= 1:
        raise ConfigError(f"--flip-uncertain {cfg.flip_uncertain}: a share of a crop's pixels, "
                          "must be in [0, 1] (0 = mirror every clip)")
    if not 0 <= cfg.appearance_vote <= 1:
        raise ConfigError(f"--appearance-vote {cfg.appearance_vote}: a share of a part's pixels, "
                          "must be in [0, 1] (0 = off)")
    if cfg.appearance_update < 0:
        raise ConfigError(f"--appearance-update {cfg.appearance_update}: frames between updates, "
                          "must be >= 0 (0 = the given view alone)")
    if not 0 <= cfg.edge_refine <= 1:
        raise ConfigError(f"--edge-refine {cfg.edge_refine}: a share of the frame's diagonal, "
                          "must be in [0, 1] (0 = off)")
    if not 0 <= cfg.motion_check <= 1:
        raise ConfigError(f"--motion-check {cfg.motion_check}: a share of the frame's diagonal, "
                          "must be in [0, 1] (0 = off)")
    if cfg.refind_area < 0:
        raise ConfigError(f"--refind-area {cfg.refind_area}: a share of the object's given area, "
                          "must be >= 0 (0 = off)")
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
