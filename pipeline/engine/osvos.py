"""OSVOS one-shot fine-tuning adapted to clips, and sliding-window prediction.

Fine-tuning (Caelles et al., CVPR 2017, adapted): start from the pretrained objectness
model; for a sequence with K objects re-head it to K+1 classes (background + one class per
object, each initialised from the pretrained foreground: all objects start equal and
fine-tuning on frame 0 tells them apart; one network per sequence, not one per object,
so cost does not grow with K). Each step trains on clips in which frame 0 sits at a random
position ``p`` and the other frames are real neighbours mirrored around it
(``|t - p| * tau``): the loss is computed only where labelled (frame 0); all other pixels
are void. Clip-consistent flips, affine jitter and colour jitter augment it. BatchNorm
statistics stay frozen (batches of one sequence are too small to estimate them).

Prediction: windows of ``clip_len`` frames with ``overlap``, softmax probabilities averaged
where windows overlap, upsampled to the original resolution, argmax to ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import Compose
from torch import nn

from pipeline.data.davis import VOID
from pipeline.data.transforms import default_clip_augment
from pipeline.registry import TRANSFORMS, build


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 100
    lr: float = 1e-3
    optimizer: str = "AdamW"
    batch_size: int = 2
    clip_len: int = 8
    tau: int = 1
    overlap: int = 4
    seed: int = 0
    augment: tuple = field(default_factory=lambda: default_clip_augment(0.1))


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


def frame0_labels(mask0: np.ndarray, object_ids: list[int]) -> np.ndarray:
    """Frame-0 ids -> class indices 0..K (ids in ``object_ids`` order), void stays 255."""
    labels = np.zeros_like(mask0)
    for k, obj in enumerate(object_ids, start=1):
        labels[mask0 == obj] = k
    labels[mask0 == VOID] = VOID
    return labels


def _one_shot_clip(frames, labels0, clip_len, tau, rng) -> dict:
    p = int(rng.integers(clip_len))
    idx = np.minimum(np.abs(np.arange(clip_len) - p) * tau, len(frames) - 1)
    masks = np.full((clip_len,) + labels0.shape, VOID, np.uint8)
    masks[p] = labels0
    return {"frames": frames[idx], "masks": masks}


def finetune(model, frames: np.ndarray, labels0: np.ndarray, cfg: FinetuneConfig,
             device: str = "cpu", progress=None) -> list[float]:
    """Fine-tune ``model`` in place on frame 0 of one sequence; returns the loss per step.

    frames: (T, h, w, 3) uint8 at the working resolution; labels0: (h, w) class indices.
    """
    rng = np.random.default_rng(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    augment = Compose([build(TRANSFORMS, dict(t)) for t in cfg.augment])
    model.to(device).train()
    _freeze_batchnorm(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = getattr(torch.optim, cfg.optimizer)(params, lr=cfg.lr)
    losses = []
    for _ in range(cfg.steps):
        batch = [augment(_one_shot_clip(frames, labels0, cfg.clip_len, cfg.tau, rng))
                 for _ in range(cfg.batch_size)]
        data = {
            "inputs": torch.from_numpy(np.stack([b["frames"] for b in batch])).permute(0, 4, 1, 2, 3),
            "data_samples": torch.from_numpy(np.stack([b["masks"] for b in batch])),
        }
        data = model.data_preprocessor(data, True)
        loss = sum(model(**data, mode="loss").values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress.update(1)
    model.eval()
    return losses


def window_starts(num_frames: int, clip_len: int, overlap: int) -> list[int]:
    """Window starts covering every frame; the last window is aligned to the end."""
    if num_frames <= clip_len:
        return [0]
    step = max(1, clip_len - overlap)
    starts = list(range(0, num_frames - clip_len + 1, step))
    if starts[-1] != num_frames - clip_len:
        starts.append(num_frames - clip_len)
    return starts


@torch.no_grad()
def predict(model, frames: np.ndarray, clip_len: int, overlap: int,
            out_size: tuple[int, int] | None = None, device: str = "cpu") -> np.ndarray:
    """Class probabilities (C, T, H, W) float32 for every frame, averaged over windows.

    frames: (T, h, w, 3) uint8. Sequences shorter than ``clip_len`` are padded by repeating
    the last frame. ``out_size`` (H, W) upsamples the probabilities bilinearly.
    """
    model.to(device).eval()
    num = len(frames)
    padded = frames if num >= clip_len else np.concatenate([frames, frames[-1:].repeat(clip_len - num, 0)])
    total = None
    count = np.zeros(len(padded), np.float32)
    for s in window_starts(len(padded), clip_len, overlap):
        clip = torch.from_numpy(padded[s : s + clip_len]).permute(3, 0, 1, 2)[None]
        data = model.data_preprocessor({"inputs": clip}, False)
        probs = model(data["inputs"], mode="predict")[0]  # (C, T, h, w)
        if total is None:
            total = torch.zeros((probs.shape[0], len(padded)) + tuple(probs.shape[2:]))
        total[:, s : s + clip_len] += probs.cpu()
        count[s : s + clip_len] += 1
    probs = (total / torch.from_numpy(count)[None, :, None, None])[:, :num]
    if out_size is not None and tuple(probs.shape[2:]) != tuple(out_size):
        probs = F.interpolate(probs, size=out_size, mode="bilinear", align_corners=False)
    return probs.numpy()


def probs_to_ids(probs: np.ndarray, object_ids: list[int]) -> np.ndarray:
    """(C, T, H, W) probabilities -> (T, H, W) uint8 object ids (class k -> object_ids[k-1])."""
    lut = np.array([0] + list(object_ids), np.uint8)
    return lut[probs.argmax(axis=0)]
