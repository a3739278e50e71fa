"""A user's video and the mask of its first frame, as ``sfvos segment`` reads them.

Input is a video file (mp4, avi, mov, ... via imageio's ffmpeg plugin) or a folder of
frames in natural order (``frame2`` before ``frame10``), each made upright RGB (EXIF
orientation; grey, palette, RGBA and CMYK converted). The mask is a PNG of frame 0: palette
ids (255 = void, as DAVIS 2017), a binary 0/255 grayscale mask (one object, as DAVIS 2016),
grayscale ids, or an RGB image of coloured objects on black (:func:`rgb_to_ids`: one object
per distinct colour, the anti-aliased edge colours between them going to the nearest). A
grayscale mask of more than ``MAX_GREY_IDS`` levels (a smoothed mask, not ids) and a lossy
(JPEG) mask are refused.
"""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from pipeline.data.davis import VOID, davis_palette, read_frame, read_mask_as_ids
from pipeline.errors import InputError

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
LOSSY_FORMATS = ("JPEG", "MPO")  # their ringing around edges reads as extra objects
MAX_GREY_IDS = 20
BLEND_TOLERANCE = 12.0  # RGB distance within which a colour counts as a mix of object colours
EDGE_SHARE = 0.05  # a mixed colour covering less than this share of the largest object: an edge
MIN_SHARE = 0.002  # a colour covering less than this share of the largest object: never an object
MAX_COLOURS = 4096  # more distinct colours than this: a picture, not a mask

log = logging.getLogger(__name__)


class SegmentError(InputError):
    """The user's input cannot be segmented; the message says why and what to do."""


def natural_key(path: Path) -> tuple:
    """Sort key of a file name in natural order: ``frame2`` before ``frame10``."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", path.name))


class VideoSource:
    """The frames of a video file or a folder of frames, read one at a time (iterate it):
    ``fps`` (10 for a folder) and ``declared``, the number of frames the folder holds or the
    container declares (None when it does not say). A file cut short gives a warning at
    the end (:data:`log`); a frame that cannot be read, or one of another size than the
    first, a one-line :class:`SegmentError`."""

    def __init__(self, path: Path):
        self.path = path = Path(path)
        if path.is_dir():
            self.files = sorted((p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES),
                                key=natural_key)
            if not self.files:
                raise SegmentError(f"{path}: no frames ({', '.join(FRAME_SUFFIXES)}) in this folder")
            self.fps, self.declared = 10.0, len(self.files)
            return
        if not path.is_file():
            raise SegmentError(f"{path}: no such video file or folder of frames")
        self.files = None
        with self._reading():
            import imageio.v2 as iio2

            # passthrough: each coded frame once; ffmpeg's default resamples a variable-rate
            # video to a constant rate, repeating frames (12 coded frames read as 73)
            self.reader = iio2.get_reader(path, "ffmpeg", output_params=["-fps_mode", "passthrough"])
            meta = self.reader.get_meta_data()
        self.fps = float(meta.get("fps") or 10.0)
        self.declared = round(float(meta.get("duration") or 0) * self.fps) or None

    def __iter__(self) -> Iterator[np.ndarray]:
        first = first_name = None
        for count, (name, frame) in enumerate(self._frames(), start=1):
            if first is None:
                first, first_name = frame, getattr(name, "name", "the first frame")
            if frame.shape != first.shape:
                raise SegmentError(
                    f"{name}: {frame.shape[1]}x{frame.shape[0]}, but {first_name} is "
                    f"{first.shape[1]}x{first.shape[0]}; all frames must be the same size "
                    "(remove the file if it is no frame, e.g. a mask)")
            yield frame
        if first is None:
            raise SegmentError(f"{self.path}: the video has no frames")
        if self.files is None and self.declared and self.declared - count > max(1, 0.02 * self.declared):
            log.warning(f"warning: {self.path}: read {count} of the {self.declared} frames its "
                        "container declares; the file may be cut short (segmenting the frames read)")

    def _frames(self) -> Iterator[tuple[Path | str, np.ndarray]]:
        if self.files is not None:
            for f in self.files:
                yield f, read_frame(f, fix="replace it or remove it from the folder")
            return
        with self._reading():
            try:
                for i, frame in enumerate(self.reader):
                    yield f"{self.path} (frame {i})", np.asarray(frame)[..., :3]
            finally:
                self.reader.close()

    @contextmanager
    def _reading(self):
        """imageio / ffmpeg errors (many types for a bad file) as one line without ffmpeg's
        banner."""
        try:
            yield
        except SegmentError:
            raise
        except Exception as exc:
            first = (str(exc).strip() or "unreadable").splitlines()[0]
            raise SegmentError(f"{self.path}: cannot read the video ({type(exc).__name__}: "
                               f"{first}); give an mp4/avi/mov file or a folder of frames") from None


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """(T, H, W, 3) uint8 frames and the frame rate (10 for a folder of frames), all at once
    (:class:`VideoSource` streams them)."""
    source = VideoSource(path)
    return np.stack(list(source)), source.fps


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


def _load_mask(path: Path) -> tuple[str, np.ndarray | None, np.ndarray]:
    """(PIL mode, the RGBA pixels of an RGB(A) mask or None, the ids as
    :func:`read_mask_as_ids` reads them); a lossy (JPEG) file is refused."""
    try:
        with Image.open(path) as image:
            kind, mode = image.format, image.mode
            rgba = np.asarray(image.convert("RGBA")) if mode in ("RGB", "RGBA") else None
        mask = read_mask_as_ids(path)
    except Exception as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise SegmentError(f"{path}: cannot read the mask ({first}); give a PNG") from None
    if kind in LOSSY_FORMATS:
        raise SegmentError(f"{path}: a {kind} mask: lossy compression adds colours and grey "
                           "levels around the edges that read as extra objects; save the mask "
                           "as PNG")
    return mode, rgba, mask


def read_first_mask(path: Path, frame_hw: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 ids of frame 0's mask (255 = void), checked against the frames' size."""
    path = Path(path)
    if not path.is_file():
        raise SegmentError(f"{path}: mask file not found")
    mode, rgba, mask = _load_mask(path)
    if rgba is not None and len(np.unique(rgba.reshape(-1, 4), axis=0)) > MAX_COLOURS:
        raise SegmentError(f"{path}: more than {MAX_COLOURS} colours, a picture rather than a "
                           "mask; give the objects in flat colours on black, or a palette PNG")
    if rgba is not None:  # coloured objects on black; fully transparent pixels are background
        mask = rgb_to_ids(np.where(rgba[..., 3:] == 0, 0, rgba[..., :3]))
    elif mode != "P" and set(np.unique(mask).tolist()) <= {0, 255}:
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
        void = " (in a palette PNG 255 is void, not an object)" if (mask == VOID).any() else ""
        raise SegmentError(f"{path}: the mask is empty{void}; mark the object(s) in frame 0 "
                           "with ids > 0")
    return mask
