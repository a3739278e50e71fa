"""Atomic writes: a temp file (or folder) beside the target, then a rename, so a reader (or a
run killed half-way) never sees a half-written file or folder.

Every atomic write in the pipeline goes through :func:`atomic_path` (a file) or
:func:`atomic_dir` (a folder); the ``*_atomic`` helpers cover text, JSON and CSV. (The one
other rename, :func:`pipeline.data.fetch.fetch_archive`'s ``.part`` file, is kept on an error
on purpose: the next run resumes it.)
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: Path, *, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``path``; write it, and on leaving it is renamed to ``path``.

    The temp file is ``<name>.tmp``, or ``.<stem>.tmp<suffix>`` with ``keep_suffix`` (for
    writers that pick the format from the suffix: imageio, matplotlib). On an error it is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}" if keep_suffix else f"{path.name}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield ``<path>.tmp`` (absent: the caller creates it); on leaving, it replaces ``path``.

    A stale temp folder of a killed run is removed first; on an error the temp folder is
    removed and ``path`` (or its absence) is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        tmp.replace(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` (created with O_EXCL, holding this process's id); it is
    removed on leaving. A lock left by a process that no longer runs (a killed run) is taken
    over; one held by a running process raises :class:`FileExistsError`."""
    path = Path(path)
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if attempt or _holder_runs(path):
                raise
            path.unlink(missing_ok=True)
    with os.fdopen(fd, "w") as lock:
        lock.write(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _holder_runs(lock: Path) -> bool:
    """Whether the process whose id ``lock`` holds still runs (an unreadable lock: yes)."""
    try:
        os.kill(int(lock.read_text().strip()), 0)
    except (ProcessLookupError, FileNotFoundError):
        return False
    except (ValueError, OSError):  # no id written yet, or another user's process
        return True
    return True


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: Path, data, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(data, indent=indent))


def write_csv_atomic(path: Path, header, rows) -> None:
    """A header row and data rows (sequences of cells)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def write_dict_rows(path: Path, rows: list[dict]) -> None:
    """Rows of one shape (dicts with the same keys) as a CSV, the keys as header."""
    write_csv_atomic(path, list(rows[0]), [list(r.values()) for r in rows])
