"""A deterministic synthetic dataset written in exactly the DAVIS 2017 layout.

Each sequence shows 1..``max_objects`` textured objects (ellipses and rounded boxes with
stripe/checker textures) over a textured background that pans with a camera motion. Per
sequence the motion is ``slow`` or ``fast`` (pixels/frame recorded in the sidecar
``sfvos_synthetic.json`` with DAVIS-style attribute tags), objects change scale (SV), deform
(DEF), occlude each other and may pass behind an unlabelled occluder bar (OCC). Fast motion
and occlusion are what make temporal information matter for the pathway ablation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from tqdm import tqdm

from pipeline.data.davis import SYNTHETIC_META, write_palette_png
from pipeline.fileio import atomic_dir


@dataclass(frozen=True)
class SyntheticSpec:
    """How many sequences, how long, how big; everything else follows from ``seed``."""

    num_train: int = 8
    num_val: int = 6
    num_frames: int = 24
    height: int = 96
    width: int = 160
    max_objects: int = 3
    fast_fraction: float = 0.5
    seed: int = 0


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Bilinearly upsampled random grid in [0, 1], (h, w)."""
    grid = rng.random((cells + 1, cells + 1))
    ys = np.linspace(0, cells, h)
    xs = np.linspace(0, cells, w)
    y0 = np.minimum(ys.astype(int), cells - 1)
    x0 = np.minimum(xs.astype(int), cells - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    g00 = grid[y0][:, x0]
    g01 = grid[y0][:, x0 + 1]
    g10 = grid[y0 + 1][:, x0]
    g11 = grid[y0 + 1][:, x0 + 1]
    return (g00 * (1 - fx) + g01 * fx) * (1 - fy) + (g10 * (1 - fx) + g11 * fx) * fy


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured background twice the frame size, (2h, 2w, 3) float in [0, 255]."""
    base = rng.uniform(40, 200, 3)
    noise = _smooth_noise(rng, 2 * h, 2 * w, 8)[..., None]
    fine = _smooth_noise(rng, 2 * h, 2 * w, 40)[..., None]
    tint = rng.uniform(-60, 60, 3)
    return np.clip(base + tint * (noise - 0.5) * 2 + 50 * (fine - 0.5), 0, 255)


@dataclass
class _Object:
    color: np.ndarray
    color2: np.ndarray
    shape: str
    pattern: str
    freq: float
    radius: tuple[float, float]
    pos: np.ndarray
    vel: np.ndarray
    scale_end: float
    deform: float
    phase: float
    angle_speed: float


def _make_object(rng, h, w, speed) -> _Object:
    angle = rng.uniform(0, 2 * np.pi)
    return _Object(
        color=rng.uniform(0, 255, 3),
        color2=rng.uniform(0, 255, 3),
        shape=str(rng.choice(["ellipse", "box"])),
        pattern=str(rng.choice(["stripes", "checker", "plain"])),
        freq=rng.uniform(0.3, 0.9),
        radius=(rng.uniform(0.10, 0.2) * h, rng.uniform(0.10, 0.2) * w),
        pos=np.array([rng.uniform(0.25, 0.75) * h, rng.uniform(0.25, 0.75) * w]),
        vel=speed * np.array([np.sin(angle), np.cos(angle)]),
        scale_end=rng.uniform(0.7, 1.4),
        deform=rng.uniform(0.0, 0.25),
        phase=rng.uniform(0, 2 * np.pi),
        angle_speed=rng.uniform(-0.08, 0.08),
    )


def _object_layer(obj: _Object, t: int, n: int, yy, xx):
    """Mask (h, w) bool and texture (h, w, 3) of ``obj`` at frame ``t``."""
    s = 1 + (obj.scale_end - 1) * t / max(n - 1, 1)
    wobble = 1 + obj.deform * np.sin(obj.phase + 0.5 * t)
    ry, rx = obj.radius[0] * s * wobble, obj.radius[1] * s / wobble
    theta = obj.angle_speed * t
    dy, dx = yy - obj.pos[0], xx - obj.pos[1]
    u = (dy * np.cos(theta) - dx * np.sin(theta)) / ry
    v = (dy * np.sin(theta) + dx * np.cos(theta)) / rx
    if obj.shape == "ellipse":
        mask = u**2 + v**2 <= 1
    else:
        mask = np.abs(u) ** 4 + np.abs(v) ** 4 <= 1
    if obj.pattern == "stripes":
        mix = (np.sin(obj.freq * (u * ry + v * rx)) > 0)[..., None]
    elif obj.pattern == "checker":
        mix = ((np.floor(obj.freq * u * ry / 2) + np.floor(obj.freq * v * rx / 2)) % 2 == 0)[..., None]
    else:
        mix = np.zeros(mask.shape + (1,), bool)
    return mask, np.where(mix, obj.color2, obj.color)


def _step(obj: _Object, h: int, w: int) -> None:
    """Move and bounce off the image borders (keeping most of the object visible)."""
    obj.pos = obj.pos + obj.vel
    for axis, size in ((0, h), (1, w)):
        if not 0.1 * size <= obj.pos[axis] <= 0.9 * size:
            obj.vel[axis] = -obj.vel[axis]
            obj.pos[axis] = np.clip(obj.pos[axis], 0.1 * size, 0.9 * size)


def render_sequence(rng: np.random.Generator, spec: SyntheticSpec, fast: bool):
    """Frames (T, H, W, 3) uint8, ids (T, H, W) uint8, and the sequence's metadata."""
    h, w, n = spec.height, spec.width, spec.num_frames
    diag = float(np.hypot(h, w))
    speed = rng.uniform(0.05, 0.09) * diag if fast else rng.uniform(0.005, 0.015) * diag
    k = int(rng.integers(1, spec.max_objects + 1))
    objects = [_make_object(rng, h, w, speed) for _ in range(k)]
    background = _background(rng, h, w)
    cam = rng.uniform(-1.0, 1.0, 2) * (0.01 * diag)
    occluder = rng.random() < 0.5
    occ_x, occ_v, occ_w = rng.uniform(0, w), rng.choice([-1, 1]) * rng.uniform(1, 3), max(3, w // 12)
    occ_color = rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = np.zeros((n, h, w, 3), np.uint8)
    ids = np.zeros((n, h, w), np.uint8)
    for t in range(n):
        oy = int(np.clip(h / 2 + cam[0] * t, 0, h))
        ox = int(np.clip(w / 2 + cam[1] * t, 0, w))
        image = background[oy : oy + h, ox : ox + w].copy()
        label = np.zeros((h, w), np.uint8)
        for obj_id, obj in enumerate(objects, start=1):  # later objects are in front
            mask, texture = _object_layer(obj, t, n, yy, xx)
            image[mask] = texture[mask]
            label[mask] = obj_id
            _step(obj, h, w)
        if occluder:
            x0 = int(occ_x + occ_v * t) % w
            image[:, x0 : x0 + occ_w] = occ_color
            label[:, x0 : x0 + occ_w] = 0
        frames[t] = np.clip(image, 0, 255).astype(np.uint8)
        ids[t] = label
    attributes = ["SV", "DEF"] + (["FM"] if fast else []) + (["OCC"] if occluder or k > 1 else [])
    meta = {"speed_px": float(speed), "fast": fast, "num_objects": k, "attributes": attributes}
    return frames, ids, meta


def _ensure_ids_present(ids: np.ndarray, k: int) -> bool:
    return set(np.unique(ids[0]).tolist()) >= set(range(1, k + 1))


def generate(root: Path, spec: SyntheticSpec) -> Path:
    """Write the dataset to ``root`` (a DAVIS 2017 root), replacing it atomically."""
    root = Path(root)
    with atomic_dir(root) as tmp:
        _write_root(tmp, spec)
    return root


def _write_root(root: Path, spec: SyntheticSpec) -> None:
    rng = np.random.default_rng(spec.seed)
    splits = {"train": spec.num_train, "val": spec.num_val}
    meta: dict = {"spec": spec.__dict__, "sequences": {}}
    names_by_split: dict[str, list[str]] = {}
    total = spec.num_train + spec.num_val
    with tqdm(total=total, desc="synthetic", unit="seq") as bar:
        for split, count in splits.items():
            names_by_split[split] = []
            for i in range(count):
                name = f"synth-{split}-{i:03d}"
                fast = bool(i < round(count * spec.fast_fraction))
                while True:  # every object must be visible in frame 0 (semi-supervised)
                    frames, ids, info = render_sequence(rng, spec, fast)
                    if _ensure_ids_present(ids, info["num_objects"]):
                        break
                img_dir = root / "JPEGImages" / "480p" / name
                ann_dir = root / "Annotations" / "480p" / name
                img_dir.mkdir(parents=True)
                ann_dir.mkdir(parents=True)
                for t in range(spec.num_frames):
                    iio.imwrite(img_dir / f"{t:05d}.jpg", frames[t], quality=92)
                    write_palette_png(ann_dir / f"{t:05d}.png", ids[t])
                meta["sequences"][name] = {"split": split, **info}
                names_by_split[split].append(name)
                bar.update(1)
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True)
    for split, names in names_by_split.items():
        (sets / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    (root / SYNTHETIC_META).write_text(json.dumps(meta, indent=2))
