"""A fingerprint of the download stage's source, cheap enough to take on every ``dvc repro``.

For ``download.source=local`` it covers every file under ``download.path`` (or the zip), and
for ``download.photos`` every file under that folder:
relative path, size and modification time. A repaired or replaced frame changes it, so DVC
re-runs the download (and what follows); an untouched copy gives the same fingerprint and
nothing re-runs. Other sources are fixed by their params (seed, URL, checksum) alone.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def source_fingerprint(source: str, path: str | None, photos: str | None = None) -> dict:
    """``{"source", "path", "files", "digest"}``: what identifies the source's content; with
    ``photos`` (a folder of photos, ``download.photos``) its fingerprint too,
    under ``"photos"``."""
    out = {"source": source}
    if source == "local" and path:
        out |= _tree(path)
    if photos:
        out["photos"] = _tree(photos)
    return out


def _tree(path: str) -> dict:
    """``{"path", "files", "digest"}`` of the relative paths, sizes and mtimes under ``path``."""
    root = Path(path).expanduser().resolve()
    digest, count = hashlib.sha256(), 0
    for file, rel in _files(root):  # none for a missing path: the download stage reports it
        st = file.stat()
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        count += 1
    return {"path": str(root), "files": count, "digest": digest.hexdigest()}


def _files(root: Path):
    """(file, path relative to ``root``) for ``root`` itself or every file below it, sorted."""
    if root.is_file():
        yield root, root.name
        return
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            file = Path(folder) / name
            yield file, file.relative_to(root).as_posix()
