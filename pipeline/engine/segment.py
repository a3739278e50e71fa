"""Segment a user's own video from the mask of its first frame (the ``sfvos segment`` command).

Input is a video file (mp4, avi, mov, ... via imageio's ffmpeg plugin) or a folder of
frames (sorted by name); the mask is a PNG of frame 0: palette ids (255 = void, as DAVIS
2017), a binary 0/255 grayscale mask (one object, as DAVIS 2016), grayscale ids, or an RGB
image of coloured objects on black (:func:`rgb_to_ids`: one object per distinct colour, the
anti-aliased edge colours between them going to the nearest). A grayscale mask of more than
``MAX_GREY_IDS`` levels (a smoothed mask, not ids) is refused.
Outputs: palette PNGs ``<out>/00000.png...`` of the original ids, ``overlay.mp4`` and
``areas.csv`` (pixels per object per frame).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from pipeline.data.cache import resize_frames, resize_masks
from pipeline.data.davis import VOID, davis_palette, read_mask_as_ids, write_palette_png
from pipeline.engine.osvos import FinetuneConfig
from pipeline.engine.vos import load_segmenter, segment_sequence
from pipeline.errors import ConfigError, InputError
from pipeline.fileio import write_csv_atomic
from pipeline.visualize import blend, write_video

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MAX_GREY_IDS = 20
BLEND_TOLERANCE = 12.0  # RGB distance within which a colour counts as a mix of object colours
EDGE_SHARE = 0.05  # a mixed colour covering less than this share of the largest object: an edge
MIN_SHARE = 0.002  # a colour covering less than this share of the largest object: never an object
MAX_COLOURS = 4096  # more distinct colours than this: a picture, not a mask


class SegmentError(InputError):
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
        first = (str(exc).strip() or "unreadable").splitlines()[0]  # not ffmpeg's whole banner
        raise SegmentError(f"{path}: cannot read the video ({type(exc).__name__}: {first}); "
                           "give an mp4/avi/mov file or a folder of frames") from None
    if not frames:
        raise SegmentError(f"{path}: the video has no frames")
    return np.stack(frames), fps


def _is_mix(colour: np.ndarray, objects: list[np.ndarray]) -> bool:
    """Whether ``colour`` is a convex mix of at most three of ``objects`` (black included)."""
    for i, a in enumerate(objects):
        for j in range(i + 1, len(objects)):
            for c in objects[j:]:  # (a, b, b) covers the mixes of two
                basis = np.stack([objects[j] - a, c - a], 1)
                w, *_ = np.linalg.lstsq(basis, colour - a, rcond=None)
                if (w >= -0.02).all() and w.sum() <= 1.02 and \
                        np.linalg.norm(basis @ w - (colour - a)) <= BLEND_TOLERANCE:
                    return True
    return False


def rgb_to_ids(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 colours -> (H, W) ids: black is background, each object colour an id.

    Colours of the DAVIS palette alone (a palette mask saved as RGB) keep their palette ids.
    Otherwise the object colours are the frequent colours that are no mix of other ones
    (anti-aliased edges mix an object's colour with black or a neighbour's), ids 1, 2, ... by
    decreasing area; every other pixel goes to the nearest of black and the object colours.
    """
    colours, inverse, counts = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True,
                                         return_counts=True)
    inverse = inverse.reshape(-1)
    palette = {tuple(c): i for i, c in enumerate(davis_palette()[:VOID].tolist())}
    if all(tuple(c) in palette for c in colours.tolist()):
        return np.array([palette[tuple(c)] for c in colours.tolist()], np.uint8)[inverse].reshape(rgb.shape[:2])
    objects, largest = [np.zeros(3)], 0
    for i in np.argsort(-counts, kind="stable"):
        colour = colours[i].astype(float)
        if not colour.any():
            continue
        largest = largest or counts[i]
        if counts[i] < max(MIN_SHARE * largest, 2):
            break
        if counts[i] >= EDGE_SHARE * largest or not _is_mix(colour, objects):
            objects.append(colour)
    objects = np.stack(objects)
    nearest = ((colours[:, None].astype(float) - objects[None]) ** 2).sum(-1).argmin(1)
    return nearest.astype(np.uint8)[inverse].reshape(rgb.shape[:2])


def read_first_mask(path: Path, frame_hw: tuple[int, int]) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise SegmentError(f"{path}: mask file not found")
    try:
        with Image.open(path) as image:
            mode = image.mode
            rgba = np.asarray(image.convert("RGBA")) if mode in ("RGB", "RGBA") else None
        mask = read_mask_as_ids(path)
    except Exception as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise SegmentError(f"{path}: cannot read the mask ({first}); give a PNG") from None
    if rgba is not None and len(np.unique(rgba.reshape(-1, 4), axis=0)) > MAX_COLOURS:
        raise SegmentError(f"{path}: more than {MAX_COLOURS} colours, a picture rather than a "
                           "mask; give the objects in flat colours on black, or a palette PNG")
    if rgba is not None:  # coloured objects on black; fully transparent pixels are background
        mask = rgb_to_ids(np.where(rgba[..., 3:] == 0, 0, rgba[..., :3]))
    elif set(np.unique(mask).tolist()) <= {0, 255}:
        mask = (mask > 0).astype(np.uint8)  # a binary 0/255 mask (DAVIS 2016 style): one object
    elif mode != "P" and len(np.unique(mask[mask != VOID])) - 1 > MAX_GREY_IDS:
        raise SegmentError(
            f"{path}: {len(np.unique(mask)) - 1} grey levels, a smoothed mask rather than object "
            "ids; give a palette PNG of ids, a 0/255 binary mask or coloured objects on black"
        )
    if mask.shape != tuple(frame_hw):
        raise SegmentError(
            f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but the video's frames are "
            f"{frame_hw[1]}x{frame_hw[0]}; give the mask of frame 0 at the video's size"
        )
    if not (mask[mask != VOID] > 0).any():
        raise SegmentError(f"{path}: the mask is empty; mark the object(s) in frame 0 with ids > 0")
    return mask


def segment_video(video: Path, mask_path: Path, checkpoint: Path, out_dir: Path,
                  cfg: FinetuneConfig, height: int = 480, width: int | None = None,
                  device: str = "cpu", pathways: str | None = None) -> dict:
    """Fine-tune on frame 0, segment every frame, write PNGs, overlay.mp4 and areas.csv.

    The options, the output folder and the checkpoint are checked before the video is read.
    """
    if not Path(checkpoint).is_file():
        raise SegmentError(
            f"{checkpoint}: no checkpoint; run `make repro` to train one, or pass --checkpoint"
        )
    check_options(cfg, height, width, device)
    model = load_segmenter(checkpoint, pathways)  # readable, ours and of the asked pathways
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: is a file; give a folder for the outputs "
                          "(it is created)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot create the folder ({exc.strerror}); give a "
                          "writable folder") from None
    frames, fps = read_video(video)
    mask = read_first_mask(mask_path, frames.shape[1:3])
    size = working_size(frames.shape[1:3], height, width)
    small = resize_frames(frames, size)
    mask_small = resize_masks(mask[None], size)[0]
    t0 = time.perf_counter()
    with tqdm(total=cfg.steps, desc="finetune", unit="step") as bar:
        ids, timing = segment_sequence(model, small, mask, mask_small, cfg, device, bar)
    for t, frame_ids in enumerate(tqdm(ids, desc="write", unit="frame")):
        write_palette_png(out_dir / f"{t:05d}.png", frame_ids)
    write_video(out_dir / "overlay.mp4", blend(frames, ids), fps)
    objects = sorted(int(i) for i in np.unique(mask) if i not in (0, VOID))
    write_csv_atomic(out_dir / "areas.csv", ["frame"] + [f"object_{k}" for k in objects],
                     [[t] + [int((frame_ids == k).sum()) for k in objects]
                      for t, frame_ids in enumerate(ids)])
    seconds = time.perf_counter() - t0
    return {"frames": len(frames), "objects": len(objects), "seconds": seconds,
            "fps": len(frames) / seconds, **timing}


def check_options(cfg: FinetuneConfig, height: int, width: int | None, device: str) -> None:
    """``--steps``, ``--height``, ``--width`` and ``--device`` that can work, or a ConfigError."""
    import torch

    if cfg.steps < 0:
        raise ConfigError(f"--steps {cfg.steps}: must be >= 0 (0 = the checkpoint as it is)")
    for option, value in (("--height", height), ("--width", width)):
        if value is not None and value < 16:
            raise ConfigError(f"{option} {value}: the working size must be >= 16 pixels")
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ConfigError(f"--device {device}: not a device; use cpu or cuda") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available here (no GPU or a CPU "
                          "build of torch); use --device cpu")
    if kind not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device}: use cpu or cuda")


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
