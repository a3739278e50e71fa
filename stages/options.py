"""The command-line options of the pipeline's files, each declared once: a stage that writes
a file and the stages that read it take the same option (dvc.yaml passes every path)."""
from pathlib import Path

import typer

PARAMS = typer.Option(Path("params.yaml"), help="params file")
DAVIS = typer.Option(Path("data/davis"), help="DAVIS root (download writes it)")
CACHE = typer.Option(Path("data/cache"), help="decoded cache (decode writes it)")
CHECKPOINT = typer.Option(Path("data/pretrain/model.pth"), help="pretrained weights (pretrain "
                          "writes them)")
LOSS_CURVE = typer.Option(Path("plots/pretrain_loss.tsv"), help="pretrain loss TSV (pretrain "
                          "writes it)")
RESULTS = typer.Option(Path("data/results"), help="DAVIS-layout results (finetune writes them)")
TIMING = typer.Option(Path("data/finetune/timing.json"), help="finetune timings and compute "
                      "(finetune writes them)")
