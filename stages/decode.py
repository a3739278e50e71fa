"""Stage decode: DAVIS root -> Parquet index + npz arrays at the working resolution."""
from pathlib import Path

import typer

from pipeline.data.cache import decode
from stages.common import one_line_errors
from stages.options import CACHE, DAVIS, PARAMS
from stages.params import load_params


@one_line_errors
def main(davis: Path = DAVIS, out: Path = CACHE, params: Path = PARAMS) -> None:
    """Decode frames and masks once into the cache (params: decode)."""
    p = load_params(params, "decode")["decode"]
    decode(davis, out, (p.height, p.width))


if __name__ == "__main__":
    typer.run(main)
