"""Stage source: the fingerprint of ``download.path`` (DVC runs it every time, in milliseconds),
a dependency of download, so that a changed local copy is downloaded again and an unchanged
one is not.

It is also the first stage of every ``dvc repro``, so it stops a second ``dvc repro`` (or
``dvc exp run`` in the workspace) while another runs: DVC releases its repository lock while
a stage's command runs and locks only that stage's own files (``.dvc/tmp/rwlock``), so a
second run could otherwise re-run download and rewrite ``data/davis`` under a first one that
is pretraining. The fingerprint DVC removed before the command is written back first (the
same file when nothing changed), so the refused run changes nothing.
"""
import json
import os
from pathlib import Path

import typer

from pipeline.data.source import source_fingerprint
from pipeline.errors import InputError
from pipeline.fileio import write_json_atomic
from stages.common import one_line_errors
from stages.options import PARAMS
from stages.params import load_params

RWLOCK = Path(".dvc/tmp/rwlock")  # DVC's record of the files its running stages hold


def other_dvc_run(out: Path, rwlock: Path = RWLOCK) -> tuple[str, dict] | None:
    """(path, {"pid", "cmd"}) of a file that a running process holds in DVC's ``rwlock``,
    other than the DVC process that runs this stage (the holder of ``out``); None if none."""
    try:
        lock = json.loads(Path(rwlock).read_text())
    except (OSError, ValueError):  # no DVC run (or none yet): nothing to wait for
        return None
    held = [*lock.get("write", {}).items(),
            *((path, info) for path, infos in lock.get("read", {}).items() for info in infos)]
    writes = lock.get("write", {})
    mine = next((writes[k].get("pid") for k in (os.path.abspath(out), str(Path(out).resolve()))
                 if k in writes), None)
    return next(((path, info) for path, info in held
                 if info.get("pid") != mine and _runs(info.get("pid"))), None)


def _runs(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, TypeError, ValueError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


@one_line_errors
def main(out: Path = typer.Option(Path("data/source.json"), help="fingerprint file to write"),
         params: Path = PARAMS) -> None:
    """Fingerprint the download source (params: download)."""
    p = load_params(params, "download")["download"]
    write_json_atomic(out, source_fingerprint(p.source, p.path or None, p.photos or None))
    if (other := other_dvc_run(out)) is not None:
        path, info = other
        raise InputError(f"{RWLOCK}: another DVC run (pid {info['pid']}: {info.get('cmd', '?')}) "
                         f"holds {path} of this project; wait for it to finish, then run again "
                         "(this run stopped before changing anything)")


if __name__ == "__main__":
    typer.run(main)
