"""Models: the SlowFast backbone and its pathways, the mask decoder, losses and the segmenter.

Importing this package registers everything in :data:`pipeline.registry.MODELS`.
"""
from pipeline.models.decoder import MultiScaleMaskDecoder
from pipeline.models.efficientnet import EfficientNetLite0Pathway
from pipeline.models.losses import BalancedCrossEntropyLoss, CrossEntropyLoss, DiceLoss
from pipeline.models.pathways import ResNet3dPathway
from pipeline.models.preprocessor import ClipDataPreprocessor
from pipeline.models.segmenter import SlowFastSegmenter, build_segmenter
from pipeline.models.slowfast import SlowFastBackbone

__all__ = [
    "BalancedCrossEntropyLoss",
    "ClipDataPreprocessor",
    "CrossEntropyLoss",
    "DiceLoss",
    "EfficientNetLite0Pathway",
    "MultiScaleMaskDecoder",
    "ResNet3dPathway",
    "SlowFastBackbone",
    "SlowFastSegmenter",
    "build_segmenter",
]
