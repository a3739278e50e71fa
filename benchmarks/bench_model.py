"""Benchmark the segmenter on the CPU: params, GFLOPs and network frames/s per pathway variant.

Not a test. Propagation predicts each frame of each object with one forward pass of a clip
of T object-centred crops (RGB + prior, ``crop_size`` square) that ends at that frame: one
clip per predicted frame and object. The table gives GFLOPs per clip (= per predicted frame
and object) and predicted frames/s of the network alone (no flow, cropping or pasting).
Medians (and best) of interleaved rounds.

    PYTHONPATH=. python benchmarks/bench_model.py [--crop 128] [--threads 2] [--train]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch
import yaml

from pipeline.models.complexity import complexity
from pipeline.models.segmenter import build_segmenter

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name -> backbone overrides of params.yaml's model section
    "default": {},
    "imagenet": {"slow_pathway": {"type": "EfficientNetLite0Pathway", "init": "imagenet"}},
}


def interleaved_seconds(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each function, timed in turn round after round.

    On a shared machine the load comes in bursts; interleaving spreads a burst over every
    variant instead of ruining one row. Returns every timing, for a median and a best.
    """
    for fn in fns.values():
        fn()  # warm-up (oneDNN primitive creation)
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def train_step(model, work_size, batch: int, frames: int):
    """One AdamW step on random data (batch x frames at the working size), as a closure."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    clip = torch.randn(batch, 4, frames, *work_size)
    target = torch.randint(0, 2, (batch, frames, *work_size))

    def step():
        model.train()
        opt.zero_grad()
        sum(model(clip, target, mode="loss").values()).backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--crop", type=int, default=None,
                        help="crop size (default: params.yaml model.crop_size)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--train", action="store_true", help="also time a training step (batch 4)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = yaml.safe_load(args.params.read_text())
    size = args.crop or params["model"]["crop_size"]
    work = (size, size)
    clip = torch.randint(0, 256, (1, 4, args.frames, *work), dtype=torch.uint8)

    models, costs = {}, {}
    for variant in args.variants:
        for pathways in ("slow", "fast", "slowfast"):
            cfg = copy.deepcopy(params["model"])
            cfg["pathways"] = pathways
            cfg["crop_size"] = size
            cfg["backbone"].update(VARIANTS[variant])
            model = build_segmenter(cfg).eval()
            models[variant, pathways] = model
            costs[variant, pathways] = complexity(model, args.frames, *work)

    def infer(model):
        def run():
            model.eval()
            with torch.no_grad():
                model(model.data_preprocessor({"inputs": clip}, False)["inputs"], mode="predict")
        return run

    infer_times = interleaved_seconds({k: infer(m) for k, m in models.items()}, args.repeats)
    train_times = (interleaved_seconds({k: train_step(m, work, 4, args.frames) for k, m in models.items()},
                                       max(3, args.repeats // 2)) if args.train else {})
    header = "| variant | pathways | params (M) | GFLOPs/clip | predicted frames/s median (best) |"
    header += " train s/iter median (best) |" if args.train else ""
    print(f"crops {size}x{size}, T={args.frames}, "
          f"{args.threads} threads, {args.repeats} interleaved rounds\n\n{header}\n|"
          + "---|" * (header.count("|") - 1))
    for (variant, pathways), cost in costs.items():
        t = infer_times[variant, pathways]
        row = (f"| {variant} | {pathways} | {cost['params'] / 1e6:.2f} | {cost['gflops_per_clip']:.3f} | "
               f"{1 / statistics.median(t):.1f} ({1 / min(t):.1f}) |")
        if args.train:
            tt = train_times[variant, pathways]
            row += f" {statistics.median(tt):.2f} ({min(tt):.2f}) |"
        print(row)


if __name__ == "__main__":
    main()
