"""Stage finetune: OSVOS one-shot fine-tuning per validation sequence, then prediction.

Under ``torchrun --nproc_per_node=N`` the sequences are sharded across ranks (sequence i
goes to rank i % N) and rank 0 writes the merged timings. ``--results`` is a persistent DVC
output: after a kill, sequences already finished with the same checkpoint and params are kept.
"""
from pathlib import Path

import typer

from stages.common import one_line_errors
from stages.options import CACHE, CHECKPOINT, DAVIS, PARAMS, RESULTS, TIMING
from stages.params import check_clip_len, load_params


@one_line_errors
def main(cache: Path = CACHE, davis: Path = DAVIS, checkpoint: Path = CHECKPOINT,
         results: Path = RESULTS, timing: Path = TIMING, params: Path = PARAMS) -> None:
    """Fine-tune on frame 0 and segment every validation sequence (params: finetune)."""
    # imported here so that `sfvos --help`, `evaluate` and `report` do not load torch
    from pipeline.engine.vos import finetune_split, load_segmenter
    from pipeline.runtime import retain_freed_memory

    retain_freed_memory()

    cfg = load_params(params, "finetune")["finetune"]
    # the checkpoint is read and its model checked before any sequence is touched
    model = load_segmenter(checkpoint)
    check_clip_len("finetune.clip_len", cfg.clip_len, model.backbone)
    finetune_split(cache, davis, checkpoint, results, timing, cfg, model)


if __name__ == "__main__":
    typer.run(main)
