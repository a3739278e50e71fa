"""Compute accounting: parameters and multiply-accumulates, as video papers report them.

"GFLOPs" here follows the SlowFast paper and fvcore: one fused multiply-add counts as one
FLOP. Counted by forward hooks on convolutions and linear layers (normalisation, activations
and resizing are not counted, as in those papers).
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, clip_shape: tuple[int, int, int, int, int],
               mode: str | None = None) -> int:
    """Multiply-accumulates of one forward pass of ``model`` on a zero clip of that shape
    (``mode``: passed to the forward, e.g. the segmenter's ``predict_last``)."""
    total = 0

    def conv_hook(module, _inputs, output):
        nonlocal total
        kernel = module.weight[0].numel()  # C_in/groups * prod(kernel)
        total += output.numel() * kernel

    def linear_hook(module, _inputs, output):
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(clip_shape), **({} if mode is None else {"mode": mode}))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total


def complexity(model: nn.Module, frames: int, height: int, width: int,
               mode: str | None = None) -> dict:
    """Params and GFLOPs per clip and per frame for a (1, C, T, H, W) clip (C: the
    backbone's input channels; ``mode`` as in :func:`count_macs`)."""
    channels = getattr(getattr(model, "backbone", None), "in_channels", 3)
    macs = count_macs(model, (1, channels, frames, height, width), mode)
    return {
        "params": count_parameters(model),
        "gflops_per_clip": macs / 1e9,
        "gflops_per_frame": macs / 1e9 / frames,
    }


def pathway_complexity(model_cfg: dict, frames: int, height: int, width: int) -> dict:
    """:func:`complexity` of the ``model:`` config for each pathway variant, keyed by it.

    For the evaluate stage's metrics, e.g. ``{"slowfast": {"params": ..., ...}, ...}``.
    Every variant is built :func:`without_pretrained_weights`.
    """
    from pipeline.models.segmenter import build_segmenter
    from pipeline.models.slowfast import PATHWAYS

    out = {}
    for pathways in PATHWAYS:
        cfg = without_pretrained_weights(model_cfg)
        cfg["pathways"] = pathways
        out[pathways] = complexity(build_segmenter(cfg), frames, height, width)
    return out


def without_pretrained_weights(model_cfg: dict) -> dict:
    """A copy of the ``model:`` config whose slow pathway, where it has pretrained weights
    (an ``init``), is built without them: the same shapes, no weight file read."""
    cfg = copy.deepcopy(model_cfg)
    slow = cfg.setdefault("backbone", {"type": "SlowFastBackbone"}).get("slow_pathway") or {}
    if "init" in slow:
        slow["init"] = "none"
    return cfg
