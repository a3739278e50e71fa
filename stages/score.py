"""``sfvos evaluate``: score any results folder with the official DAVIS measures
(:func:`pipeline.evaluation.evaluate.run_evaluation`, as the evaluate stage)."""
import time
from pathlib import Path
from typing import Optional

import typer

from stages.common import one_line_errors


@one_line_errors
def main(
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
