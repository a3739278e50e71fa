"""The evaluate stage's outputs: the toolkit's reports, ``metrics.json`` (the global measures,
their breakdowns by attribute and speed, and the compute), the plot CSVs with their PNG
renderings, and overlay GIFs of the first sequences.

Every input is read before the first output is written: a failure leaves the metrics and
plots of the previous run as they were.
"""
from __future__ import annotations

from pathlib import Path

from pipeline import figures
from pipeline.data.cache import INDEX, sequence_table
from pipeline.data.davis import detect_year
from pipeline.errors import InputError
from pipeline.evaluation.evaluate import run_evaluation
from pipeline.evaluation.overlay import write_overlays
from pipeline.evaluation.summary import j_over_time_rows, per_sequence_rows, summarize
from pipeline.fileio import write_dict_rows, write_json_atomic
from pipeline.timing import FinetuneTiming


def evaluate_outputs(results: Path, davis: Path, cache: Path, timing: Path, *, reports: Path,
                     metrics: Path, plots: Path, overlays: Path, loss_curve: Path,
                     split: str = "val", jobs: int | None = None, num_overlays: int = 0) -> dict:
    """Score ``results`` against ``davis`` and write every output; returns the global row.

    ``cache``: the decoded cache (attributes and measured speed per sequence); ``timing``:
    the finetune record; ``loss_curve``: the pretrain loss TSV, drawn if it exists.
    """
    compute = FinetuneTiming.read(timing).metrics()
    if not (Path(cache) / INDEX).is_file():
        raise InputError(f"{cache}: no decoded cache (index.parquet); run `dvc repro decode`")
    seqs = {s["name"]: s for s in sequence_table(cache, split)}
    scores, row = run_evaluation(results, davis, reports, split=split, jobs=jobs)
    write_json_atomic(metrics, summarize(scores, row, seqs) | compute)
    plots = Path(plots)
    per_object, over_time = per_sequence_rows(scores), j_over_time_rows(scores)
    write_dict_rows(plots / "per_sequence.csv", per_object)
    write_dict_rows(plots / "j_over_time.csv", over_time)
    figures.per_object_bars(per_object, plots / "per_sequence.png")
    figures.j_over_time(over_time, plots / "j_over_time.png")
    if Path(loss_curve).is_file():
        figures.loss_curve(loss_curve, plots / "pretrain_loss.png")
    names = list(dict.fromkeys(s.sequence for s in scores))[:num_overlays]
    write_overlays(results, davis, overlays, names, binary=detect_year(davis) == 2016)
    return row
