"""Stage evaluate: the official DAVIS measures (the library call behind ``sfvos evaluate``),
breakdowns, compute -> metrics.json, plots and overlay GIFs
(:func:`pipeline.evaluation.outputs.evaluate_outputs`)."""
from pathlib import Path

import typer

from pipeline.evaluation.outputs import evaluate_outputs
from stages.common import one_line_errors
from stages.options import CACHE, DAVIS, LOSS_CURVE, PARAMS, RESULTS, TIMING
from stages.params import load_params


@one_line_errors
def main(results: Path = RESULTS, davis: Path = DAVIS, cache: Path = CACHE, timing: Path = TIMING,
         out: Path = typer.Option(Path("data/evaluate"), help="toolkit-style CSV/JSON reports"),
         overlays: Path = typer.Option(Path("data/evaluate/overlays"), help="overlay GIFs folder"),
         metrics: Path = typer.Option(Path("metrics.json"), help="DVC metrics file"),
         plots: Path = typer.Option(Path("plots"), help="folder of DVC plot files"),
         loss_curve: Path = LOSS_CURVE, params: Path = PARAMS) -> None:
    """Score the results with the DAVIS measures (params: evaluate).

    Every input is read before the first output is written: a failure leaves metrics.json
    and the plots of the previous run (persistent outputs in dvc.yaml) as they were.
    """
    p = load_params(params, "evaluate")["evaluate"]
    row = evaluate_outputs(results, davis, cache, timing, reports=out, metrics=metrics,
                           plots=plots, overlays=overlays, loss_curve=loss_curve,
                           split=p.split, jobs=p.jobs, num_overlays=p.overlays)
    print(" ".join(f"{k}={row[k]:.3f}" for k in row))


if __name__ == "__main__":
    typer.run(main)
