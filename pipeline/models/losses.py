"""Losses for (B, C, T, H, W) logits against (B, T, H, W) integer targets; VOID (255) is ignored."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.labels import VOID
from pipeline.registry import MODELS


@MODELS.register_module()
class BalancedCrossEntropyLoss(nn.Module):
    """Class-balanced cross-entropy, OSVOS's balanced BCE generalised to C classes.

    The mean of the per-class mean losses over the classes present in the target. For two
    classes this is OSVOS's ``beta``-weighted BCE (``beta = |Y-| / |Y|``, summed over pixels)
    divided by ``2 |Y+| |Y-| / |Y|``: the same balance, a scale independent of the object's
    size, so a small object is not drowned by the background.
    """

    def __init__(self, ignore_index: int = VOID, loss_weight: float = 1.0):
        super().__init__()
        self.ignore_index, self.loss_weight = ignore_index, loss_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pixel = F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction="none")
        per_class = [pixel[target == c].mean() for c in target.unique() if c != self.ignore_index]
        if not per_class:
            return logits.sum() * 0.0
        return self.loss_weight * torch.stack(per_class).mean()


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Plain pixel-wise cross-entropy."""

    def __init__(self, ignore_index: int = VOID, loss_weight: float = 1.0):
        super().__init__()
        self.ignore_index, self.loss_weight = ignore_index, loss_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * F.cross_entropy(logits, target, ignore_index=self.ignore_index)


@MODELS.register_module()
class DiceLoss(nn.Module):
    """Soft Dice over the foreground classes (1..C-1), ignoring void pixels."""

    def __init__(self, ignore_index: int = VOID, loss_weight: float = 1.0, eps: float = 1.0):
        super().__init__()
        self.ignore_index, self.loss_weight, self.eps = ignore_index, loss_weight, eps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = (target != self.ignore_index).unsqueeze(1)
        prob = logits.softmax(1) * valid
        onehot = F.one_hot(target.clamp(max=logits.shape[1] - 1), logits.shape[1])
        onehot = onehot.movedim(-1, 1) * valid
        dims = (0, 2, 3, 4)
        inter = (prob * onehot).sum(dims)[1:]
        denom = (prob + onehot).sum(dims)[1:]
        return self.loss_weight * (1 - (2 * inter + self.eps) / (denom + self.eps)).mean()
