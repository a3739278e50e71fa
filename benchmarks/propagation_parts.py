"""Where propagation's time goes, part by part, after fine-tuning as ``sfvos segment`` does.

Not a test: run it on an idle machine. It needs ``../shared/data/davis2016-dev`` (or
``--davis``). The 80 frames of one train sequence, played back and forth to ``--frames``, at
854x480; the shipped parent fine-tuned on frame 0 with the defaults (``--steps 0``: as it
is); then one :class:`~pipeline.engine.osvos.Propagator` with the defaults over every frame,
in this process, nothing written, each frame given the next as ``upcoming`` and torch one
thread fewer, as ``sfvos segment`` runs it. Each part is timed by a wrapper around the
functions that do it (no profiler, whose overhead on the many small calls would skew the
shares), on the main thread (the frame's critical path) and on the worker threads beside it:

- the network: ``osvos._predict_last`` (the clip, and its mirror image where uncertain);
- the optical flow: ``FlowWarper.warp`` (the warp of the last masks, and waiting for the
  flow if its thread has not finished) and ``FlowWarper._calc`` (DIS, on its thread);
- the appearance check: ``AppearanceCheck.features`` and ``.looks_like`` (the Lite0
  features around objects and their nearest-neighbour matches; the memory's update on its
  thread);
- the rest of ``Propagator.step`` (main thread): crops, prior, normalisation, paste,
  aggregation, parts, drawing the output.

    PYTHONPATH=. python benchmarks/propagation_parts.py [--frames 300] [--steps 100]
"""
from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_all import SEQUENCE, _machine  # noqa: E402
from benchmarks.long_video import ping_pong, sequence_frames  # noqa: E402
from pipeline.engine import osvos  # noqa: E402
from pipeline.engine.appearance import AppearanceCheck  # noqa: E402
from pipeline.engine.flow import FlowWarper  # noqa: E402
from pipeline.engine.osvos import FinetuneConfig, Propagator, finetune  # noqa: E402
from pipeline.engine.vos import load_segmenter  # noqa: E402
from pipeline.runtime import core_for_flow, retain_freed_memory  # noqa: E402
from pipeline.weights import PARENT_CHECKPOINT  # noqa: E402

WORKER = "worker"  # seconds[WORKER, part]: that part's time on the worker threads
PARTS = {  # part: (owner, attribute) of the functions timed for it
    "the network": [(osvos, "_predict_last")],
    "the optical flow": [(FlowWarper, "warp"), (FlowWarper, "_calc")],
    "the appearance check": [(AppearanceCheck, "features"), (AppearanceCheck, "looks_like")],
}


@contextmanager
def timed(owner, name: str, seconds: dict, key: str):
    """Within the block, ``owner.name`` adds its wall time to ``seconds[key]`` on the main
    thread, to ``seconds[WORKER, key]`` on another."""
    original = owner.__dict__[name]
    inner = original.__func__ if isinstance(original, staticmethod) else original

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            where = key if threading.current_thread() is threading.main_thread() else (WORKER, key)
            seconds[where] = seconds.get(where, 0.0) + time.perf_counter() - start

    setattr(owner, name, staticmethod(wrapper) if isinstance(original, staticmethod) else wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def parts_table(seconds: dict, total: float, frames: int) -> list[str]:
    """Markdown rows: each part's ms per frame on the main thread (and its share of
    ``total``) and on the worker threads, the rest, the total."""
    rows = ["| part | main thread, ms per frame | share | worker threads, ms per frame |",
            "|---|---|---|---|"]
    for key in PARTS:
        main, beside = seconds.get(key, 0.0), seconds.get((WORKER, key), 0.0)
        rows.append(f"| {key} | {1000 * main / frames:.1f} | {100 * main / total:.0f} % | "
                    f"{1000 * beside / frames:.1f} |")
    rest = total - sum(seconds.get(key, 0.0) for key in PARTS)
    rows.append(f"| the rest (crops, prior, normalisation, paste, aggregation, parts, output) | "
                f"{1000 * rest / frames:.1f} | {100 * rest / total:.0f} % | |")
    rows.append(f"| **all, per predicted frame** | **{1000 * total / frames:.1f}** | "
                f"{frames / total:.1f} frames/s | |")
    return rows


def bench_parts(davis: Path, frames: int = 300, steps: int | None = None) -> list[str]:
    """Markdown rows of :func:`parts_table` for ``frames`` frames of the sequence."""
    retain_freed_memory()  # as `sfvos segment` does
    video, mask0 = sequence_frames(davis)
    video = np.stack([video[i] for i in ping_pong(frames, len(video))])
    labels0 = (mask0 > 0).astype(np.uint8)
    cfg = FinetuneConfig() if steps is None else replace(FinetuneConfig(), steps=steps)
    model = load_segmenter(PARENT_CHECKPOINT)
    if cfg.steps:
        finetune(model, video[:(cfg.clip_len - 1) * cfg.tau + 1], labels0, cfg, "cpu")
    video = list(video)  # one array per frame: `upcoming` is matched by identity
    propagator = Propagator(model, cfg.clip_len, None, "cpu", **cfg.predict_options())
    seconds: dict = {}
    with ExitStack() as stack:
        stack.enter_context(core_for_flow("cpu"))
        stack.callback(propagator.close)
        propagator.step(video[0], labels0, upcoming=video[1])
        for key, functions in PARTS.items():
            for owner, name in functions:
                stack.enter_context(timed(owner, name, seconds, key))
        start = time.perf_counter()
        for t in range(1, len(video)):
            propagator.step(video[t], upcoming=video[t + 1] if t + 1 < len(video) else None)
        propagator.close()  # the last update of the appearance memory included
        total = time.perf_counter() - start
    return parts_table(seconds, total, frames - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", type=Path, default=ROOT.parent / "shared/data/davis2016-dev/DAVIS")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: the default's)")
    args = ap.parse_args()
    print(f"{_machine()}; sequence {SEQUENCE} played back and forth to {args.frames} frames\n")
    print("\n".join(bench_parts(args.davis, args.frames, args.steps)))


if __name__ == "__main__":
    main()
