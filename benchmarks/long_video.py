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


def main() -> None:
    import imageio.v2 as imageio

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", type=Path, default=ROOT.parent / "shared/data/davis2016-dev/DAVIS")
    ap.add_argument("--frames", default="300,600,3000")
    ap.add_argument("--objects", default="1,3,5")
    ap.add_argument("--object-frames", type=int, default=80)
    args = ap.parse_args()
    paths = sorted((args.davis / "JPEGImages" / "480p" / SEQUENCE).glob("*.jpg"))
    mask0 = read_mask(args.davis / "Annotations" / "480p" / SEQUENCE / "00000.png", 2016)
    sfvos = str(Path(sys.executable).with_name("sfvos"))
    print(f"{_machine()}; sequence {SEQUENCE} ({len(paths)} frames) played back and forth\n")
    print("| run | frames | objects | wall s | frames/s | peak RSS MB |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = [read_frame(p) for p in paths]

        def segment(n: int, k: int) -> tuple[float, float]:
            video, mask = tmp / f"{n}.mp4", tmp / f"mask{k}.png"
            if not video.exists():
                with imageio.get_writer(video, fps=24, quality=9, macro_block_size=1) as w:
                    for i in ping_pong(n, len(frames)):
                        w.append_data(frames[i])
            write_palette_png(mask, strips(mask0, k))
            wall, rss = _run([sfvos, "segment", str(video), "--mask", str(mask), "--steps", "0",
                              "--out", str(tmp / f"out_{n}_{k}")])
            print(f"| `segment --steps 0` | {n} | {k} | {wall:.1f} | {n / wall:.1f} | {rss:.0f} |",
                  flush=True)
            return wall, rss

        walls = {n: segment(n, 1)[0] for n in (int(f) for f in args.frames.split(","))}
        for k in (int(k) for k in args.objects.split(",")):
            segment(args.object_frames, k)
        lengths = sorted(walls)
        for a, b in zip(lengths, lengths[1:]):
            print(f"\nsteady state, {a} -> {b} frames: {(b - a) / (walls[b] - walls[a]):.2f} frames/s")


if __name__ == "__main__":
    main()
