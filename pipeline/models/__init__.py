"""Models: the SlowFast backbone, the mask decoder, losses and the segmenter.

Importing this package registers everything in :data:`pipeline.registry.MODELS`.
"""
from pipeline.models.decoder import MultiScaleMaskDecoder
from pipeline.models.losses import BalancedCrossEntropyLoss, CrossEntropyLoss, DiceLoss
from pipeline.models.preprocessor import ClipDataPreprocessor
from pipeline.models.segmenter import SlowFastSegmenter, build_segmenter
from pipeline.models.slowfast import SlowFastBackbone

__all__ = [
    "BalancedCrossEntropyLoss",
    "ClipDataPreprocessor",
    "CrossEntropyLoss",
    "DiceLoss",
    "MultiScaleMaskDecoder",
    "SlowFastBackbone",
    "SlowFastSegmenter",
    "build_segmenter",
]
