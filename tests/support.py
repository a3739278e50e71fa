"""What tests in several folders share: the repository's paths, the one tiny model and tiny
synthetic dataset, tiny DAVIS-layout roots, and params.yaml edited as `dvc exp run -S` edits it.

A plain module that tests and conftest files import; the fixtures built on it live in the
conftest files (``tiny_model_cfg``, ``tiny_davis``, ``tiny_cache``, ``checkpoint``, ...).
"""
from __future__ import annotations

import copy
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from pipeline.data.davis import write_palette_png
from pipeline.data.synthetic import SyntheticSpec

REPO = Path(__file__).resolve().parents[1]
# the real DAVIS data lives beside the repository (as in CI); tests that need it skip where
# it is absent
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLE_2016 = SHARED_DATA / "davis2016-sample" / "DAVIS"
FRAGMENT_2017 = SHARED_DATA / "davis2017-fragment" / "DAVIS"

TINY_SPEC = SyntheticSpec(num_train=2, num_val=2, num_frames=8, height=32, width=48,
                          max_objects=2, seed=3)
# The tiny model of every test (CPU, seconds): two stages, 1/2 to 1/8 scales, alpha 2. Tests
# take a copy (the ``tiny_model_cfg`` fixture) or derive a variant with dict(TINY_MODEL, ...).
TINY_MODEL = {
    "type": "SlowFastSegmenter",
    "pathways": "slowfast",
    "backbone": {"type": "SlowFastBackbone", "alpha": 2, "beta_inv": 4,
                 "slow_pathway": {"type": "ResNet3dPathway", "stem_width": 8, "widths": [8, 16],
                                  "depths": [1, 1], "temporal_kernels": [1, 3]},
                 "fast_pathway": {"type": "ResNet3dPathway", "stem_temporal_kernel": 5,
                                  "depths": [1, 1], "temporal_kernels": [3, 3]}},
    "decoder": {"type": "MultiScaleMaskDecoder", "channels": 8},
    "loss": {"type": "CrossEntropyLoss"},
    "crop_size": 32,
    "context": 2.0,
}
# Lite0's trunk has 3 stages: the fast pathway then needs 3 depths and temporal kernels.
FAST_3_STAGES = {"type": "ResNet3dPathway", "stem_temporal_kernel": 5, "depths": [1, 1, 1],
                 "temporal_kernels": [3, 3, 3]}


def with_lite0(model_cfg: dict, init: str = "imagenet", **slow) -> dict:
    """A copy of ``model_cfg`` with the EfficientNet-Lite0 slow pathway (the README's
    ImageNet switch); ``slow``: more keys of that pathway."""
    cfg = copy.deepcopy(model_cfg)
    cfg["backbone"].update(slow_pathway={"type": "EfficientNetLite0Pathway", "init": init, **slow},
                           fast_pathway=copy.deepcopy(FAST_3_STAGES))
    return cfg


# ---- tiny DAVIS-layout roots --------------------------------------------------------------

H, W, SIDE, STEP = 32, 48, 8, 3  # tiny frames; an 8x8 square moving 3 px/frame to the right


def square_mask(t: int, obj: int = 1) -> np.ndarray:
    """(H, W) ids: the square of object ``obj`` in frame ``t`` (object 2 sits one row lower)."""
    mask = np.zeros((H, W), np.uint8)
    y, x = 4 + 12 * (obj - 1), 4 + STEP * t
    mask[y:y + SIDE, x:x + SIDE] = obj
    return mask


def make_root(root: Path, year: int = 2016, sequences=(("dog-agility", "train", 5),
                                                       ("blackswan", "val", 4)),
              objects: int = 1) -> Path:
    """A tiny DAVIS root of ``year`` (2016: 0/255 L masks, pairs; 2017: palette ids, names)."""
    sets = root / "ImageSets" / ("480p" if year == 2016 else "2017")
    sets.mkdir(parents=True)
    lines: dict[str, list[str]] = {"train": [], "val": []}
    for name, split, length in sequences:
        img_dir, ann_dir = (root / kind / "480p" / name for kind in ("JPEGImages", "Annotations"))
        img_dir.mkdir(parents=True)
        ann_dir.mkdir(parents=True)
        for t in range(length):
            ids = np.maximum.reduce([square_mask(t, k) for k in range(1, objects + 1)])
            frame = np.full((H, W, 3), 30, np.uint8)
            frame[ids > 0] = (220, 200, 40)
            Image.fromarray(frame).save(img_dir / f"{t:05d}.jpg", quality=95)
            if year == 2016:
                Image.fromarray((ids > 0).astype(np.uint8) * 255, "L").save(ann_dir / f"{t:05d}.png")
                lines[split].append(f"/JPEGImages/480p/{name}/{t:05d}.jpg "
                                    f"/Annotations/480p/{name}/{t:05d}.png")
            else:
                write_palette_png(ann_dir / f"{t:05d}.png", ids)
        if year == 2017:
            lines[split].append(name)
    for split, rows in lines.items():
        (sets / f"{split}.txt").write_text("".join(f"{r}\n" for r in rows))
    return root


def zip_folder(folder: Path, archive: Path, arcroot: str = "DAVIS") -> Path:
    """Zip ``folder`` under ``arcroot/`` (as the official zips hold ``DAVIS/``), stored."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{arcroot}/{path.relative_to(folder).as_posix()}".lstrip("/"))
    return archive


def sample_subset(dest: Path, names=("dog-agility",)) -> Path:
    """A copy of some real 2016 sample sequences with their ImageSets lines, as a DAVIS root."""
    for kind in ("JPEGImages", "Annotations"):
        for name in names:
            shutil.copytree(SAMPLE_2016 / kind / "480p" / name, dest / kind / "480p" / name)
    sets = dest / "ImageSets" / "480p"
    sets.mkdir(parents=True)
    for split in ("train", "val"):
        lines = (SAMPLE_2016 / "ImageSets" / "480p" / f"{split}.txt").read_text().splitlines()
        keep = [l for l in lines if l.split("/")[3] in names]
        (sets / f"{split}.txt").write_text("".join(f"{l}\n" for l in keep))
    return dest


# ---- params.yaml, as committed and as `dvc exp run -S` edits it ------------------------------

def committed_params() -> dict:
    """params.yaml as committed (``git show HEAD:``; the file itself outside a git checkout):
    a ``dvc exp run -S ...`` rewrites the workspace copy, which must not fail the tests."""
    shown = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=REPO, capture_output=True,
                           text=True)
    return yaml.safe_load(shown.stdout if shown.returncode == 0 else (REPO / "params.yaml").read_text())


def repo_params() -> dict:
    """The committed params.yaml, with the tiny model of the tests."""
    params = committed_params()
    params["model"] = copy.deepcopy(TINY_MODEL)
    return params


def set_key(params: dict, key: str, value) -> dict:
    """``params`` with ``a.b.c`` set to ``value`` (``...`` deletes it), as ``dvc exp run -S``."""
    *path, last = key.split(".")
    node = params
    for part in path:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return params
