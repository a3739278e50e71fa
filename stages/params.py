"""``params.yaml``, read and checked before any work: one :class:`ConfigError` naming the key.

Every section is checked against the object it configures: the dataclass of a stage
(:class:`PretrainConfig`, :class:`FinetuneConfig`, :class:`SyntheticSpec` and the small ones
below) or, for ``model:``, the constructors of its ``type=`` dicts. A key the object does not
take is refused with the nearest known key (``decode.heigth`` -> ``decode.height``); types,
ranges and choices are checked here, and the model is built once, so that a config the network
cannot take fails in a second, not after decoding and pretraining.

Defaults live in one place, the dataclass fields: a key left out of ``params.yaml`` takes that
default, and ``tests/stages/test_params.py`` checks that ``params.yaml`` writes the same values.
Omitted ``model:`` keys take the defaults of the constructors (documented in their docstrings).
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
import logging
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.data.synthetic import SyntheticSpec
from pipeline.errors import ConfigError

SPLITS = ("train", "val")


@dataclass(frozen=True)
class DownloadParams:
    source: str = "synthetic"
    path: str = ""
    url: str = ""
    checksum: str = ""
    holdout: tuple[str, ...] = ()  # train sequences moved to val (the held-out protocol)
    photos: str = ""  # a folder of photos + object masks for pretraining ("" = none)
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)


@dataclass(frozen=True)
class DecodeParams:
    height: int = 96
    width: int = 160


@dataclass(frozen=True)
class EvaluateParams:
    split: str = "val"
    jobs: typing.Optional[int] = 2  # None (null): all cores
    overlays: int = 3


def _lazy(module: str, name: str):
    """``module.name`` (``name`` may be dotted), imported when first used (torch is slow to load)."""
    return lambda: functools.reduce(getattr, name.split("."), importlib.import_module(module))


SECTIONS = {  # section -> the dataclass it fills
    "download": lambda: DownloadParams,
    "decode": lambda: DecodeParams,
    "pretrain": _lazy("pipeline.engine.pretrain", "PretrainConfig"),
    "finetune": _lazy("pipeline.engine.osvos", "FinetuneConfig"),
    "evaluate": lambda: EvaluateParams,
}

AT_LEAST = {  # key: the smallest value that works
    "download.synthetic.num_train": 1, "download.synthetic.num_val": 1,
    "download.synthetic.num_frames": 3,  # the protocol scores frames 1..N-2
    "download.synthetic.height": 16, "download.synthetic.width": 16,
    "download.synthetic.max_objects": 1,
    "decode.height": 16, "decode.width": 16,
    "pretrain.iters": 1, "pretrain.batch_size": 1, "pretrain.clip_len": 1, "pretrain.tau": 1,
    "pretrain.max_skip": 1,
    "pretrain.checkpoint_interval": 1, "pretrain.weight_decay": 0, "pretrain.num_workers": 0,
    "finetune.steps": 0, "finetune.batch_size": 1, "finetune.clip_len": 1, "finetune.tau": 1,
    "finetune.search_growth": 1.0,  # a lost object's box can only grow
    "finetune.appearance_update": 0,
    "evaluate.jobs": 1, "evaluate.overlays": 0,
}
FRACTIONS = ("download.synthetic.fast_fraction", "finetune.static_prob", "pretrain.photo_prob",
             "finetune.appearance_vote", "finetune.deform_prob", "finetune.paste_prob",
             "finetune.flip_uncertain", "finetune.edge_refine", "finetune.motion_check",
             "finetune.growth_vote", "finetune.blend", "finetune.cut_prob", "pretrain.cut_prob",
             "pretrain.occluder_prob",
             "pretrain.ema_momentum",
             *(f"{s}.augment.{k}" for s in ("pretrain", "finetune") for k in ("flip", "colour")))
AT_MOST = {"download.synthetic.max_objects": 254, **dict.fromkeys(FRACTIONS, 1)}
POSITIVE = {"pretrain.lr", "finetune.lr", "finetune.predict_context_scale"}
NON_NEGATIVE = {*FRACTIONS, "finetune.prior_strength", "finetune.refind_area",
                "pretrain.trunk_lr_mult", "pretrain.prior_strength"}


def _optimizers() -> tuple[str, ...]:
    import torch

    return tuple(sorted(n for n, c in vars(torch.optim).items()
                        if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
                        and c is not torch.optim.Optimizer))


CHOICES = {
    "download.source": _lazy("pipeline.data.download", "SOURCES"),
    "evaluate.split": lambda: SPLITS,
    "pretrain.optimizer": _optimizers,
    "pretrain.scheduler": _lazy("pipeline.engine.config", "SCHEDULERS"),
    "finetune.optimizer": _optimizers,
    "finetune.scheduler": _lazy("pipeline.engine.config", "SCHEDULERS"),
    "model.pathways": _lazy("pipeline.models.slowfast", "PATHWAYS"),
    "model.backbone.slow_pathway.init": _lazy("pipeline.models", "EfficientNetLite0Pathway.INITS"),
    "model.backbone.slow_pathway.inflate": _lazy("pipeline.models", "EfficientNetLite0Pathway.INFLATIONS"),
}


def _unknown(key: str, known) -> ConfigError:
    section, _, name = key.rpartition(".")
    near = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {section}.{near[0]}?" if near else f"known keys: {', '.join(sorted(known))}"
    return ConfigError(f"{key}: unknown key; {hint} (fix params.yaml)")


def _check_value(key: str, value, kind):
    """``value`` as ``kind`` (int, float, str, tuple: a list of numbers), or a ConfigError."""
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType)
    if optional:
        if value is None:
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is tuple:  # tuple[str, ...]: a list of names
        if not (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{key}: expected a list of names, got {value!r}; fix params.yaml")
        return tuple(value)
    if kind is float and isinstance(value, str):  # PyYAML reads 1e-3 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    ok = {int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool),
          str: isinstance(value, str),
          tuple: isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value)}
    if not ok.get(kind, True):
        name = {int: "an integer", float: "a number", str: "a string",
                tuple: "a list of numbers"}[kind]
        raise ConfigError(f"{key}: expected {name}{' or null' if optional else ''}, got {value!r}; "
                          "fix params.yaml")
    if kind in (float, tuple) and not all(map(math.isfinite, value if kind is tuple else [value])):
        raise ConfigError(f"{key}: {value!r} is not a finite number; give a finite value "
                          "(fix params.yaml)")
    return float(value) if kind is float else value


def _check_range(key: str, value) -> None:
    if key in CHOICES and value not in (choices := CHOICES[key]()):
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}; "
                          "fix params.yaml")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    low, high = AT_LEAST.get(key), AT_MOST.get(key)
    if key in POSITIVE and value <= 0:
        raise ConfigError(f"{key}: {value} must be > 0; fix params.yaml")
    if key in NON_NEGATIVE and value < 0:
        low = 0
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low or 0}, {high}]"
        raise ConfigError(f"{key}: {value} must be {bounds}; fix params.yaml")


def check_section(cls, values, key: str):
    """``values`` (a dict from params.yaml) as a ``cls`` dataclass, every key checked."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{key}: expected a mapping of keys, got {values!r}; fix params.yaml")
    hints = typing.get_type_hints(cls)
    known = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    out = {}
    for name, value in values.items():
        sub = f"{key}.{name}"
        if name not in known:
            raise _unknown(sub, known)
        if dataclasses.is_dataclass(known[name]):
            out[name] = check_section(known[name], value, sub)
            continue
        out[name] = _check_value(sub, value, known[name])
        _check_range(sub, out[name])
    return cls(**out)


def read_params(path: Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
        _refuse_duplicate_keys(path, yaml.compose(text, Loader=yaml.SafeLoader))
        params = yaml.safe_load(text) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found; run in the project folder "
                          "or pass --params") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise ConfigError(f"{path}: not valid YAML{line}; fix the file") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected sections (download:, decode:, ...); fix the file")
    return params


def _refuse_duplicate_keys(path: Path, node, key: str = "") -> None:
    """A key written twice in one mapping (YAML takes the last silently, ``dvc repro``
    refuses the file): a ConfigError naming the key and both lines."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(path, item, f"{key}[{i}]")
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict = {}
    for name_node, value in node.value:
        name = f"{key}.{name_node.value}" if key else str(name_node.value)
        line = name_node.start_mark.line + 1
        if name in first:
            raise ConfigError(f"{path}: {name} is set twice (lines {first[name]} and {line}); "
                              "keep one (dvc repro refuses the file too)")
        first[name] = line
        _refuse_duplicate_keys(path, value, name)


def load_params(path: Path, *sections: str, optional: tuple[str, ...] = ()) -> dict:
    """The named sections of ``params.yaml``, checked: a dataclass per stage section, the
    ``model:`` dict as it is, its keys checked (:func:`check_model` builds it). ``optional`` sections are checked
    and returned where the file has them (a later stage's, checked early)."""
    params = read_params(path)
    missing = [s for s in sections if s not in params]
    if missing:
        raise ConfigError(f"{path}: missing section(s) {', '.join(missing)}; add them "
                          "(see the repository's params.yaml)")
    out = {}
    for name in [*sections, *(s for s in optional if s in params)]:
        if name == "model":
            _check_type_dict(params[name], "model")
            out[name] = params[name]
        else:
            out[name] = check_section(SECTIONS[name](), params[name], name)
    return out


# ---- the model section: type= dicts checked against their constructors, then built -------

INJECTED = {  # arguments a parent sets itself: a params.yaml value would be ignored
    "backbone": {"pathways", "in_channels"},
    "slow_pathway": {"in_channels", "lateral_channels"},
    "fast_pathway": {"in_channels", "lateral_channels", "stem_width", "widths"},
    "decoder": {"slow_channels", "fast_channels", "alpha"},
}


def _check_type_dict(cfg, key: str, injected=frozenset()) -> None:
    from pipeline.registry import MODELS, lookup

    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"{key}: expected a mapping with a type: key, got {cfg!r}; fix params.yaml")
    cls = lookup(MODELS, cfg["type"])
    if cls is None:
        raise ConfigError(f"{key}.type: {cfg['type']!r} is not a registered model type; one of "
                          f"{', '.join(sorted(MODELS.module_dict))}; fix params.yaml")
    signature = inspect.signature(cls.__init__).parameters
    known = {n: p.default for n, p in signature.items()
             if n != "self" and n not in injected and p.kind is p.POSITIONAL_OR_KEYWORD}
    for name, value in cfg.items():
        sub = f"{key}.{name}"
        if name == "type":
            continue
        if name in injected:
            raise ConfigError(f"{sub}: set by {key.rpartition('.')[0]}, not in params.yaml; remove it")
        if name not in known:
            raise _unknown(sub, known)
        default = known[name]
        if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)):
            for i, part in enumerate(value if isinstance(value, list) else [value]):
                _check_type_dict(part, sub if isinstance(value, dict) else f"{sub}[{i}]",
                                 INJECTED.get(name, frozenset()))
            continue
        kind = type(default) if isinstance(default, (int, float, str, tuple)) else None
        if kind is not None:
            _check_value(sub, value, kind)
        _check_range(sub, value)


def check_model(cfg: dict):
    """Check the ``model:`` section key by key, then build it: the built segmenter."""
    from mmengine.logging import MMLogger

    import pipeline.models  # noqa: F401  (registers the model types)
    from pipeline.models import build_segmenter

    _check_type_dict(cfg, "model")
    logger = MMLogger.get_current_instance()  # its registry warns about our scope on stdout
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return build_segmenter(cfg)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"model: {exc}; fix the model section of params.yaml") from None
    finally:
        logger.setLevel(level)


def check_clip_len(key: str, clip_len: int, backbone) -> None:
    """A clip shorter than ``alpha`` gives the slow pathway one frame: refused (the backbone
    would refuse it at the first forward pass, after decoding and loading everything)."""
    if backbone.use_slow and clip_len < backbone.alpha:
        raise ConfigError(
            f"{key}: {clip_len} frames is shorter than model.backbone.alpha={backbone.alpha} "
            f"(the slow pathway would see one frame); set {key} >= {backbone.alpha} or lower alpha"
        )
