"""What pretraining and fine-tuning share: batches of augmented clips and an optimiser."""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.data.transforms import ClipAugment

SCHEDULERS = ("cosine", "constant")  # pretrain.scheduler, finetune.scheduler: lr over the steps


@dataclass(frozen=True, kw_only=True)
class ClipTraining:
    """Batches of ``batch_size`` clips of ``clip_len`` frames ``tau`` apart, augmented by
    ``augment``, trained by the ``torch.optim`` optimiser ``optimizer`` at learning rate
    ``lr``; ``seed`` fixes every draw. :class:`~pipeline.engine.pretrain.PretrainConfig` and
    :class:`~pipeline.engine.osvos.FinetuneConfig` set the defaults left blank here."""

    lr: float
    batch_size: int
    augment: ClipAugment
    optimizer: str = "AdamW"
    clip_len: int = 8
    tau: int = 1
    seed: int = 0
