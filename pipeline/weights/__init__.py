"""Weights that ship with the package.

``parent_davis2016.pth``: ``sfvos segment``'s default checkpoint, the parent network of the
real-DAVIS profile with the slow pathway alone, trained by this pipeline on the 30 DAVIS 2016
train sequences and, for half of its clips, on still photos with object masks (its command
and recipe are in its ``meta``; scores and why it is the default: README, "The shipped parent
network").

``parent_davis2016_videos.pth``: the same network trained on the videos alone, the default
for part of 2026-12-02 (the README's figures that name "the slow parent" were measured with it).

``parent_davis2016_slowfast.pth``: the two-pathway parent that was the default before it,
kept because the README's earlier figures were measured with it.
"""
from pathlib import Path

PARENT_CHECKPOINT = Path(__file__).with_name("parent_davis2016.pth")
