"""The download stage's library side: produce a DAVIS root from the chosen source.

Sources:

* ``synthetic``: generated, offline, the default;
* ``davis2017`` / ``davis2016``: the official archive, downloaded resumably into an archive
  folder (kept, so a rerun neither downloads nor verifies twice), checksum verified, then
  extracted (480p only);
* ``local``: a folder or zip in the official layout of either year: the DAVIS root itself,
  or a folder/zip holding one such root, as the official zips do.

Whatever the source, two options shape the installed root: ``holdout`` moves train sequences
to the val split (the held-out protocol: settings are chosen on train sequences the parent
never saw, README "Choosing settings on held-out sequences"; the names are listed in
``ImageSets/holdout.txt``), and ``photos`` copies a folder of photos with object masks
into ``Photos/`` for pretraining (:mod:`pipeline.data.photos`).

The output folder is written beside ``out`` and renamed into place: an error leaves the
previous ``out`` (or none) and no half-written folder.

A root copied from ``download.path`` (or holding ``download.photos``) records where it came
from in ``sfvos_origin.json``: an error about a file of the copy also names the file under
``download.path`` that the user must fix (:func:`with_origin`, which decode applies).
"""
from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from pipeline.data.davis import DavisError, detect_year, find_davis_root, split_entry_name
from pipeline.data.fetch import fetch_archive
from pipeline.data.photos import FOLDER, install_photos
from pipeline.data.source import check_links
from pipeline.data.synthetic import SyntheticSpec, generate
from pipeline.errors import ConfigError
from pipeline.fileio import atomic_dir


@dataclass(frozen=True)
class Archive:
    """An official DAVIS archive: where it lives and what it must hash to."""

    url: str
    checksum: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


OFFICIAL = {
    "davis2017": Archive(
        "https://data.vision.ee.ethz.ch/csergi/share/davis/DAVIS-2017-trainval-480p.zip",
        "sha256:e3d0b5b77c3d031b000a19e0e25e3e2cac65d183755601bc2cf066df1a2aa492",
    ),
    "davis2016": Archive(
        "https://graphics.ethz.ch/Downloads/Data/Davis/DAVIS-data.zip",
        "md5:0cb3cf9c5617209fa3cc4794e52a2ffa",
    ),
}
SOURCES = ("synthetic", "local", *OFFICIAL)
SKIPPED_RESOLUTIONS = {"1080p", "Full-Resolution"}
HOLDOUT = "holdout.txt"  # in ImageSets/: the train sequences moved to val
ORIGIN = "sfvos_origin.json"  # in a root copied from download.path / download.photos


def safe_extract(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing members that escape it (zip-slip).

    Members under a ``1080p`` / ``Full-Resolution`` folder are skipped: only 480p is used.
    """
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
        wanted = [m for m in members if not SKIPPED_RESOLUTIONS & set(PurePosixPath(m.filename).parts)]
        for m in tqdm(wanted, desc=f"extract {Path(archive).name}", unit="file"):
            zf.extract(m, target)


def _install(path: Path, out: Path) -> dict:
    """Copy (folder) or extract (zip) the DAVIS root in ``path`` to ``out``, atomically;
    returns where the root came from: ``{"root": folder}`` or ``{"archive", "member"}``."""
    staging = out.with_name(out.name + ".extract")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with atomic_dir(out) as tmp:
            if path.is_file():
                if not zipfile.is_zipfile(path):
                    raise DavisError(f"{path}: not a zip archive; give a DAVIS folder or the "
                                     "official zip")
                safe_extract(path, staging)
                root = find_davis_root(staging)
                origin = {"archive": str(path.resolve()),
                          "member": root.relative_to(staging).as_posix()}
                shutil.move(str(root), tmp)
            else:
                root = find_davis_root(path)
                origin = {"root": str(root.resolve())}
                shutil.copytree(root, tmp)
            detect_year(tmp)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return origin


def with_origin(message: str, root: Path) -> str:
    """``message`` (``<file>: ...``) with the file's origin after the file where ``<file>``
    lies in the DAVIS ``root`` copied from ``download.path`` / ``download.photos``: what the
    user must fix is the original, not the copy."""
    record = Path(root) / ORIGIN
    head, sep, rest = message.partition(": ")
    if not sep or not record.is_file() or not Path(head).is_relative_to(root):
        return message
    origin, rel = json.loads(record.read_text()), Path(head).relative_to(root)
    if rel.parts[:1] == (FOLDER,) and "photos" in origin:
        where = f"{Path(origin['photos'], *rel.parts[1:])}, download.photos"
    elif "archive" in origin:
        member = PurePosixPath(origin["member"], rel.as_posix())
        where = f"{member} in {origin['archive']}, download.path"
    elif "root" in origin:
        where = f"{Path(origin['root'], rel)}, download.path"
    else:
        return message
    return f"{head} (copied from {where}){sep}{rest}"


def from_local(path: Path, out: Path) -> dict:
    """A local DAVIS folder or zip (either year) installed as the DAVIS root ``out``; returns
    where the root came from (:func:`_install`)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DavisError(f"{path}: download.path does not exist; set it to a DAVIS folder or zip")
    check_links(path)
    return _install(path, Path(out))


def from_official(source: str, out: Path, archives: Path, url: str | None = None,
                  checksum: str | None = None) -> Path:
    """Download (resumably) the official archive of ``source`` into ``archives``, install it.

    ``url`` / ``checksum`` override the official ones (a mirror; tests use a local server).
    """
    official = OFFICIAL[source]
    archive = Archive(url or official.url, checksum or official.checksum)
    zip_path = fetch_archive(archive.url, Path(archives) / archive.filename, archive.checksum)
    _install(zip_path, Path(out))
    return Path(out)


def hold_out(root: Path, names: tuple[str, ...]) -> None:
    """Move the train sequences ``names`` of the DAVIS root to its val split (split files
    rewritten, names listed in ``ImageSets/holdout.txt``)."""
    if not names:
        return
    year = detect_year(root)
    folder = Path(root) / "ImageSets" / ("2017" if year == 2017 else "480p")
    train, val = folder / "train.txt", folder / "val.txt"
    if not train.is_file():
        raise DavisError(f"{train}: missing; download.holdout needs a DAVIS root with a train "
                         "split (ImageSets), or set download.holdout to []")
    lines = [line for line in train.read_text().splitlines() if line.strip()]
    name = {line: split_entry_name(line, year) for line in lines}
    for n in names:
        if n not in name.values():
            raise ConfigError(f"download.holdout: {n!r} is not a train sequence of the DAVIS root "
                              f"({train}); name train sequences only (fix params.yaml)")
    moved = [line for line in lines if name[line] in names]
    train.write_text("".join(f"{line}\n" for line in lines if name[line] not in names))
    kept = val.read_text() if val.is_file() else ""
    val.write_text(kept + ("" if not kept or kept.endswith("\n") else "\n")
                   + "".join(f"{line}\n" for line in moved))
    (Path(root) / "ImageSets" / HOLDOUT).write_text("".join(f"{n}\n" for n in names))


def held_out_names(root: Path) -> set[str]:
    """The sequences :func:`hold_out` moved to val in this root (none if it did not)."""
    path = Path(root) / "ImageSets" / HOLDOUT
    return set(path.read_text().split()) if path.is_file() else set()


def install_dataset(source: str, out: Path, path: str | None = None,
                    synthetic: dict | None = None, archives: Path | None = None,
                    url: str | None = None, checksum: str | None = None,
                    holdout: tuple[str, ...] = (), photos: str | None = None) -> Path:
    """Install the DAVIS root of ``source`` at ``out`` (see :func:`install_source`), then hold
    out the train sequences ``holdout`` (:func:`hold_out`) and add the photos of
    ``photos`` (:func:`~pipeline.data.photos.install_photos`), all atomically; a root copied
    from ``path`` or ``photos`` records where from (:data:`ORIGIN`, :func:`with_origin`)."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        origin = install_source(source, tmp, path, synthetic, archives or out.with_name("archives"),
                                url, checksum)
        hold_out(tmp, tuple(holdout))
        if photos:
            check_links(photos)
            install_photos(Path(photos).expanduser(), tmp)
            origin["photos"] = str(Path(photos).expanduser().resolve())
        if origin:
            (tmp / ORIGIN).write_text(json.dumps(origin, indent=1))
    return out


def install_source(source: str, out: Path, path: str | None = None,
                   synthetic: dict | None = None, archives: Path | None = None,
                   url: str | None = None, checksum: str | None = None) -> dict:
    """Install the DAVIS root of ``source`` at ``out``: generated, copied / extracted from a
    local folder or zip, or downloaded (:func:`~pipeline.data.fetch.fetch_archive`) and
    extracted. Returns where a local root came from (:func:`_install`), else ``{}``."""
    if source == "synthetic":
        generate(Path(out), SyntheticSpec(**(synthetic or {})))
        return {}
    if source == "local":
        if not path:
            raise ConfigError("download.source=local needs download.path (a DAVIS folder or zip)")
        return from_local(Path(path), Path(out))
    if source in OFFICIAL:
        archives = Path(archives) if archives else Path(out).with_name("archives")
        from_official(source, Path(out), archives, url, checksum)
        return {}
    raise ConfigError(f"download.source={source!r} is not one of {', '.join(SOURCES)}; "
                      "fix params.yaml")
