"""Stage pretrain: objectness pretraining on the train split (mmengine Runner).

Under ``torchrun`` (WORLD_SIZE set) it runs as DDP through mmengine's ``pytorch`` launcher.
"""
import os
from pathlib import Path

import typer

from stages.common import one_line_errors
from stages.options import CACHE, CHECKPOINT, LOSS_CURVE, PARAMS
from stages.params import check_clip_len, check_model, load_params


@one_line_errors
def main(cache: Path = CACHE,
         work_dir: Path = typer.Option(Path("data/pretrain/work"), help="checkpoints, logs"),
         model_out: Path = CHECKPOINT, loss_curve: Path = LOSS_CURVE,
         params: Path = PARAMS) -> None:
    """Pretrain the segmenter (params: model, pretrain; finetune's clip checked early too)."""
    # imported here so that `sfvos --help`, `evaluate` and `report` do not load torch
    from pipeline.engine.pretrain import pretrain
    from pipeline.runtime import retain_freed_memory

    retain_freed_memory()

    p = load_params(params, "model", "pretrain", optional=("finetune",))
    backbone = check_model(p["model"]).backbone
    check_clip_len("pretrain.clip_len", p["pretrain"].clip_len, backbone)
    if "finetune" in p:  # refused now rather than after all of pretraining
        check_clip_len("finetune.clip_len", p["finetune"].clip_len, backbone)
    launcher = "pytorch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "none"
    pretrain(cache, work_dir, model_out, loss_curve, p["model"], p["pretrain"], launcher=launcher)


if __name__ == "__main__":
    typer.run(main)
