"""Object-centred crops, propagation-error priors and the propagation dataset."""
import cv2
import numpy as np
import pytest

from pipeline.data.cache import decode
from pipeline.data.crops import crop, crop_matrix, jitter_box, nearest_crop, object_box, paste
from pipeline.data.davis import VOID
from pipeline.data.priors import apply_errors, clip_priors, deform_prior, draw_errors
from pipeline.registry import DATASETS, build


def _disc(h=120, w=200, cy=50, cx=140, r=12):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)


def test_box_is_context_times_the_larger_side_and_never_under_min_side():
    m = np.zeros((50, 80), np.uint8)
    m[10:20, 30:60] = 1  # 10 x 30
    assert object_box(m, 2.0, 8) == (15.0, 45.0, 60.0)
    assert object_box(m, 1.0, 40) == (15.0, 45.0, 40.0)
    assert object_box(np.zeros((5, 5)), 2.0, 8) is None


def test_crop_then_paste_gives_back_the_object_at_its_place():
    m = _disc()
    box = object_box(m, 2.0, 16)
    c = crop(m[None], box, 64, nearest=True)[0]
    assert c.shape == (64, 64) and 0.15 < c.mean() < 0.25  # pi r^2 / (4 r)^2 = 0.196
    back = paste(c.astype(np.float32), box, m.shape) > 0.5
    inter, union = (back & (m > 0)).sum(), (back | (m > 0)).sum()
    assert inter / union > 0.9


def test_outside_the_frame_is_black_in_frames_and_fill_in_masks():
    frame = np.full((1, 40, 40, 3), 200, np.uint8)
    box = (0.0, 0.0, 40.0)  # centred on the corner: 3/4 of the crop lies outside
    c = crop(frame, box, 20)
    assert c[0, 0, 0].tolist() == [0, 0, 0] and c[0, -1, -1].tolist() == [200, 200, 200]
    assert crop(np.ones((1, 40, 40), np.uint8), box, 20, nearest=True, fill=VOID)[0, 0, 0] == VOID


def test_nearest_crop_takes_the_pixel_after_a_tie_whatever_the_opencv():
    """Frame pixels' indices cropped: each crop pixel holds the index of the nearest frame
    pixel, and a position exactly half-way between two (a box of side 50 resampled to 64:
    column 48 samples x = 48.5) takes the one after, whichever OpenCV is installed (its
    warpAffine took pixel 48 there in 5.0.0.93 and 49 in 5.1.0.95)."""
    h, w = 96, 144
    index = np.arange(h * w, dtype=np.int32).reshape(1, h, w)
    box = (24.0, 36.0, 50.0)
    got = nearest_crop(index, box, 64, fill=-1)[0]
    positions = 36.0 + (np.arange(64) - 32) * 50 / 64
    assert positions[48] == 48.5 and got[32, 48] % w == 49
    inside = (positions >= -0.5) & (positions < w - 0.5)
    assert np.array_equal(got[32, inside] % w, np.floor(positions[inside] + 0.5))
    assert got[0, 0] == -1  # row 24 - 25 = -1 lies above the frame


def test_nearest_crop_is_opencvs_nearest_away_from_ties():
    """Away from ties (boxes of random real numbers; OpenCV rounds near ties inexactly, a
    position 4e-4 under a half taken up, so positions within 1/500 of a half are left out) the
    crop is OpenCV's nearest-neighbour warpAffine of the same map, inside and outside the
    frame, with channels and frames."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 60, 90, 2), np.uint8)
    compared = total = 0
    for _ in range(50):
        box = (rng.uniform(-30, 90), rng.uniform(-30, 120), rng.uniform(8, 200))
        size = int(rng.choice([16, 33, 64]))
        m = crop_matrix(box, size)
        expected = np.stack([cv2.warpAffine(im, m, (size, size), flags=cv2.INTER_NEAREST,
                                            borderMode=cv2.BORDER_CONSTANT, borderValue=(7, 7))
                             for im in images])
        offsets = (np.arange(size) - size / 2) * box[2] / size
        rows, cols = [np.abs((c + offsets) % 1 - 0.5) > 2e-3 for c in box[:2]]
        away = np.ix_(rows, cols)
        got = nearest_crop(images, box, size, fill=7)
        assert np.array_equal(got[:, away[0], away[1]], expected[:, away[0], away[1]]), box
        compared, total = compared + rows.sum() * cols.sum(), total + size * size
    assert compared > 0.95 * total  # nearly every pixel is compared
    assert (nearest_crop(images, (500.0, 500.0, 40.0), 16, fill=7) == 7).all()  # all outside


def test_jitter_moves_and_scales_within_bounds():
    rng = np.random.default_rng(0)
    for _ in range(50):
        cy, cx, side = jitter_box((50.0, 60.0, 40.0), rng, shift=0.1, scale=(0.8, 1.25))
        assert abs(cy - 50) <= 4 and abs(cx - 60) <= 4 and 32 <= side <= 50


def test_deformed_priors_overlap_but_differ_and_empty_stays_empty():
    m = _disc(r=20)
    rng = np.random.default_rng(0)
    ious = []
    for _ in range(40):
        d = deform_prior(m, rng) > 0
        ious.append((d & (m > 0)).sum() / (d | (m > 0)).sum())
    assert 0.5 < np.mean(ious) < 0.97 and min(ious) < 0.9
    assert deform_prior(np.zeros_like(m), rng).sum() == 0
    weak = [deform_prior(m, rng, 0.0) for _ in range(10)]  # strength 0: only holes / blobs
    assert np.mean([(w > 0).sum() for w in weak]) == pytest.approx(m.sum(), rel=0.3)


def test_clip_priors_share_one_error_across_the_clip():
    """Propagation errors persist from frame to frame: a clip's priors of one mask are
    alike, while independent draws scatter."""
    masks = np.repeat(_disc(r=20)[None], 8, 0)
    rng = np.random.default_rng(1)
    spread_clip, spread_free = [], []
    for _ in range(20):
        areas = clip_priors(masks, rng).sum((1, 2))
        spread_clip.append(np.std(areas) / np.mean(areas))
        free = np.array([deform_prior(m, rng).sum() for m in masks])
        spread_free.append(np.std(free) / np.mean(free))
    assert np.median(spread_clip) < 0.5 * np.median(spread_free)


def test_a_cut_prior_lacks_one_side_of_the_object_in_every_frame_of_its_clip():
    """A lost limb: the priors lack what lies beyond one line, 10-35 % of the object, on
    the same side in every frame of a clip."""
    disc = _disc(r=20) > 0
    rng = np.random.default_rng(3)
    for _ in range(10):
        errors = draw_errors(rng, 0.0, cut_prob=1.0) | {"hole": False, "blob": False}
        lost = disc & ~(apply_errors(disc, errors, rng) > 0)
        assert 0.09 < lost.sum() / disc.sum() < 0.36
        angle = errors["cut"][0]
        along = np.argwhere(disc) @ np.array([np.sin(angle), np.cos(angle)])  # (y, x) rows
        assert along[lost[disc]].min() > along[~lost[disc]].max()  # all beyond one line
    masks = np.repeat(disc[None], 4, 0).astype(np.uint8)
    for _ in range(10):
        lost = disc & ~(clip_priors(masks, rng, strength=0.0, jitter=0.0, cut_prob=1.0) > 0)
        sides = [np.argwhere(frame).mean(0) - np.argwhere(disc).mean(0) for frame in lost]
        assert all(np.dot(side, sides[0]) > 0 for side in sides)
    assert all(draw_errors(rng, 1.0, cut_prob=0.0)["cut"] is None for _ in range(5))


def test_propagation_dataset_serves_one_object_with_its_prior(root2017, tmp_path):
    cache = decode(root2017, tmp_path / "cache", (32, 48))
    ds = build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache), split="train",
                              clip_len=3, crop_size=32))
    np.random.seed(0)
    ious = []
    for i in list(range(len(ds))) * 5:
        item = ds[i]
        x, y = item["inputs"].numpy(), item["data_samples"].numpy()
        assert x.shape == (4, 3, 32, 32) and y.shape == (3, 32, 32)
        assert set(np.unique(x[3])) <= {0, 255} and set(np.unique(y)) <= {0, 1, VOID}
        fg, prior = y[-1] == 1, x[3, -1] > 0
        assert fg.any()  # an object of the last frame, centred in the crop
        ious.append((fg & prior).sum() / (fg | prior).sum())
    assert np.mean(ious) > 0.4  # the prior is the object's, with errors
