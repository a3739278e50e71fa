"""Atomic file writes: a temp file beside the target, then a rename, so a reader (or a run
killed half-way) never sees a half-written CSV or JSON."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json_atomic(path: Path, data, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(data, indent=indent))


def write_csv_atomic(path: Path, header, rows) -> None:
    """A header row and data rows (sequences of cells)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
