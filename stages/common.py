"""What every stage command shares: reading its ``params.yaml`` sections."""
from __future__ import annotations

from pathlib import Path

import yaml


def load_params(path: Path, *sections: str) -> dict:
    """The named top-level sections of ``params.yaml`` (a clear error if one is missing)."""
    params = yaml.safe_load(Path(path).read_text()) or {}
    missing = [s for s in sections if s not in params]
    if missing:
        raise SystemExit(f"{path}: missing section(s) {', '.join(missing)}")
    return {s: params[s] for s in sections}
