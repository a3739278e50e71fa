"""Sharding work across ``torchrun`` processes without a training engine (finetune stage)."""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel

from pipeline.registry import MODEL_WRAPPERS, SCOPE


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for CPU processes (gloo): DDP needs ``device_ids=None`` there,
    while mmengine's Runner always passes ``[LOCAL_RANK]``."""

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)


def runner_dist_kwargs(launcher: str) -> dict:
    """Runner arguments for ``launcher``; on CPU the gloo group is created here, because
    mmengine's own init calls ``torch.cuda.set_device``."""
    if launcher == "none":
        return {}
    if torch.cuda.is_available():
        return {"env_cfg": {"dist_cfg": {"backend": "nccl"}}}
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    wrapper = {"type": f"{SCOPE}.CPUDistributedDataParallel", "broadcast_buffers": False}
    return {"cfg": {"model_wrapper_cfg": wrapper}}


@contextmanager
def process_group():
    """Yield (rank, world_size); under torchrun, a gloo/nccl group lives for the block."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        yield 0, 1
        return
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        dist.barrier()
        dist.destroy_process_group()


def gather(obj, world_size: int) -> list:
    """Every rank's ``obj`` on every rank (a list in rank order)."""
    if world_size == 1:
        return [obj]
    out = [None] * world_size
    dist.all_gather_object(out, obj)
    return out


def device_for(rank: int) -> str:
    """``cuda:<local rank>`` when GPUs are visible, else ``cpu``."""
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', rank)) % torch.cuda.device_count()}"
    return "cpu"
