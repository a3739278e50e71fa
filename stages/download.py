"""Stage download: produce the DAVIS root (synthetic by default) at --out."""
from dataclasses import asdict
from pathlib import Path

import typer

from pipeline.data.download import install_dataset
from stages.common import one_line_errors
from stages.options import DAVIS, PARAMS
from stages.params import load_params


@one_line_errors
def main(out: Path = DAVIS,
         archives: Path = typer.Option(Path("data/archives"),
                                       help="downloaded archives (kept; .part files resume)"),
         params: Path = PARAMS) -> None:
    """Download or generate the dataset (params: download)."""
    p = load_params(params, "download")["download"]
    archives.mkdir(parents=True, exist_ok=True)
    install_dataset(p.source, out, path=p.path or None, synthetic=asdict(p.synthetic),
                    archives=archives, url=p.url or None, checksum=p.checksum or None,
                    holdout=p.holdout, photos=p.photos or None)


if __name__ == "__main__":
    typer.run(main)
