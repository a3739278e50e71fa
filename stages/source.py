"""Stage source: the fingerprint of ``download.path`` (DVC runs it every time, in milliseconds),
a dependency of download, so that a changed local copy is downloaded again and an unchanged
one is not."""
from pathlib import Path

import typer

from pipeline.data.source import source_fingerprint
from pipeline.fileio import write_json_atomic
from stages.common import one_line_errors
from stages.options import PARAMS
from stages.params import load_params


@one_line_errors
def main(out: Path = typer.Option(Path("data/source.json"), help="fingerprint file to write"),
         params: Path = PARAMS) -> None:
    """Fingerprint the download source (params: download)."""
    p = load_params(params, "download")["download"]
    write_json_atomic(out, source_fingerprint(p.source, p.path or None, p.photos or None))


if __name__ == "__main__":
    typer.run(main)
