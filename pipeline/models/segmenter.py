"""The SlowFast segmenter: data preprocessor -> backbone -> decoder -> per-frame logits."""
from __future__ import annotations

import copy

import torch
from mmengine.model import BaseModel
from torch import nn

from pipeline.labels import VOID
from pipeline.registry import MODELS, build


MODES = ("tensor", "loss", "predict", "predict_last")


@MODELS.register_module()
class SlowFastSegmenter(BaseModel):
    """Segments one object in every frame of an object-centred clip, given a prior mask.

    The input is a clip of ``crop_size`` x ``crop_size`` crops around the object (box
    ``context`` times its larger side) with 4 channels: RGB and the prior mask (the previous
    prediction warped by optical flow). The output is 2-class (background / this object)
    logits per frame. Multi-object sequences run one object per batch item.

    Args:
        pathways: ``slow`` | ``fast`` | ``slowfast``, passed to the backbone (the ablation key).
        backbone: ``type=`` dict of the backbone (its ``pathways`` is set from above).
        decoder: ``type=`` dict of the decoder (its channel counts come from the backbone).
        loss: ``type=`` dict, or a list of them whose values are summed.
        data_preprocessor: ``type=`` dict; its mean / std default to the backbone's
            (its slow pathway's: ImageNet's for ``ResNet3dPathway``, Lite0's ``(x - 127) / 128``
            for ``EfficientNetLite0Pathway``).
        crop_size: side of the square object crops the network sees (pixels).
        context: crop side over the object's larger side.

    ``forward(inputs (B,4,T,H,W), data_samples (B,T,H,W), mode)``: ``tensor`` gives logits
    (B, C, T, H, W), ``loss`` a dict of losses (when only the last frame is labelled, the
    rest void, only that frame is decoded: the same losses for less work), ``predict``
    per-pixel class probabilities, ``predict_last`` those of the last frame alone
    (B, C, 1, H, W): what propagation uses, for a third of the decoder's work.
    """

    def __init__(self, pathways: str = "slowfast", backbone=None, decoder=None, loss=None,
                 data_preprocessor=None, crop_size: int = 128, context: float = 2.0):
        backbone = build(MODELS, dict(copy.deepcopy(backbone or {"type": "SlowFastBackbone"}),
                                      pathways=pathways, in_channels=4))
        # The normalisation the backbone's weights expect, unless the config sets one.
        preprocessor = {"type": "ClipDataPreprocessor", "mean": backbone.input_mean,
                        "std": backbone.input_std,
                        **copy.deepcopy(data_preprocessor or {})}
        super().__init__(data_preprocessor=build(MODELS, preprocessor))
        self.pathways = pathways
        if crop_size < 2 ** backbone.num_scales or context <= 0:
            raise ValueError(f"crop_size must be >= {2 ** backbone.num_scales} and context > 0, "
                             f"got {crop_size}, {context}")
        self.crop_size, self.context = int(crop_size), float(context)
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

    def forward(self, inputs: torch.Tensor, data_samples: torch.Tensor | None = None,
                mode: str = "tensor"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        last_only = mode == "predict_last"
        if mode == "loss" and self._last_frame_alone(data_samples):
            last_only, data_samples = True, data_samples[:, -1:]
        logits = self.decoder(self.backbone(inputs), out_size=tuple(inputs.shape[2:]),
                              prior=inputs[:, 3:], image=inputs[:, :3], last_only=last_only)
        if mode == "tensor":
            return logits
        if mode == "loss":
            return {f"loss_{type(fn).__name__}": fn(logits, data_samples) for fn in self.losses}
        return logits.softmax(dim=1)

    def _last_frame_alone(self, targets: torch.Tensor) -> bool:
        """Whether decoding only the last frame gives the loss of decoding every frame: only
        the last frame is labelled (one-shot fine-tuning), the losses ignore void pixels, and
        the decoder's BatchNorm uses its running statistics (with batch statistics the other
        frames would change the last one's)."""
        if targets.shape[1] < 2 or any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
                                       for m in self.decoder.modules()):
            return False
        return bool((targets[:, :-1] == VOID).all())


def build_segmenter(cfg: dict) -> SlowFastSegmenter:
    """Build the segmenter from the ``model:`` section of ``params.yaml`` (nested type dicts)."""
    return build(MODELS, copy.deepcopy(cfg))
