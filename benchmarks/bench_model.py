"""Benchmark the segmenter on the CPU: params, GFLOPs/frame and frames/s per pathway variant.

Not a test. Each variant segments a 480p clip (854x480, DAVIS's resolution) the way the
pipeline does: uint8 frames -> normalise -> resize to the working resolution -> model ->
logits upsampled to 854x480. Prints a markdown table; timings are medians over repeats.

    PYTHONPATH=. python benchmarks/bench_model.py [--work-size 96 160] [--threads 2] [--train]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from pipeline.models.complexity import complexity
from pipeline.models.segmenter import build_segmenter

ROOT = Path(__file__).resolve().parents[1]
FULL_SIZE = (480, 854)
VARIANTS = {  # name -> backbone overrides of params.yaml's model section
    "default": {},
    "imagenet": {"slow_arch": "efficientnet_lite0", "slow_init": "imagenet"},
}


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (oneDNN primitive creation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def segment_480p(model, clip: torch.Tensor, work_size: tuple[int, int]) -> torch.Tensor:
    """clip (1, 3, T, 480, 854) uint8 -> logits (1, C, T, 480, 854)."""
    x = model.data_preprocessor({"inputs": clip}, False)["inputs"]
    t = x.shape[2]
    frames = F.interpolate(x[0].transpose(0, 1), size=work_size, mode="bilinear", antialias=True,
                           align_corners=False)
    logits = model(frames.transpose(0, 1)[None])[0].transpose(0, 1)  # (T, C, h, w)
    return F.interpolate(logits, size=FULL_SIZE, mode="bilinear", align_corners=False).transpose(0, 1)[None]


def train_step_seconds(model, work_size, batch: int, frames: int, repeats: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    clip = torch.randn(batch, 3, frames, *work_size)
    target = torch.randint(0, 2, (batch, frames, *work_size))

    def step():
        opt.zero_grad()
        sum(model(clip, target, mode="loss").values()).backward()
        opt.step()

    model.train()
    return median_seconds(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--work-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="working resolution (default: params.yaml decode height, width)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--train", action="store_true", help="also time a training step (batch 4)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = yaml.safe_load(args.params.read_text())
    work = tuple(args.work_size or (params["decode"]["height"], params["decode"]["width"]))
    clip = torch.randint(0, 256, (1, 3, args.frames, *FULL_SIZE), dtype=torch.uint8)

    header = "| variant | pathways | params (M) | GFLOPs/frame | GFLOPs/clip | fps (854x480 in) |"
    header += " train s/iter |" if args.train else ""
    print(f"working resolution {work[0]}x{work[1]}, T={args.frames}, {args.threads} threads, "
          f"median of {args.repeats}\n\n{header}\n|" + "---|" * (header.count("|") - 1))
    for variant in args.variants:
        for pathways in ("slow", "fast", "slowfast"):
            cfg = copy.deepcopy(params["model"])
            cfg["pathways"] = pathways
            cfg["backbone"].update(VARIANTS[variant])
            model = build_segmenter(cfg).eval()
            cost = complexity(model, args.frames, *work)
            with torch.no_grad():
                seconds = median_seconds(lambda: segment_480p(model, clip, work), args.repeats)
            row = (f"| {variant} | {pathways} | {cost['params'] / 1e6:.2f} | "
                   f"{cost['gflops_per_frame']:.3f} | {cost['gflops_per_clip']:.2f} | "
                   f"{args.frames / seconds:.1f} |")
            if args.train:
                row += f" {train_step_seconds(model, work, 4, args.frames, max(3, args.repeats // 2)):.2f} |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
