"""What every stage command shares: reading its ``params.yaml`` sections, reporting data errors."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import yaml

from pipeline.data.davis import DavisError


def load_params(path: Path, *sections: str) -> dict:
    """The named top-level sections of ``params.yaml`` (a clear error if one is missing)."""
    params = yaml.safe_load(Path(path).read_text()) or {}
    missing = [s for s in sections if s not in params]
    if missing:
        raise SystemExit(f"{path}: missing section(s) {', '.join(missing)}")
    return {s: params[s] for s in sections}


def data_errors_exit(main):
    """Wrap a stage ``main``: a :class:`DavisError` prints ``error: <one line>``, exits 2.

    The message already names the file, the problem and the fix; a traceback adds nothing.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except DavisError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
