"""Registries of sfvos: children of mmengine's root registries with an explicit scope.

Only what ``params.yaml`` switches between is registered (segmenter, backbone, decoder, loss,
data preprocessor, dataset, transforms), plus the CPU DDP wrapper the Runner needs for
``torchrun`` without GPUs. ``locations`` makes ``build`` import the modules that register, so
``MODELS.build(params['model'])`` works without importing them first.

The scope is the name of this package, ``pipeline``: whenever a default scope is current,
mmengine imports ``<scope>.registry`` before it builds, and warns ("Failed to import
`...registry`") when no such module exists, as it did for a made-up scope name.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

SCOPE = "pipeline"  # mmengine imports f"{SCOPE}.registry": this module

MODELS = Registry(
    "model", parent=MMENGINE_MODELS, scope=SCOPE, locations=["pipeline.models"]
)
DATASETS = Registry(
    "dataset", parent=MMENGINE_DATASETS, scope=SCOPE, locations=["pipeline.data.dataset"]
)
MODEL_WRAPPERS = Registry(
    "model_wrapper", parent=MMENGINE_MODEL_WRAPPERS, scope=SCOPE, locations=["pipeline.engine.dist"]
)
TRANSFORMS = Registry(
    "transform", parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=["pipeline.data.transforms"]
)


def build(registry: Registry, cfg: dict):
    """Build ``cfg`` from ``registry`` in our scope, whatever scope is current.

    mmengine resolves a type in the *current default scope* (the Runner sets ``mmengine``),
    which would bypass these child registries; building under our scope avoids that.
    """
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope(SCOPE):
        return registry.build(cfg)


def lookup(registry: Registry, name: str) -> type | None:
    """The class registered as ``name`` in our scope (as :func:`build` resolves it), or None."""
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope(SCOPE):
        return registry.get(name)
