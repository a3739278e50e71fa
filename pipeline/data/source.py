"""A fingerprint of the download stage's source, cheap enough to take on every ``dvc repro``.

For ``download.source=local`` it covers every file under ``download.path`` (or the zip), and
for ``download.photos`` every file under that folder:
relative path, size and modification time. A repaired or replaced frame changes it, so DVC
re-runs the download (and what follows); an untouched copy gives the same fingerprint and
nothing re-runs. Other sources are fixed by their params (seed, URL, checksum) alone.
A broken symbolic link below either folder is an :class:`~pipeline.errors.InputError` naming
it (:func:`check_links`, which the download stage calls too).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pipeline.errors import InputError


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


def check_links(path: Path) -> None:
    """An InputError naming the first broken symbolic link at or below ``path``, if any."""
    for _ in _files(Path(path).expanduser()):
        pass


def _files(root: Path):
    """(file, path relative to ``root``) for ``root`` itself or every file below it, sorted;
    an InputError at a broken symbolic link (os.walk lists it as a file)."""
    if root.is_file():
        yield root, root.name
        return
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            file = Path(folder) / name
            if file.is_symlink() and not file.exists():
                raise InputError(f"{file}: a broken symbolic link (to {os.readlink(file)}, which "
                                 f"does not exist) below {root}; remove the link or restore "
                                 "its target")
            yield file, file.relative_to(root).as_posix()
