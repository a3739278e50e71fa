"""Pictures of results: palette overlays of object ids on frames, written as mp4 or GIF."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from pipeline.data.crops import bounds
from pipeline.data.davis import davis_palette
from pipeline.fileio import atomic_path


def blend(frames: np.ndarray, ids: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(..., H, W, 3) uint8 frames with every object pixel (id > 0) mixed with its palette
    colour: ``(1 - alpha) * frame + alpha * colour``; background pixels are left as they are."""
    out = np.array(frames, dtype=np.uint8, copy=True)
    palette = davis_palette()
    # Frame by frame (the float copies of a whole video's object pixels took over 1 GB when
    # the objects fill the frames), and only within the objects' bounding box (float math on
    # whole frames was a third of an 80-frame `sfvos segment --steps 0`).
    for frame, frame_ids in zip(out.reshape(-1, *out.shape[-3:]), ids.reshape(-1, *ids.shape[-2:])):
        box = bounds(frame_ids)
        if box is None:
            continue
        part, part_ids = frame[box], frame_ids[box]
        mixed = cv2.addWeighted(part, 1 - alpha, palette[part_ids], alpha, 0)  # rounded
        np.copyto(part, mixed, where=(part_ids > 0)[..., None])
    return out


def write_video(path: Path, frames: np.ndarray, fps: float = 10.0) -> None:
    """mp4 (H.264 via imageio's ffmpeg plugin) or GIF by suffix; written atomically."""
    import imageio.v3 as iio

    path = Path(path)
    if path.suffix.lower() == ".gif":  # the pillow plugin takes the frame duration in ms
        with atomic_path(path, keep_suffix=True) as tmp:
            iio.imwrite(tmp, np.asarray(frames), extension=".gif", duration=1000 / fps, loop=0)
        return
    with mp4_writer(path, fps) as append:
        for frame in frames:
            append(frame)


@contextmanager
def mp4_writer(path: Path, fps: float = 10.0) -> Iterator[Callable[[np.ndarray], None]]:
    """Yield ``append(frame)``, which adds one (H, W, 3) uint8 frame to the H.264 mp4 ``path``
    (written atomically, when the block ends): a video of any length in constant memory."""
    import imageio.v2 as iio2

    with atomic_path(Path(path), keep_suffix=True) as tmp:
        # x264's veryfast preset: 2.4x faster than its default (medium), same file size
        # (80 frames of 854x480: 0.50 s instead of 1.19 s, 854 KB either way)
        with iio2.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=2,
                             ffmpeg_log_level="error",
                             output_params=["-preset", "veryfast"]) as writer:
            yield lambda frame: writer.append_data(frame[: frame.shape[0] // 2 * 2,
                                                         : frame.shape[1] // 2 * 2])
