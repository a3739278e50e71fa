"""Clip augmentations: one draw per clip, the same geometry for every frame and its mask."""
import numpy as np
import pytest

from pipeline.data.davis import VOID
from pipeline.data.transforms import ClipColorJitter
from pipeline.registry import TRANSFORMS, build

T, H, W = 4, 40, 56


def _clip(seed=0):
    """T identical frames: red = 255 exactly on the object of the mask, green a texture."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), np.uint8)
    mask[8:24, 10:34] = 1
    mask[30:36, 40:50] = 1
    frame = np.zeros((H, W, 3), np.uint8)
    frame[..., 0] = mask * 255
    frame[..., 1] = rng.integers(0, 256, (H, W))
    return {"frames": np.repeat(frame[None], T, 0), "masks": np.repeat(mask[None], T, 0)}


GEOMETRIC = [
    dict(type="ClipRandomFlip", prob=1.0),
    dict(type="ClipRandomAffine", scales=(0.7, 1.3), max_degrees=20, max_shift=0.2),
    dict(type="ClipRandomCrop", size=(24, 32)),
]


@pytest.mark.parametrize("cfg", GEOMETRIC, ids=lambda c: c["type"])
@pytest.mark.parametrize("seed", range(3))
def test_geometric_transforms_move_every_frame_and_mask_together(cfg, seed):
    np.random.seed(seed)
    out = build(TRANSFORMS, cfg)(_clip(seed))
    frames, masks = out["frames"], out["masks"]
    assert frames.dtype == masks.dtype == np.uint8 and frames.shape[:3] == masks.shape
    assert all(np.array_equal(f, frames[0]) for f in frames)
    assert all(np.array_equal(m, masks[0]) for m in masks)
    agree = ((frames[0, ..., 0] > 127) == (masks[0] == 1)).mean()
    exact = cfg["type"] != "ClipRandomAffine"  # bilinear vs nearest differ on a few edge pixels
    assert agree == 1.0 if exact else agree > 0.97
    assert masks[0].any()


def test_flip_mirrors_the_clip():
    clip = _clip()
    original = clip["frames"].copy()
    out = build(TRANSFORMS, dict(type="ClipRandomFlip", prob=1.0))(clip)
    assert np.array_equal(out["frames"], original[:, :, ::-1])


def test_crop_takes_one_window_at_the_same_place_in_every_frame():
    np.random.seed(1)
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)  # frames all differ
    masks = rng.integers(0, 3, (T, H, W), dtype=np.uint8)
    out = build(TRANSFORMS, dict(type="ClipRandomCrop", size=(24, 32)))(
        {"frames": frames.copy(), "masks": masks.copy()})
    hits = [(y, x) for y in range(H - 24 + 1) for x in range(W - 32 + 1)
            if np.array_equal(out["frames"][0], frames[0, y:y + 24, x:x + 32])]
    assert len(hits) == 1
    y, x = hits[0]
    assert np.array_equal(out["frames"], frames[:, y:y + 24, x:x + 32])
    assert np.array_equal(out["masks"], masks[:, y:y + 24, x:x + 32])


def test_crop_larger_than_the_clip_pads_masks_with_void():
    out = build(TRANSFORMS, dict(type="ClipRandomCrop", size=(H + 4, W)))(_clip())
    assert out["frames"].shape == (T, H + 4, W, 3)
    assert np.all(out["masks"][:, H:] == VOID) and np.all(out["frames"][:, H:] == 0)


def test_colour_jitter_changes_colours_not_masks_and_is_one_draw_per_clip():
    np.random.seed(0)
    clip = _clip()
    masks = clip["masks"].copy()
    out = build(TRANSFORMS, dict(type="ClipColorJitter", brightness=0.5))(clip)
    assert np.array_equal(out["masks"], masks)
    assert all(np.array_equal(f, out["frames"][0]) for f in out["frames"])
    assert not np.array_equal(out["frames"], _clip()["frames"])


def test_clip_augment_is_the_flip_and_jitter_it_names_and_drops_a_zero_strength():
    from pipeline.data.transforms import ClipAugment

    assert list(ClipAugment(flip=0.25, colour=0.3)) == [
        {"type": "ClipRandomFlip", "prob": 0.25},
        {"type": "ClipColorJitter", "brightness": 0.3, "contrast": 0.3, "saturation": 0.3}]
    assert list(ClipAugment(flip=0, colour=0.3)) == list(ClipAugment(colour=0.3))[1:]
    assert list(ClipAugment(flip=0, colour=0)) == []


def test_colour_jitter_in_place_is_the_plain_formula():
    frames = np.random.default_rng(0).integers(0, 256, (3, 20, 24, 3), np.uint8)
    jitter = ClipColorJitter(0.3, 0.3, 0.3)
    for seed in range(5):
        np.random.seed(seed)
        b, c, s = (np.random.uniform(0.7, 1.3) for _ in range(3))
        x = frames.astype(np.float32) * b
        x = (x - x.mean()) * c + x.mean()
        gray = x.mean(axis=-1, keepdims=True)
        expected = np.clip((x - gray) * s + gray, 0, 255).astype(np.uint8)
        np.random.seed(seed)
        got = jitter.transform({"frames": frames.copy()})["frames"]
        np.testing.assert_array_equal(got, expected)
