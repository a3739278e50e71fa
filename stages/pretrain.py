"""Stage pretrain: objectness pretraining on the train split (mmengine Runner).

Under ``torchrun`` (WORLD_SIZE set) it runs as DDP through mmengine's ``pytorch`` launcher.
"""
import os
from pathlib import Path

import typer

from stages.common import load_params


def main(cache: Path = typer.Option(Path("data/cache"), help="decoded cache"),
         work_dir: Path = typer.Option(Path("data/pretrain/work"), help="checkpoints, logs"),
         model_out: Path = typer.Option(Path("data/pretrain/model.pth"), help="final weights"),
         loss_curve: Path = typer.Option(Path("plots/pretrain_loss.tsv"), help="loss TSV"),
         params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Pretrain the segmenter (params: model, pretrain)."""
    # imported here so that `sfvos --help`, `evaluate` and `report` do not load torch
    from pipeline.engine.pretrain import PretrainConfig, pretrain

    p = load_params(params, "model", "pretrain")
    launcher = "pytorch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "none"
    pretrain(cache, work_dir, model_out, loss_curve, p["model"], PretrainConfig(**p["pretrain"]),
             launcher=launcher)


if __name__ == "__main__":
    typer.run(main)
