"""The ``sfvos`` command: every pipeline stage, plus commands for users' own results.

An expected failure prints one line, ``error: ...``, and exits 2; ``sfvos --debug ...`` (or
``SFVOS_DEBUG=1``) adds the traceback.
"""
import os

import typer

from stages import decode, download, evaluate, finetune, pretrain, report, score, segment
from stages.common import DEBUG_ENV

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


app.command("evaluate")(score.main)
app.command("report", help="Markdown ablation table of the DVC experiments.")(report.main)
app.command("segment")(segment.main)


if __name__ == "__main__":
    app()
