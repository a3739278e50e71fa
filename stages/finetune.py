"""Stage finetune: OSVOS one-shot fine-tuning per validation sequence, then prediction.

Under ``torchrun`` the sequences are sharded across ranks (sequence i -> rank i % world).
"""
import json
import os
from pathlib import Path

import typer

from pipeline.data.cache import sequence_table
from pipeline.engine.osvos import FinetuneConfig
from pipeline.engine.vos import load_segmenter, run_split
from pipeline.models.complexity import complexity
from stages.common import load_params


def main(cache: Path = typer.Option(Path("data/cache"), help="decoded cache"),
         davis: Path = typer.Option(Path("data/davis"), help="DAVIS root (frame-0 masks)"),
         checkpoint: Path = typer.Option(Path("data/pretrain/model.pth"), help="pretrained weights"),
         results: Path = typer.Option(Path("data/results"), help="DAVIS-layout results to write"),
         timing: Path = typer.Option(Path("data/finetune/timing.json"), help="timings and compute"),
         params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Fine-tune on frame 0 and segment every validation sequence (params: finetune)."""
    p = load_params(params, "finetune", "decode")
    cfg = FinetuneConfig(**p["finetune"])
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    timings = run_split(cache, davis, checkpoint, results, cfg, "val", rank, world)
    out = timing if world == 1 else timing.with_name(f"{timing.stem}.rank{rank}.json")
    seqs = sequence_table(cache, "val")
    model = load_segmenter(checkpoint)
    h, w = int(p["decode"]["height"]), int(p["decode"]["width"])
    record = {
        "sequences": timings,
        "compute": complexity(model, cfg.clip_len, h, w) | {"working_size": [h, w]},
        "num_sequences": len(seqs),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".tmp").write_text(json.dumps(record, indent=2))
    out.with_suffix(".tmp").replace(out)


if __name__ == "__main__":
    typer.run(main)
