"""Checkpoints written before the pathways became registered sub-configs (2026-11).

Their ``model_cfg`` describes the backbone with flat keys (``slow_arch``, ``stem_width``,
``widths``, ``depths``, ``slow_temporal_kernels``, ``fast_temporal_kernel``, ``slow_init``,
``inflate``) and their weights sit under ``backbone.slow_stem`` / ``backbone.slow_stages`` (and
``fast_``). :func:`upgrade_checkpoint` rewrites both to today's layout, exactly: the same
network, the same tensors under their new names. The two-pathway parent that
shipped until 2026-12-02 (``pipeline/weights/parent_davis2016_slowfast.pth``) is such a checkpoint.
"""
from __future__ import annotations

import copy

FLAT_KEYS = {"stem_width", "widths", "depths", "slow_temporal_kernels", "fast_temporal_kernel",
             "slow_arch", "slow_init", "inflate"}
RENAMES = {f"backbone.{p}_{part}.": f"backbone.{p}_pathway.{part}."
           for p in ("slow", "fast") for part in ("stem", "stages")}


def upgrade_backbone_cfg(flat: dict) -> dict:
    """A flat backbone config as ``slow_pathway`` / ``fast_pathway`` type dicts."""
    cfg = {k: v for k, v in flat.items() if k not in FLAT_KEYS}
    depths = list(flat.get("depths", (1, 1, 1)))
    temporal = list(flat.get("slow_temporal_kernels", (1, 1, 3)))
    if flat.get("slow_arch", "light") == "efficientnet_lite0":
        cfg["slow_pathway"] = {"type": "EfficientNetLite0Pathway", "temporal_kernels": temporal,
                               "init": flat.get("slow_init", "none"),
                               "inflate": flat.get("inflate", "centre")}
    else:
        cfg["slow_pathway"] = {"type": "ResNet3dPathway", "stem_width": flat.get("stem_width", 16),
                               "widths": list(flat.get("widths", (32, 64, 128))),
                               "depths": depths, "temporal_kernels": temporal}
    cfg["fast_pathway"] = {"type": "ResNet3dPathway", "stem_temporal_kernel": 5, "depths": depths,
                           "temporal_kernels": [flat.get("fast_temporal_kernel", 3)] * len(depths)}
    return cfg


def upgrade_checkpoint(ckpt: dict) -> dict:
    """``ckpt`` ({"state_dict", "model_cfg", ...}) in today's layout; a current one as it is."""
    backbone = ckpt["model_cfg"].get("backbone") or {}
    old_cfg = bool(FLAT_KEYS & set(backbone))
    old_keys = any(k.startswith(tuple(RENAMES)) for k in ckpt["state_dict"])
    if not (old_cfg or old_keys):
        return ckpt
    ckpt = dict(ckpt)
    if old_cfg:
        ckpt["model_cfg"] = dict(copy.deepcopy(ckpt["model_cfg"]), backbone=upgrade_backbone_cfg(backbone))
    state = {}
    for key, value in ckpt["state_dict"].items():
        old = next((o for o in RENAMES if key.startswith(o)), None)
        state[RENAMES[old] + key[len(old):] if old else key] = value
    ckpt["state_dict"] = state
    return ckpt
