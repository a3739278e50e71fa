"""``sfvos report``: the ablation table (one row per DVC experiment) as markdown
(:func:`pipeline.evaluation.report.ablation_table`), from ``dvc exp show --json`` run here or
saved to a file."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

import typer

from pipeline.errors import InputError
from pipeline.evaluation.report import ablation_table
from pipeline.fileio import write_text_atomic
from stages.common import one_line_errors


def _exp_show(all_commits: bool) -> str:
    """``dvc exp show --json`` run here; outside a DVC project, one line saying so."""
    cmd = ["dvc", "exp", "show", "--json"] + (["-A"] if all_commits else [])
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise InputError("dvc: command not found; activate the project's environment "
                         "(source .venv/bin/activate) or pass --input") from None
    except subprocess.CalledProcessError as exc:
        first = next((l for l in exc.stderr.splitlines() if l.strip()), "failed")
        raise InputError(f"`{' '.join(cmd)}` in {Path.cwd()}: {first.strip()}; run sfvos "
                         "report inside the DVC project, or pass --input") from None


@one_line_errors
def main(source: Optional[Path] = typer.Option(
             None, "--input", help="saved `dvc exp show --json` output (default: run it here)"),
         out: Optional[Path] = typer.Option(None, help="markdown file to write (default: print)"),
         all_commits: bool = typer.Option(False, "--all-commits", "-A", help="every commit's experiments"),
         workspace: bool = typer.Option(False, help="also a row for the uncommitted workspace")) -> None:
    """Markdown ablation table of the DVC experiments (pathways, J&F, J, F, J&F FM, GFLOPs, fps)."""
    text = _exp_show(all_commits) if source is None else Path(source).read_text()
    table = ablation_table(text, str(source or "dvc exp show"), workspace=workspace)
    if out is None:
        typer.echo(table, nl=False)
    else:
        write_text_atomic(out, table)


if __name__ == "__main__":
    typer.run(main)
