"""Benchmark (not a test): clip loading from the decoded cache vs decoding the JPEGs.

    PYTHONPATH=. python benchmarks/bench_cache.py [--davis ../shared/data/davis2016-sample/DAVIS]

Decodes the real sample once into a temporary cache at the working resolution of
``params.yaml`` (section ``decode``), then loads every clip of ``--clip-len`` frames (one
per ``--stride`` start) three ways and prints frames/s:

* ``jpeg``: read the clip's JPEGs and PNG masks and resize them to the working resolution
  (what a loader without the cache does);
* ``npz``: open the sequence's npz file and slice the clip (a cold load per clip);
* ``dataset``: ``ClipDataset[i]`` (arrays held in memory, as training uses them).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from pipeline.data.cache import decode, load_arrays, resize_frames, resize_masks
from pipeline.data.dataset import ClipDataset
from pipeline.data.davis import list_sequences, read_frame, read_mask

REPO = Path(__file__).resolve().parents[1]


def _clips(lengths: dict[str, int], clip_len: int, stride: int) -> list[tuple[str, int]]:
    return [(n, s) for n, t in lengths.items() for s in range(0, t - clip_len + 1, stride)]


def _rate(load, clips, clip_len: int) -> float:
    start = time.perf_counter()
    for name, s in clips:
        load(name, s)
    return len(clips) * clip_len / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--davis", type=Path,
                        default=REPO / ".." / "shared" / "data" / "davis2016-sample" / "DAVIS")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--clip-len", type=int, default=8)
    parser.add_argument("--stride", type=int, default=8)
    args = parser.parse_args()
    p = yaml.safe_load(args.params.read_text())["decode"]
    size = (int(p["height"]), int(p["width"]))
    seqs = {s.name: s for s in list_sequences(args.davis)}
    clips = _clips({n: len(s.frames) for n, s in seqs.items()}, args.clip_len, args.stride)
    L = args.clip_len

    def jpeg(name, s):
        seq = seqs[name]
        resize_frames(np.stack([read_frame(f) for f in seq.frames[s:s + L]]), size)
        resize_masks(np.stack([read_mask(m, seq.year) for m in seq.masks[s:s + L]]), size)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cache = decode(args.davis, Path(tmp) / "cache", size)
        decode_s = time.perf_counter() - t0

        def npz(name, s):
            frames, masks = load_arrays(cache, name)
            np.ascontiguousarray(frames[s:s + L]), np.ascontiguousarray(masks[s:s + L])

        datasets = {sp: ClipDataset(str(cache), sp, clip_len=L) for sp in ("train", "val")}
        index = {(n, s): (sp, i) for sp, ds in datasets.items() for i, (n, s) in enumerate(ds.clips)}

        def dataset(name, s):
            sp, i = index[name, s]
            datasets[sp][i]

        rates = {"jpeg": _rate(jpeg, clips, L), "npz": _rate(npz, clips, L),
                 "dataset": _rate(dataset, clips, L)}
    frames = sum(len(s.frames) for s in seqs.values())
    print(f"decode: {len(seqs)} sequences, {frames} frames in {decode_s:.1f} s "
          f"({frames / decode_s:.0f} frames/s) at {size[0]}x{size[1]}")
    print(f"{len(clips)} clips of {L} frames:")
    for way, rate in rates.items():
        print(f"  {way:8s} {rate:9.0f} frames/s  ({rate / rates['jpeg']:.1f}x jpeg)")


if __name__ == "__main__":
    main()
