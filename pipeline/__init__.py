"""sfvos: SlowFast two-pathway networks for semi-supervised video object segmentation.

Layers, in one direction: ``dvc.yaml`` stage -> thin command in ``stages/`` -> library code
here -> modules built from ``type=`` dicts through :mod:`pipeline.registry`.
Nothing in this package reads ``params.yaml`` or knows about DVC.
"""

__version__ = "0.1.0"
