"""Datasets serving clips of T frames from the decoded cache (registered in DATASETS)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from mmcv.transforms import Compose
from torch.utils.data import Dataset

from pipeline.data.cache import load_arrays, sequence_table
from pipeline.data.davis import VOID
from pipeline.registry import DATASETS, TRANSFORMS, build


def objectness(masks: np.ndarray) -> np.ndarray:
    """Ids -> {0: background, 1: any object, 255: void}."""
    out = (masks > 0).astype(np.uint8)
    out[masks == VOID] = VOID
    return out


@DATASETS.register_module()
class ClipDataset(Dataset):
    """Every clip of ``clip_len`` frames, ``tau`` frames apart, from the sequences of a split.

    Item: ``inputs`` (3, T, H, W) uint8 and ``data_samples`` (T, H, W) uint8 objectness
    targets (all objects are foreground, void stays 255). Sequences shorter than a clip are
    padded by repeating their last frame.
    """

    def __init__(self, cache_dir: str, split: str = "train", clip_len: int = 8, tau: int = 1,
                 pipeline=(), repeat: int = 1):
        self.cache_dir = Path(cache_dir)
        self.clip_len, self.tau = clip_len, tau
        self.pipeline = Compose([build(TRANSFORMS, dict(t)) for t in pipeline])
        self.sequences = [s["name"] for s in sequence_table(self.cache_dir, split)]
        if not self.sequences:
            raise ValueError(f"{self.cache_dir}: no {split!r} sequences in the cache index")
        self.arrays = {n: load_arrays(self.cache_dir, n) for n in self.sequences}
        span = (clip_len - 1) * tau + 1
        self.clips = [(n, s) for n in self.sequences
                      for s in range(max(1, len(self.arrays[n][0]) - span + 1))] * repeat

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        name, start = self.clips[index]
        frames, masks = self.arrays[name]
        idx = np.minimum(start + self.tau * np.arange(self.clip_len), len(frames) - 1)
        results = self.pipeline({"frames": frames[idx], "masks": objectness(masks[idx])})
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(results["frames"])).permute(3, 0, 1, 2),
            "data_samples": torch.from_numpy(np.ascontiguousarray(results["masks"])),
        }
