"""ClipDataset on the DATASETS registry, serving clips from the cache."""
import numpy as np
import pytest

from pipeline.data.cache import decode, load_arrays
from pipeline.registry import DATASETS, build


@pytest.fixture
def cache(root2017, tmp_path):
    return decode(root2017, tmp_path / "cache", (16, 24))


def test_clips_cover_every_start_and_targets_are_objectness(cache):
    ds = build(DATASETS, dict(type="ClipDataset", cache_dir=str(cache), split="train",
                              clip_len=3, tau=1))
    assert len(ds) == 5 - 3 + 1
    item = ds[1]
    frames, masks = load_arrays(cache, "dog-agility")
    assert item["inputs"].shape == (3, 3, 16, 24)
    assert np.array_equal(item["inputs"].permute(1, 2, 3, 0).numpy(), frames[1:4])
    assert np.array_equal(item["data_samples"].numpy(), (masks[1:4] > 0).astype(np.uint8))
    assert set(np.unique(masks[1:4])) == {0, 1, 2}  # two ids, one objectness class


def test_pipeline_of_transforms_is_applied_per_clip(cache):
    ds = build(DATASETS, dict(type="ClipDataset", cache_dir=str(cache), split="val", clip_len=4,
                              tau=2, pipeline=[dict(type="ClipRandomCrop", size=(8, 12)),
                                               dict(type="ClipRandomFlip")]))
    item = ds[0]
    assert len(ds) == 1 and item["inputs"].shape == (3, 4, 8, 12)
    assert item["data_samples"].shape == (4, 8, 12)


def test_frame_skipping_spreads_a_clip_over_more_frames_to_the_same_last_frame(cache):
    frames, _ = load_arrays(cache, "dog-agility")
    ds = build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache), split="train",
                              clip_len=3, crop_size=16, max_skip=3))
    assert np.array_equal(ds._clip(2, skip=2)[0], frames[[0, 2, 4]])
    assert np.array_equal(ds._clip(2, skip=3)[0], frames[[0, 1, 4]])  # clamped at frame 0
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        clip, _ = ds._video_clip(2, rng)
        match = [i for i, idx in enumerate(([2, 3, 4], [0, 2, 4], [0, 1, 4]))
                 if np.array_equal(clip, frames[idx])]
        assert len(match) == 1
        seen.add(match[0] + 1)
    assert seen == {1, 2, 3}
    plain = build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache), split="train",
                                 clip_len=3, crop_size=16))
    assert all(np.array_equal(plain._video_clip(2, rng)[0], frames[2:5]) for _ in range(5))
    with pytest.raises(ValueError, match="max_skip=0"):
        build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache), max_skip=0))


def test_prior_strength_sets_how_far_the_priors_stray_from_the_targets(cache):
    def disagreement(strength: float) -> float:
        np.random.seed(0)
        ds = build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache),
                                  split="train", clip_len=3, crop_size=32, stale_prob=0.0,
                                  prior_strength=strength))
        wrong = []
        for _ in range(40):
            item = ds[1]
            prior = item["inputs"][3].numpy() > 0
            target = item["data_samples"].numpy()
            known = target != 255
            wrong.append((prior != (target == 1))[known].mean())
        return float(np.mean(wrong))

    assert disagreement(0.0) < disagreement(1.2) < disagreement(3.0)
    with pytest.raises(ValueError, match="prior_strength=-1"):
        build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache), prior_strength=-1))


def test_cut_prob_makes_the_priors_miss_part_of_the_object(cache):
    def missed(cut_prob: float) -> float:
        np.random.seed(0)
        ds = build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache),
                                  split="train", clip_len=3, crop_size=32, stale_prob=0.0,
                                  prior_strength=0.0, cut_prob=cut_prob))
        share = []
        for _ in range(40):
            item = ds[1]
            prior, target = item["inputs"][3].numpy() > 0, item["data_samples"].numpy() == 1
            share.append((target & ~prior).sum() / max(target.sum(), 1))
        return float(np.mean(share))

    assert missed(1.0) > missed(0.0) + 0.05
