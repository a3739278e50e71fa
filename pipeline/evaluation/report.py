"""The ablation table (one row per DVC experiment) as markdown, from ``dvc exp show --json``.

The JSON (DVC 3) is a list with one entry per commit (plus ``workspace``), each ``{"rev",
"name", "data": {"params": {file: {"data": ...}}, "metrics": {file: {"data": ...}}}, "error",
"experiments": [{"name", "revs": [entry...]}]}``. A metrics or params file that failed to
load holds ``"error"`` instead of ``"data"``; a failed experiment has a non-null ``error`` and
is left out.
"""
from __future__ import annotations

import json

from pipeline.errors import InputError

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


def ablation_table(exp_show_json: str, source: str, *, workspace: bool = False) -> str:
    """The markdown table of the ``dvc exp show --json`` text read from ``source``."""
    try:
        rows = experiment_rows(json.loads(exp_show_json), workspace=workspace)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{source}: not the JSON of `dvc exp show --json` "
                         f"({type(exc).__name__}); save it with that command") from None
    return markdown_table(rows)
