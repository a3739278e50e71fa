"""``sfvos report``: the ablation table (one row per DVC experiment) as markdown.

Reads ``dvc exp show --json`` (DVC 3): a list with one entry per commit (plus
``workspace``), each ``{"rev", "name", "data": {"params": {file: {"data": ...}},
"metrics": {file: {"data": ...}}}, "error", "experiments": [{"name", "revs": [entry...]}]}``.
A metrics or params file that failed to load holds ``"error"`` instead of ``"data"``; a
failed experiment has a non-null ``error`` and is left out.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Optional

import typer

from pipeline.errors import InputError
from stages.common import one_line_errors

COLUMNS = (  # (header, metrics.json key), after the experiment and pathways columns
    ("J&F", "J_and_F"), ("J", "J_mean"), ("F", "F_mean"), ("J&F FM", "J_and_F_FM"),
    ("GFLOPs", "gflops_per_frame"), ("fps", "fps"),
)


def _merged(files: dict | None) -> dict:
    """The ``data`` of every file of a params/metrics block, merged (files with errors skipped)."""
    merged: dict = {}
    for content in (files or {}).values():
        merged.update((content or {}).get("data") or {})
    return merged


def _row(name: str, entry: dict) -> dict | None:
    data = entry.get("data") or {}
    metrics = _merged(data.get("metrics"))
    if entry.get("error") or not metrics:
        return None
    params = _merged(data.get("params"))
    return {"experiment": name, "pathways": (params.get("model") or {}).get("pathways"),
            **{key: metrics.get(key) for _, key in COLUMNS}}


def experiment_rows(exp_show: list[dict], *, workspace: bool = False) -> list[dict]:
    """A row per commit and per experiment of it that has metrics (failed ones left out);
    the workspace only if ``workspace``."""
    rows = []
    for commit in exp_show:
        rev = str(commit.get("rev", ""))
        if rev != "workspace" or workspace:
            rows.append(_row(commit.get("name") or (rev if rev == "workspace" else rev[:7]), commit))
        for exp in commit.get("experiments") or []:
            for entry in exp.get("revs") or []:
                rows.append(_row(entry.get("name") or exp.get("name") or entry["rev"][:7], entry))
    return [r for r in rows if r is not None]


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    header = ["experiment", "pathways"] + [h for h, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["experiment"], r["pathways"]] + [r[key] for _, key in COLUMNS]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


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
    try:
        rows = experiment_rows(json.loads(text), workspace=workspace)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{source or 'dvc exp show'}: not the JSON of `dvc exp show --json` "
                         f"({type(exc).__name__}); save it with that command") from None
    table = markdown_table(rows)
    if out is None:
        typer.echo(table, nl=False)
    else:
        out.write_text(table)


if __name__ == "__main__":
    typer.run(main)
