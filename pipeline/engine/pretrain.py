"""Pretraining the segmenter on objectness (every object is foreground) with mmengine.

The mmengine Runner does the loop, the optimiser, checkpointing every
``checkpoint_interval`` iterations and resuming: a re-run with the same configuration
continues from the last checkpoint in ``work_dir``. A run with a different configuration
(or data, or library code that pretraining runs: :data:`CODE`) starts afresh: ``work_dir``
carries a fingerprint of all three, so a stage that DVC re-runs because something changed
never resumes a stale run.

On the CPU the run is deterministic (same params, same weights). On a GPU it is not:
PyTorch has no deterministic CUDA kernel for the bilinear upsampling's backward pass, so
mmengine's deterministic mode is only asked for on the CPU.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.data.photos import INDEX as PHOTO_INDEX
from pipeline.data.transforms import ClipAugment
from pipeline.engine.checkpoint import library_digest, register_trusted_loader, save_model
from pipeline.engine.config import ClipTraining
from pipeline.engine.dist import runner_dist_kwargs
from pipeline.engine.hooks import ChannelsLastHook, FiniteLossHook, LossCurveHook, ProgressBarHook
from pipeline.errors import InputError
from pipeline.registry import SCOPE

FINGERPRINT = "fingerprint.json"
TRUNK = "backbone.slow_pathway.stages."  # the weights trunk_lr_mult scales
# The code pretraining runs (as the pretrain stage's deps in dvc.yaml): the dataset and its
# transforms, the models, the training engine, the registry, errors and file writing. Not
# evaluation, figures or the CLI: a change there neither re-runs nor restarts pretraining.
CODE = ("data", "models", "engine", "labels.py", "registry.py", "errors.py", "fileio.py")


@dataclass(frozen=True, kw_only=True)
class PretrainConfig(ClipTraining):
    """``iters`` updates; ``scheduler``: ``cosine`` from ``lr`` down to ``lr / 100`` over
    them, or ``constant``; a checkpoint every ``checkpoint_interval``; ``photo_prob``: the
    share of clips made from the cache's still photos (:mod:`pipeline.data.photos`) instead
    of the train split's videos; ``max_skip``: each video clip's frames ``tau`` times 1 to
    ``max_skip`` apart, drawn per clip (1: ``tau`` apart); ``trunk_lr_mult``: the learning
    rate of the slow pathway's stages (the ImageNet-initialised Lite0 blocks in the real-DAVIS
    profile) is ``lr`` times this, so that they keep more of what ImageNet taught them; the
    stem, which takes the prior mask, the fast pathway and the decoder train at ``lr``
    (1.0: every weight at ``lr``); ``prior_strength``: each clip's prior errors have a
    strength drawn from [0, it] (:func:`~pipeline.data.priors.draw_errors`); ``cut_prob``: the
    share of clips whose priors lack a part of the object's edge, a lost limb (0: none);
    ``occluder_prob``: the share of clips with a photo's object passing across them, in
    front of the target or beside it, labelled background (an occluder or a distractor;
    :func:`~pipeline.data.photos.pass_occluder`; it needs the cache's photos; 0: none);
    ``ema_momentum``: the saved weights are an exponential moving average of the trained ones
    (mmengine's ``EMAHook``: ``avg = (1 - m) avg + m w`` after every iteration, the BatchNorm
    statistics averaged too), which generalises better than the last iterate in many
    recipes (0: the last iterate, as before)."""

    iters: int = 400
    batch_size: int = 4
    lr: float = 2e-3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"
    augment: ClipAugment = field(default_factory=ClipAugment)
    checkpoint_interval: int = 100
    num_workers: int = 0
    photo_prob: float = 0.0
    max_skip: int = 1
    trunk_lr_mult: float = 1.0
    prior_strength: float = 1.2
    cut_prob: float = 0.0
    occluder_prob: float = 0.0
    ema_momentum: float = 0.0


def _param_scheduler(cfg: PretrainConfig) -> list[dict] | None:
    if cfg.scheduler == "constant":
        return None
    return [dict(type="CosineAnnealingLR", by_epoch=False, T_max=cfg.iters, eta_min=cfg.lr * 0.01)]


def _optim_wrapper(cfg: PretrainConfig) -> dict:
    optim = dict(optimizer=dict(type=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay))
    if cfg.trunk_lr_mult != 1.0:  # mmengine matches the key as a substring of each weight's name
        optim["paramwise_cfg"] = dict(
            custom_keys={TRUNK: dict(lr_mult=cfg.trunk_lr_mult)})
    return optim


def _ema_hooks(cfg: PretrainConfig) -> list[dict]:
    if not cfg.ema_momentum:
        return []
    return [dict(type="EMAHook", ema_type="ExponentialMovingAverage", momentum=cfg.ema_momentum,
                 update_buffers=True)]


def _fingerprint(cache_dir: Path, model_cfg: dict, cfg: PretrainConfig) -> str:
    """Config, decoded data (the cache index) and the library code in :data:`CODE`:
    ``pipeline/data``, ``models``, ``engine``, ``labels.py``, ``registry.py``, ``errors.py``, ``fileio.py``,
    what the pretrain stage imports, not all of ``pipeline/``."""
    digest = hashlib.sha256()
    digest.update(json.dumps([model_cfg, asdict(cfg)], sort_keys=True, default=str).encode())
    for index in ("index.parquet", PHOTO_INDEX):
        if (Path(cache_dir) / index).is_file():
            digest.update((Path(cache_dir) / index).read_bytes())
    digest.update(library_digest(CODE))
    return digest.hexdigest()


def _prepare_work_dir(work_dir: Path, fingerprint: str) -> None:
    stamp = work_dir / FINGERPRINT
    if work_dir.exists() and (not stamp.is_file() or json.loads(stamp.read_text()) != fingerprint):
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(fingerprint))


def pretrain(cache_dir: Path, work_dir: Path, model_out: Path, loss_curve: Path,
             model_cfg: dict, cfg: PretrainConfig, launcher: str = "none", hooks=()) -> Path:
    """Train on the train split's clips; write the final weights to ``model_out``.

    ``hooks``: extra mmengine hooks (e.g. a schedule of the caller's own).
    """
    import torch
    from mmengine.hooks import EMAHook
    from mmengine.runner import Runner

    from pipeline.models import build_segmenter

    register_trusted_loader()
    work_dir = Path(work_dir)
    if not (Path(cache_dir) / "index.parquet").is_file():
        raise InputError(f"{cache_dir}: no decoded cache (index.parquet); run `dvc repro decode`")
    build_segmenter(model_cfg)  # a config that cannot build fails before work_dir is touched
    _prepare_work_dir(work_dir, _fingerprint(cache_dir, model_cfg, cfg))
    runner = Runner(
        # built by the Runner after it seeds, so the initial weights follow the seed
        model=dict(model_cfg, type=f"{SCOPE}.{model_cfg['type']}"),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=cfg.batch_size,
            num_workers=cfg.num_workers,
            persistent_workers=cfg.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            sampler=dict(type="InfiniteSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
            dataset=dict(type=f"{SCOPE}.PropagationClipDataset", cache_dir=str(cache_dir),
                         split="train", clip_len=cfg.clip_len, tau=cfg.tau,
                         pipeline=list(cfg.augment), crop_size=model_cfg.get("crop_size", 128),
                         context=model_cfg.get("context", 2.0), photo_prob=cfg.photo_prob,
                         max_skip=cfg.max_skip, prior_strength=cfg.prior_strength,
                         cut_prob=cfg.cut_prob, occluder_prob=cfg.occluder_prob),
        ),
        train_cfg=dict(by_epoch=False, max_iters=cfg.iters, val_interval=cfg.iters + 1),
        optim_wrapper=_optim_wrapper(cfg),
        param_scheduler=_param_scheduler(cfg),
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", by_epoch=False,
                            interval=cfg.checkpoint_interval, max_keep_ckpts=2),
            logger=dict(type="LoggerHook", interval=20),
        ),
        custom_hooks=[ChannelsLastHook(), FiniteLossHook(), ProgressBarHook("pretrain"),
                      LossCurveHook(loss_curve), *_ema_hooks(cfg), *hooks],
        randomness=dict(seed=cfg.seed, deterministic=not torch.cuda.is_available()),
        launcher=launcher,
        # unique per Runner: a second one in the same second would reuse the DefaultScope (a warning)
        experiment_name=f"pretrain_{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:8]}",
        **runner_dist_kwargs(launcher),
        resume=True,
        log_level="WARNING",
    )
    logging.getLogger("mmengine").setLevel(logging.WARNING)
    runner.train()
    model = runner.model.module if hasattr(runner.model, "module") else runner.model
    ema = [h for h in runner.hooks if isinstance(h, EMAHook)]
    if ema:  # the average, not the last iterate
        model = ema[0].ema_model.module
    if runner.rank == 0:
        save_model(model_out, model, model_cfg, {"iters": cfg.iters, "seed": cfg.seed})
    return Path(model_out)
