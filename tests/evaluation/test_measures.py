"""J, F, seg2bmap and the statistics on hand-computed cases and properties."""
import numpy as np
import pytest
from tests.evaluation.davis_reference import boundary, f_measure as reference_f

from pipeline.evaluation.measures import (bound_pixels, db_eval_boundary, db_eval_iou,
                                          db_statistics, disk, f_measure, seg2bmap)


def _mask(h, w, *pixels):
    m = np.zeros((h, w), bool)
    for y, x in pixels:
        m[y, x] = True
    return m


def test_seg2bmap_square_is_offset_towards_the_origin():
    seg = _mask(5, 5, (1, 1), (1, 2), (2, 1), (2, 2))
    expected = np.array([[1, 1, 1, 0, 0],
                         [1, 0, 1, 0, 0],
                         [1, 1, 1, 0, 0],
                         [0, 0, 0, 0, 0],
                         [0, 0, 0, 0, 0]], bool)
    np.testing.assert_array_equal(seg2bmap(seg), expected)


def test_seg2bmap_last_row_and_column_look_east_and_south_only():
    # object on the bottom-right corner: (3,3) sees it SE, (3,4) S, (4,3) E; the corner never
    seg = _mask(5, 5, (4, 4))
    np.testing.assert_array_equal(np.argwhere(seg2bmap(seg)), [[3, 3], [3, 4], [4, 3]])
    # a full last column: only row 3 (south of it) and the last row east of column 3
    seg = np.zeros((5, 5), bool)
    seg[:, 4] = True
    np.testing.assert_array_equal(np.argwhere(seg2bmap(seg)), [[0, 3], [1, 3], [2, 3], [3, 3], [4, 3]])


def test_seg2bmap_matches_the_literal_definition_on_random_masks():
    rng = np.random.default_rng(0)
    segs = rng.random((20, 9, 11)) < 0.4
    np.testing.assert_array_equal(seg2bmap(segs), np.stack([boundary(s) for s in segs]))


def test_disk_equals_skimage_disk():
    morphology = pytest.importorskip("skimage.morphology")
    for r in range(0, 11):
        np.testing.assert_array_equal(disk(r), morphology.disk(r).astype(np.uint8))
    np.testing.assert_array_equal(disk(8), morphology.disk(np.ceil(0.008 * np.hypot(480, 854))))


def test_bound_pixels():
    assert bound_pixels((480, 854)) == 8  # ceil(0.008 * 979.65) = ceil(7.84)
    assert bound_pixels((96, 160)) == 2  # ceil(0.008 * 186.6) = ceil(1.49)
    assert bound_pixels((480, 854), bound_th=3) == 3  # >= 1: pixels as given


def test_j_hand_cases():
    a = _mask(4, 4, (0, 0), (0, 1), (1, 0), (1, 1))
    s = _mask(4, 4, (1, 1), (3, 3))
    empty = np.zeros((4, 4), bool)
    assert db_eval_iou(a, s) == pytest.approx(1 / 5)  # |{(1,1)}| / |5 pixels|
    assert db_eval_iou(empty, empty) == 1.0
    assert db_eval_iou(a, empty) == 0.0 and db_eval_iou(empty, a) == 0.0
    np.testing.assert_allclose(db_eval_iou(np.stack([a, empty]), np.stack([s, empty])), [0.2, 1.0])


def test_f_edge_cases():
    empty = np.zeros((7, 7), bool)
    dot = _mask(7, 7, (2, 2))
    assert f_measure(empty, empty) == 1.0  # both boundaries empty: P = R = 1
    assert f_measure(empty, dot) == 0.0  # prediction empty: P = 1, R = 0
    assert f_measure(dot, empty) == 0.0  # ground truth empty: P = 0, R = 1
    full = np.ones((7, 7), bool)  # no boundary at all, though J = 0 against empty
    assert f_measure(full, empty) == 1.0 and db_eval_iou(full, empty) == 0.0


def test_f_partial_matches_by_tolerance():
    # boundaries {(1,1),(1,2),(2,1),(2,2)} and {(1,4),(1,5),(2,4),(2,5)}
    gt, pred = _mask(7, 7, (2, 2)), _mask(7, 7, (2, 5))
    assert f_measure(pred, gt, bound_th=1) == 0.0  # nothing within 1 px: P + R = 0
    assert f_measure(pred, gt, bound_th=2) == pytest.approx(0.5)  # P = R = 2/4
    assert f_measure(pred, gt, bound_th=3) == 1.0  # all within 3 px
    # P != R: a second dot out of reach adds 4 unmatched boundary pixels: P = 2/8, R = 2/4
    assert f_measure(pred | _mask(7, 7, (5, 4)), gt, bound_th=2) == pytest.approx(1 / 3)
    # on the left border a dot has only 2 boundary pixels, (4,0) and (5,0): P = 2/6, R = 2/4
    assert f_measure(pred | _mask(7, 7, (5, 0)), gt, bound_th=2) == pytest.approx(0.4)


def _blob(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    ry, rx = rng.uniform(0.1, 0.25) * h, rng.uniform(0.1, 0.25) * w
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1 + 0.3 * np.sin(5 * np.arctan2(yy - cy, xx - cx))


@pytest.mark.parametrize("seed", range(5))
def test_properties(seed):
    rng = np.random.default_rng(seed)
    a, b = _blob(rng, 120, 160), _blob(rng, 120, 160)
    assert db_eval_iou(a, a) == 1.0 and f_measure(a, a) == 1.0
    assert db_eval_iou(a, b) == db_eval_iou(b, a)
    assert f_measure(a, b) == pytest.approx(reference_f(a, b), abs=1e-12)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (-1, 0)):  # tolerance at 160x120 is 2 px
        shifted = np.roll(a, (dy, dx), axis=(0, 1))
        assert f_measure(shifted, a) == 1.0
        assert db_eval_iou(shifted, a) < 1.0


def test_boundary_of_frames_matches_per_frame_calls():
    rng = np.random.default_rng(7)
    gt = np.stack([_blob(rng, 60, 80) for _ in range(4)])
    res = np.stack([_blob(rng, 60, 80) for _ in range(4)])
    np.testing.assert_allclose(db_eval_boundary(gt, res), [reference_f(r, g) for g, r in zip(gt, res)])


def test_statistics_shared_bin_endpoints():
    # N = 5: ids = [0, 1, 2, 3, 4], bins v[0:2], v[1:3], v[2:4], v[3:5]
    mean, recall, decay = db_statistics(np.array([0.9, 0.1, 0.5, 0.2, 0.6]))
    assert mean == pytest.approx(0.46)
    assert recall == pytest.approx(0.4)  # 0.9 and 0.6; 0.5 is not > 0.5
    assert decay == pytest.approx(0.5 - 0.4)
    # N = 10: linspace(1, 10, 5) = [1, 3.25, 5.5, 7.75, 10] -> ids [0, 2, 5, 7, 9]
    _, _, decay = db_statistics(np.arange(10) / 10)
    assert decay == pytest.approx(np.mean([0.0, 0.1, 0.2]) - np.mean([0.7, 0.8, 0.9]))
    assert db_statistics(np.array([0.7])) == pytest.approx((0.7, 1.0, 0.0))


def test_f_matches_the_reference_on_masks_touching_the_border():
    rng = np.random.default_rng(3)
    for _ in range(30):
        a, b = rng.random((2, 9, 11)) < 0.3
        for th in (1, 2, 4):
            assert f_measure(a, b, bound_th=th) == pytest.approx(reference_f(a, b, bound_th=th), abs=1e-12)
