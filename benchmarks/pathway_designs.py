"""The compute of each network of the pathway question (README, "The pathway question on the
held-out sequences"), as propagation runs it.

Not a test: run it on an idle machine. The real-DAVIS profile's model (the shipped parent's
config: Lite0 slow pathway, 160-pixel crops, 8-frame clips) in each design the held-out
tables compare, random weights (speed does not depend on the values), prepared as
:class:`~pipeline.engine.osvos.Propagator` prepares it (BatchNorm folded, channels-last) and
run on one clip, the last frame decoded (``mode="predict_last"``): parameters, GFLOPs per clip
(= per predicted frame and object; a mirrored clip, where the prediction is unsure, costs as
much again) and the network's clips per second, medians of interleaved rounds.

    PYTHONPATH=. python benchmarks/pathway_designs.py [--rounds 15] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_all import _machine, _parent_cfg  # noqa: E402
from benchmarks.bench_model import interleaved_seconds  # noqa: E402
from pipeline.models.complexity import complexity, without_pretrained_weights  # noqa: E402
from pipeline.models.fusion import fused_for_inference  # noqa: E402
from pipeline.models.segmenter import build_segmenter  # noqa: E402

DESIGNS = {  # label: (pathways, backbone overrides of the profile's config)
    "slow": ("slow", {}),
    "slowfast, β = 1/4": ("slowfast", {"beta_inv": 4}),
    "slowfast, β = 1/4, fast pathway on motion (`fast_input=diff`)": ("slowfast",
                                                                      {"beta_inv": 4, "fast_input": "diff"}),
    "slowfast, β = 1/8": ("slowfast", {"beta_inv": 8}),
}


def design_cfg(pathways: str, backbone: dict) -> dict:
    """The profile's model config in one design (no ImageNet weights: the same shapes)."""
    cfg = without_pretrained_weights(_parent_cfg())
    cfg["pathways"] = pathways
    cfg["backbone"].update(backbone)
    return cfg


def bench_designs(rounds: int = 15, frames: int = 8) -> list[str]:
    """Markdown rows: each design's params, GFLOPs per clip, network ms and clips/s."""
    torch.manual_seed(0)
    models, costs = {}, {}
    for label, (pathways, backbone) in DESIGNS.items():
        model = build_segmenter(design_cfg(pathways, backbone)).eval()
        s = model.crop_size
        costs[label] = complexity(model, frames, s, s, mode="predict_last")
        models[label] = fused_for_inference(model)
    clip = models["slow"].data_preprocessor(
        {"inputs": torch.randint(0, 256, (1, 4, frames, s, s), dtype=torch.uint8)}, False)["inputs"]
    clip = clip.contiguous(memory_format=torch.channels_last_3d)

    def run(model):
        def call():
            with torch.inference_mode():
                model(clip, mode="predict_last")
        return call

    seconds = interleaved_seconds({label: run(m) for label, m in models.items()}, rounds)
    base = costs["slow"]["gflops_per_clip"]
    rows = ["| design | params (M) | GFLOPs / clip | vs slow | network ms / clip, median (best) | "
            "network clips/s |", "|---|---|---|---|---|---|"]
    for label, cost in costs.items():
        t = seconds[label]
        rows.append(f"| {label} | {cost['params'] / 1e6:.2f} | {cost['gflops_per_clip']:.3f} | "
                    f"{cost['gflops_per_clip'] / base:.2f}x | {1000 * statistics.median(t):.1f} "
                    f"({1000 * min(t):.1f}) | {1 / statistics.median(t):.0f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{_machine()}, {args.threads} threads, {args.rounds} interleaved rounds\n")
    print("\n".join(bench_designs(args.rounds)))


if __name__ == "__main__":
    main()
