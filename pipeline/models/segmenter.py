"""The SlowFast segmenter: data preprocessor -> backbone -> decoder -> per-frame logits."""
from __future__ import annotations

import copy

import torch
from mmengine.model import BaseModel
from torch import nn

from pipeline.models.efficientnet import LITE0_MEAN, LITE0_STD
from pipeline.models.layers import Conv3d
from pipeline.models.preprocessor import IMAGENET_MEAN, IMAGENET_STD
from pipeline.registry import MODELS, build


def input_normalisation(backbone: nn.Module) -> dict:
    """mean / std (on the [0, 1] scale) that the backbone's slow pathway was trained with."""
    if getattr(backbone, "slow_arch", "light") == "efficientnet_lite0":
        return {"mean": LITE0_MEAN, "std": LITE0_STD}
    return {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}


@MODELS.register_module()
class SlowFastSegmenter(BaseModel):
    """Segments every frame of a clip.

    Args:
        pathways: ``slow`` | ``fast`` | ``slowfast``, passed to the backbone (the ablation key).
        backbone: ``type=`` dict of the backbone (its ``pathways`` is set from above).
        decoder: ``type=`` dict of the decoder (its channel counts come from the backbone).
        loss: ``type=`` dict, or a list of them whose values are summed.
        data_preprocessor: ``type=`` dict; its mean / std default to the backbone's
            (ImageNet's for ``light``, Lite0's ``(x - 127) / 128`` for ``efficientnet_lite0``).

    ``forward(inputs (B,3,T,H,W), data_samples (B,T,H,W), mode)``: ``tensor`` gives logits
    (B, C, T, H, W), ``loss`` a dict of losses, ``predict`` per-pixel class probabilities.
    """

    def __init__(self, pathways: str = "slowfast", backbone=None, decoder=None, loss=None,
                 data_preprocessor=None):
        backbone = build(MODELS, dict(copy.deepcopy(backbone or {"type": "SlowFastBackbone"}),
                                      pathways=pathways))
        # The normalisation the backbone's weights expect, unless the config sets one.
        preprocessor = {"type": "ClipDataPreprocessor", **input_normalisation(backbone),
                        **copy.deepcopy(data_preprocessor or {})}
        super().__init__(data_preprocessor=build(MODELS, preprocessor))
        self.pathways = pathways
        self.backbone = backbone
        decoder = dict(
            copy.deepcopy(decoder or {"type": "MultiScaleMaskDecoder"}),
            slow_channels=self.backbone.slow_channels,
            fast_channels=self.backbone.fast_channels,
            alpha=self.backbone.alpha,
        )
        self.decoder = build(MODELS, decoder)
        losses = loss or {"type": "BalancedCrossEntropyLoss"}
        losses = [losses] if isinstance(losses, dict) else list(losses)
        self.losses = nn.ModuleList(build(MODELS, copy.deepcopy(dict(c))) for c in losses)

    @property
    def num_classes(self) -> int:
        return self.decoder.num_classes

    def set_num_classes(self, num_classes: int) -> None:
        """Re-head for K+1 classes: background from class 0, each object from class 1.

        Used to fine-tune an objectness (2-class) model on a K-object sequence: all objects
        start as the pretrained foreground and fine-tuning on frame 0 tells them apart.
        """
        old = self.decoder.head
        if num_classes == old.out_channels:
            return
        new = Conv3d(old.in_channels, num_classes, 1).to(old.weight.device)
        src = [0] + [min(1, old.out_channels - 1)] * (num_classes - 1)
        with torch.no_grad():
            new.weight.copy_(old.weight[src])
            new.bias.copy_(old.bias[src])
        self.decoder.head = new

    def forward(self, inputs: torch.Tensor, data_samples: torch.Tensor | None = None,
                mode: str = "tensor"):
        logits = self.decoder(self.backbone(inputs), out_size=tuple(inputs.shape[2:]))
        if mode == "tensor":
            return logits
        if mode == "loss":
            return {f"loss_{type(fn).__name__}": fn(logits, data_samples) for fn in self.losses}
        if mode == "predict":
            return logits.softmax(dim=1)
        raise ValueError(f"mode must be tensor, loss or predict, got {mode!r}")


def build_segmenter(cfg: dict) -> SlowFastSegmenter:
    """Build the segmenter from the ``model:`` section of ``params.yaml`` (nested type dicts)."""
    return build(MODELS, copy.deepcopy(cfg))
