"""Stage download: produce the DAVIS root (synthetic by default) at --out."""
from pathlib import Path

import typer

from pipeline.data.download import fetch
from stages.common import load_params


def main(out: Path = typer.Option(Path("data/davis"), help="DAVIS root to write"),
         params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Download or generate the dataset (params: download)."""
    p = load_params(params, "download")["download"]
    fetch(p["source"], out, path=p.get("path") or None, synthetic=p.get("synthetic"))


if __name__ == "__main__":
    typer.run(main)
