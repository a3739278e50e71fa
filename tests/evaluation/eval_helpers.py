"""Helpers for the evaluation tests: small DAVIS-layout folders written from arrays."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.data.davis import write_palette_png

VAL2016 = ("blackswan", "car-shadow", "drift-chicane")


def write_ids(folder: Path, masks: np.ndarray, *, gray: bool = False) -> Path:
    """(T, H, W) ids as ``folder/00000.png ...``: palette PNGs, or grayscale with ``gray``."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, m in enumerate(masks):
        if gray:
            Image.fromarray(np.asarray(m, np.uint8), mode="L").save(folder / f"{t:05d}.png")
        else:
            write_palette_png(folder / f"{t:05d}.png", m)
    return folder


def make_davis2017(root: Path, sequences: dict[str, np.ndarray], split: str = "val") -> Path:
    """A DAVIS 2017 root: grey frames, palette annotations, ``ImageSets/2017/<split>.txt``."""
    for name, masks in sequences.items():
        write_ids(root / "Annotations" / "480p" / name, masks)
        frames = root / "JPEGImages" / "480p" / name
        frames.mkdir(parents=True)
        for t in range(len(masks)):
            Image.new("RGB", masks.shape[:0:-1], (90, 90, 90)).save(frames / f"{t:05d}.jpg")
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True)
    (sets / f"{split}.txt").write_text("".join(f"{n}\n" for n in sequences))
    return root
