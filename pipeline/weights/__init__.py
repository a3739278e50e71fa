"""Weights that ship with the package.

``parent_davis2016.pth``: the parent network of the real-DAVIS profile, trained by this
pipeline on the 30 DAVIS 2016 train sequences (the command, params and measured scores are
in the README, "Running on real DAVIS"). It is ``sfvos segment``'s default checkpoint.
"""
from pathlib import Path

PARENT_CHECKPOINT = Path(__file__).with_name("parent_davis2016.pth")
