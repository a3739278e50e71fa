"""``sfvos segment`` on long videos and on several objects: memory, steady-state speed, cost
per object (BENCHMARKS.md, "Long videos and several objects").

Not a test: run it on an idle machine. It needs ``../shared/data/davis2016-dev`` (or
``--davis``). The 854x480 videos are the 80 frames of one train sequence played forwards and
backwards until they are ``--frames`` long (so the object keeps moving smoothly); the
object's mask is frame 0's. For the cost per object, frame 0's object is cut into 1, 3 or 5
vertical strips of equal width, each a separate object (the same pixels in all: only the
number of crops changes). Every run is ``sfvos segment --steps 0`` with the shipped parent
and its defaults otherwise (fine-tuning's cost does not depend on the video's length).

    PYTHONPATH=. python benchmarks/long_video.py [--frames 300,600,3000] [--objects 1,3,5]

Rows: frames, wall seconds, frames/s, peak RSS (GNU time). The steady-state rate is
``(frames_b - frames_a) / (wall_b - wall_a)`` between two lengths: start-up (process,
model, the first frames) cancels out.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_all import SEQUENCE, _machine, _run  # noqa: E402
from pipeline.data.davis import read_frame, read_mask, write_palette_png  # noqa: E402


def ping_pong(n: int, length: int) -> list[int]:
    """Frame indices 0, 1, ..., length - 1, length - 2, ..., 0, 1, ... of ``n`` frames."""
    cycle = list(range(length)) + list(range(length - 2, 0, -1))
    return [cycle[i % len(cycle)] for i in range(n)]


def strips(mask: np.ndarray, k: int) -> np.ndarray:
    """The object of ``mask`` cut into ``k`` vertical strips of equal width, ids 1..k."""
    ys, xs = np.nonzero(mask > 0)
    edges = np.linspace(xs.min(), xs.max() + 1, k + 1)
    out = np.zeros(mask.shape, np.uint8)
    cols = np.searchsorted(edges, np.arange(mask.shape[1]), side="right")
    out[ys, xs] = np.clip(cols[xs], 1, k)
    return out


def sequence_frames(davis: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The frames of :data:`~benchmarks.bench_all.SEQUENCE` and its frame-0 mask."""
    paths = sorted((davis / "JPEGImages" / "480p" / SEQUENCE).glob("*.jpg"))
    return ([read_frame(p) for p in paths],
            read_mask(davis / "Annotations" / "480p" / SEQUENCE / "00000.png", 2016))


def bench_long(davis: Path, tmp: Path, lengths=(300, 600, 3000), objects=(1, 3, 5),
               object_frames: int = 80) -> list[str]:
    """Markdown rows: one run per length (one object) and per object count, then the
    steady-state rates between consecutive lengths."""
    import imageio.v2 as imageio

    frames, mask0 = sequence_frames(davis)
    sfvos = str(Path(sys.executable).with_name("sfvos"))
    rows = ["| run | frames | objects | wall s | frames/s | peak RSS MB |", "|---|---|---|---|---|---|"]

    def segment(n: int, k: int) -> float:
        video, mask = tmp / f"long_{n}.mp4", tmp / f"strips_{k}.png"
        if not video.exists():
            with imageio.get_writer(video, fps=24, quality=9, macro_block_size=1) as w:
                for i in ping_pong(n, len(frames)):
                    w.append_data(frames[i])
        write_palette_png(mask, strips(mask0, k))
        wall, rss = _run([sfvos, "segment", str(video), "--mask", str(mask), "--steps", "0",
                          "--out", str(tmp / f"long_out_{n}_{k}")])
        rows.append(f"| `segment --steps 0` | {n} | {k} | {wall:.1f} | {n / wall:.1f} | {rss:.0f} |")
        print(rows[-1], flush=True)
        return wall

    walls = {n: segment(n, 1) for n in lengths}
    for k in objects:
        if k != 1 or object_frames not in walls:
            segment(object_frames, k)
    lengths = sorted(walls)
    rows += [f"| steady state, {a} -> {b} frames (start-up cancelled) | {b - a} | 1 | "
             f"{walls[b] - walls[a]:.1f} | {(b - a) / (walls[b] - walls[a]):.2f} | |"
             for a, b in zip(lengths, lengths[1:])]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", type=Path, default=ROOT.parent / "shared/data/davis2016-dev/DAVIS")
    ap.add_argument("--frames", default="300,600,3000")
    ap.add_argument("--objects", default="1,3,5")
    ap.add_argument("--object-frames", type=int, default=80)
    args = ap.parse_args()
    print(f"{_machine()}; sequence {SEQUENCE} played back and forth\n")
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_long(args.davis, Path(tmp), [int(f) for f in args.frames.split(",")],
                          [int(k) for k in args.objects.split(",")], args.object_frames)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
