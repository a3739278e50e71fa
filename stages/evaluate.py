"""Stage evaluate: the official DAVIS measures (the library call behind ``sfvos evaluate``),
breakdowns, compute -> metrics.json, plots and overlay GIFs."""
import json
from pathlib import Path

import typer

from pipeline import figures
from pipeline.data.cache import sequence_table
from pipeline.data.davis import detect_year
from pipeline.evaluation.evaluate import run_evaluation
from pipeline.evaluation.overlay import write_overlays
from pipeline.evaluation.summary import j_over_time_rows, per_sequence_rows, summarize
from pipeline.errors import InputError
from pipeline.fileio import write_csv_atomic, write_json_atomic
from stages.common import one_line_errors
from stages.params import load_params


def _write_rows(path: Path, rows: list[dict]) -> None:
    write_csv_atomic(path, list(rows[0]), [list(r.values()) for r in rows])


def _compute(timing: Path) -> dict:
    try:
        record = json.loads(Path(timing).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{timing}: cannot read the finetune timings ({type(exc).__name__}); "
                         "run `dvc repro finetune`") from None
    per_seq = list(record["sequences"].values())
    return {
        "params": record["compute"]["params"],
        "gflops_per_frame": record["compute"]["gflops_per_frame"],
        "fps": sum(t["predict_fps"] for t in per_seq) / max(len(per_seq), 1),
        "finetune_s_per_seq": sum(t["finetune_s"] for t in per_seq) / max(len(per_seq), 1),
    }


@one_line_errors
def main(results: Path = typer.Option(Path("data/results"), help="DAVIS-layout results"),
         davis: Path = typer.Option(Path("data/davis"), help="DAVIS root (ground truth)"),
         cache: Path = typer.Option(Path("data/cache"), help="decoded cache (attributes, speed)"),
         timing: Path = typer.Option(Path("data/finetune/timing.json"), help="finetune timings"),
         out: Path = typer.Option(Path("data/evaluate"), help="toolkit-style CSV/JSON reports"),
         overlays: Path = typer.Option(Path("data/evaluate/overlays"), help="overlay GIFs folder"),
         metrics: Path = typer.Option(Path("metrics.json"), help="DVC metrics file"),
         plots: Path = typer.Option(Path("plots"), help="folder of DVC plot files"),
         loss_curve: Path = typer.Option(Path("plots/pretrain_loss.tsv"), help="pretrain loss TSV"),
         params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Score the results with the DAVIS measures (params: evaluate).

    Every input is read before the first output is written: a failure leaves metrics.json
    and the plots of the previous run (persistent outputs in dvc.yaml) as they were.
    """
    p = load_params(params, "evaluate")["evaluate"]
    compute = _compute(timing)
    if not (Path(cache) / "index.parquet").is_file():
        raise InputError(f"{cache}: no decoded cache (index.parquet); run `dvc repro decode`")
    seqs = {s["name"]: s for s in sequence_table(cache, p.split)}
    scores, row = run_evaluation(results, davis, out, split=p.split, jobs=p.jobs)
    m = summarize(scores, row, seqs) | compute
    write_json_atomic(metrics, m)
    per_object, over_time = per_sequence_rows(scores), j_over_time_rows(scores)
    _write_rows(plots / "per_sequence.csv", per_object)
    _write_rows(plots / "j_over_time.csv", over_time)
    figures.per_object_bars(per_object, plots / "per_sequence.png")
    figures.j_over_time(over_time, plots / "j_over_time.png")
    if loss_curve.is_file():
        figures.loss_curve(loss_curve, plots / "pretrain_loss.png")
    names = list(dict.fromkeys(s.sequence for s in scores))[: p.overlays]
    write_overlays(results, davis, overlays, names, binary=detect_year(davis) == 2016)
    print(" ".join(f"{k}={row[k]:.3f}" for k in row))


if __name__ == "__main__":
    typer.run(main)
