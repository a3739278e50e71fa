"""The download stage's library side: produce a DAVIS root from the chosen source.

Sources: ``synthetic`` (generated, offline, the default), ``local`` (a folder or zip in the
official layout of either year: the DAVIS root itself, or a folder/zip holding one such
root as the official zips do). The output folder is replaced atomically.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from tqdm import tqdm

from pipeline.data.davis import DavisError, detect_year, find_davis_root
from pipeline.data.synthetic import SyntheticSpec, generate

SOURCES = ("synthetic", "local")


def safe_extract(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing members that escape it (zip-slip)."""
    target = Path(target).resolve()
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for m in members:
            dest = (target / m.filename).resolve()
            if dest != target and target not in dest.parents:
                raise DavisError(
                    f"{archive}: member {m.filename!r} would be written outside {target}; "
                    "refusing to extract an unsafe archive"
                )
        for m in tqdm(members, desc=f"extract {Path(archive).name}", unit="file"):
            zf.extract(m, target)


def from_local(path: Path, out: Path) -> Path:
    """Copy (folder) or extract (zip) a local DAVIS dataset to ``out`` (the DAVIS root)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DavisError(f"{path}: download.path does not exist; set it to a DAVIS folder or zip")
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DavisError(f"{path}: not a zip archive; give a DAVIS folder or the official zip")
        staging = out.with_name(out.name + ".extract")
        shutil.rmtree(staging, ignore_errors=True)
        safe_extract(path, staging)
        shutil.move(str(find_davis_root(staging)), tmp)
        shutil.rmtree(staging, ignore_errors=True)
    else:
        shutil.copytree(find_davis_root(path), tmp)
    detect_year(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def fetch(source: str, out: Path, path: str | None = None, synthetic: dict | None = None) -> Path:
    """Materialise the DAVIS root of ``source`` at ``out``."""
    if source == "synthetic":
        return generate(Path(out), SyntheticSpec(**(synthetic or {})))
    if source == "local":
        if not path:
            raise DavisError("download.source=local needs download.path (a DAVIS folder or zip)")
        return from_local(Path(path), Path(out))
    raise DavisError(f"download.source={source!r} is not one of {', '.join(SOURCES)}")
