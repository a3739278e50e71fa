"""The ``sfvos`` command: every pipeline stage, plus commands for users' own results.

An expected failure prints one line, ``error: ...``, and exits 2; ``sfvos --debug ...`` (or
``SFVOS_DEBUG=1``) adds the traceback.
"""
import os
import time
from pathlib import Path
from typing import Optional

import typer

from stages import decode, download, evaluate, finetune, pretrain, report
from stages.common import DEBUG_ENV, one_line_errors

app = typer.Typer(help="SlowFast video object segmentation on DAVIS.", no_args_is_help=True,
                  add_completion=False)
stage = typer.Typer(help="The DVC pipeline's stages (what `dvc repro` runs).", no_args_is_help=True)
app.add_typer(stage, name="stage")


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="show the traceback of an error "
                                    "(as SFVOS_DEBUG=1)")) -> None:
    """SlowFast video object segmentation on DAVIS."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


stage.command("download", help="Download or generate the DAVIS dataset.")(download.main)
stage.command("decode", help="Decode frames and masks into the Parquet/npz cache.")(decode.main)
stage.command("pretrain", help="Pretrain the segmenter on the train split.")(pretrain.main)
stage.command("finetune", help="One-shot fine-tune and segment each validation sequence.")(finetune.main)
stage.command("evaluate", help="Score the results: metrics.json, reports, plots.")(evaluate.main)


@app.command("evaluate")
@one_line_errors
def evaluate_results(
    results_dir: Path = typer.Argument(..., help="folder of <sequence>/00000.png ... results"),
    davis_root: Path = typer.Argument(..., help="DAVIS root with Annotations/480p/"),
    year: Optional[int] = typer.Option(None, help="2016 (binary) or 2017 (ids); default: detect"),
    sequences: Optional[str] = typer.Option(None, help="comma-separated sequences (default: val)"),
    out: Optional[Path] = typer.Option(None, help="where to write the CSVs (default: RESULTS_DIR)"),
    jobs: Optional[int] = typer.Option(None, help="processes (default: all cores)"),
) -> None:
    """Score any results folder with the official DAVIS measures (J, F)."""
    from pipeline.evaluation.evaluate import run_evaluation

    start = time.perf_counter()
    names = [s for s in sequences.split(",") if s] if sequences else None
    scores, row = run_evaluation(results_dir, davis_root, out or results_dir, year=year,
                                 sequences=names, jobs=jobs)
    typer.echo(",".join(row))
    typer.echo(",".join(f"{v:.3f}" for v in row.values()))
    typer.echo(f"{len(scores)} object(s) of {len({s.sequence for s in scores})} sequence(s) "
               f"scored in {time.perf_counter() - start:.2f} s", err=True)


app.command("report", help="Markdown ablation table of the DVC experiments.")(report.main)


@app.command("segment")
@one_line_errors
def segment(
    input: Path = typer.Argument(..., help="video file (mp4, avi, mov) or folder of frames"),
    mask: Path = typer.Option(..., "--mask", help="palette or binary PNG mask of frame 0"),
    out: Path = typer.Option(..., "--out", help="folder for PNGs, overlay.mp4, areas.csv"),
    checkpoint: Optional[Path] = typer.Option(
        None, help="weights written by the pipeline (default: the shipped DAVIS 2016 parent)"),
    steps: int = typer.Option(100, help="fine-tune steps on frame 0 (0 = checkpoint as is)"),
    pathways: Optional[str] = typer.Option(None, help="require a slow|fast|slowfast checkpoint"),
    height: int = typer.Option(480, help="working height: taller frames are resized to it"),
    width: Optional[int] = typer.Option(None, help="working width (default: keep aspect)"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
) -> None:
    """Segment your own video from the mask of its first frame."""
    from dataclasses import replace

    from pipeline.engine.osvos import FinetuneConfig
    from pipeline.engine.segment import segment_video
    from pipeline.weights import PARENT_CHECKPOINT

    summary = segment_video(input, mask, checkpoint or PARENT_CHECKPOINT, out,
                            replace(FinetuneConfig(), steps=steps), height, width, device, pathways)
    typer.echo(
        f"segmented {summary['frames']} frames, {summary['objects']} object(s) in "
        f"{summary['seconds']:.1f} s ({summary['fps']:.1f} frames/s); outputs in {out}/ "
        "(00000.png..., overlay.mp4, areas.csv)"
    )


if __name__ == "__main__":
    app()
