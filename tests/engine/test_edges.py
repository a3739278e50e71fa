import numpy as np
import pytest

from pipeline.engine.edges import EPS, class_argmax, guided_filter, snap_edges, snapped_probabilities
from pipeline.engine.osvos import Propagator
from tests.engine.test_osvos import PriorCopier


def _window_fit(guide, p, r, y, x):
    """The guided filter's linear fit ``p ~ a . I + b`` over the window at (y, x), solved
    directly: ridge least squares with ``EPS`` times the window's pixel count on ``a``."""
    I = guide[y - r:y + r + 1, x - r:x + r + 1].reshape(-1, 3).astype(np.float64)
    q = p[y - r:y + r + 1, x - r:x + r + 1].reshape(-1).astype(np.float64)
    X = np.c_[I - I.mean(0), np.ones(len(I))]
    reg = np.diag([EPS * len(I)] * 3 + [0.0])
    a0, a1, a2, c = np.linalg.solve(X.T @ X + reg, X.T @ q)
    return np.array([a0, a1, a2]), c - np.dot([a0, a1, a2], I.mean(0))


def test_guided_filter_is_the_mean_of_the_windows_least_squares_fits():
    rng = np.random.default_rng(0)
    guide = rng.random((20, 22, 3)).astype(np.float32)
    p = (rng.random((20, 22)) > 0.5).astype(np.float32)
    r = 2
    q = guided_filter(guide, p[None], r)[0]
    for y, x in [(4, 4), (9, 13), (15, 17)]:  # 2r from the border: no reflected pixels
        fits = [_window_fit(guide, p, r, yy, xx) for yy in range(y - r, y + r + 1)
                for xx in range(x - r, x + r + 1)]
        a = np.mean([f[0] for f in fits], 0)
        b = np.mean([f[1] for f in fits])
        assert q[y, x] == pytest.approx(float(a @ guide[y, x] + b), abs=1e-4)


@pytest.mark.parametrize("side", [60, 400])  # the coarse grid: 1 (radius 4) and 2 (radius 12)
def test_a_mask_a_few_pixels_off_an_object_is_drawn_onto_its_edge(side):
    """A red square on a green field; the mask is the square shifted right by a third of the
    window: its edges snap to the square's."""
    rng = np.random.default_rng(0)
    frame = np.zeros((side, side, 3), np.uint8)
    frame[..., 1] = 160
    lo, hi = side // 4, 3 * side // 4
    frame[lo:hi, lo:hi] = (200, 30, 30)
    frame = np.clip(frame + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
    radius = (4 if side == 60 else 12) / np.hypot(side, side)
    shift = 2 if side == 60 else 4
    ids = np.zeros((side, side), np.uint8)
    ids[lo:hi, lo + shift:hi + shift] = 1
    probs = snapped_probabilities(frame, ids, 2, radius)
    assert np.abs(probs.sum(0) - 1).max() < 1e-4  # still class probabilities
    truth = np.zeros_like(ids)
    truth[lo:hi, lo:hi] = 1
    snapped = snap_edges(frame, ids, 2, radius)
    np.testing.assert_array_equal(snapped, probs.argmax(0))
    assert (snapped != truth).sum() < 0.4 * (ids != truth).sum()  # corners are rounded


def test_snap_edges_leaves_a_frame_without_objects_and_a_zero_radius_alone():
    frame = np.random.default_rng(0).integers(0, 256, (40, 50, 3), np.uint8)
    empty = np.zeros((40, 50), np.uint8)
    assert (snap_edges(frame, empty, 2, 0.05) == 0).all()
    assert (snapped_probabilities(frame, empty, 2, 0.05).argmax(0) == 0).all()
    ids = empty.copy()
    ids[10:20, 10:30] = 1
    np.testing.assert_array_equal(snap_edges(frame, ids, 2, 0.0), ids)


def test_edge_refine_changes_what_is_returned_not_what_is_propagated():
    """The returned classes are snapped to the frame's edges; the next frame's prior is the
    network's own mask (here the copied one), as without it."""
    frame = np.zeros((96, 144, 3), np.uint8)
    frame[..., 1] = 150
    frame[30:70, 40:90] = (220, 40, 40)
    ids = np.zeros((96, 144), np.uint8)
    ids[30:70, 46:96] = 1  # 6 pixels right of the red rectangle
    plain = Propagator(PriorCopier(), clip_len=2)
    snap = Propagator(PriorCopier(), clip_len=2, edge_refine=0.05)
    for prop in (plain, snap):
        prop.step(frame, ids)
    out_plain, out_snap = plain.step(frame), snap.step(frame)
    truth = np.zeros_like(ids)
    truth[30:70, 40:90] = 1
    assert (out_snap != truth).sum() < (out_plain != truth).sum() / 2
    np.testing.assert_array_equal(snap.ids[-1], plain.ids[-1])
    with pytest.raises(ValueError, match="edge_refine"):
        Propagator(PriorCopier(), clip_len=2, edge_refine=1.5)


def test_edge_refine_at_a_larger_output_size_and_with_two_objects():
    """Two objects side by side, each mask off its coloured rectangle; returned at twice the
    working size (the refined class probabilities upsampled before the argmax)."""
    frame = np.zeros((96, 144, 3), np.uint8)
    frame[..., 1] = 150
    frame[30:70, 20:60] = (220, 40, 40)
    frame[30:70, 80:120] = (40, 40, 220)
    ids = np.zeros((96, 144), np.uint8)
    ids[33:73, 24:64] = 1
    ids[27:67, 76:116] = 2
    truth = np.zeros((192, 288), np.uint8)
    truth[60:140, 40:120] = 1
    truth[60:140, 160:240] = 2
    outs = []
    for refine in (0.0, 0.05):
        prop = Propagator(PriorCopier(), clip_len=2, out_size=(192, 288), edge_refine=refine)
        prop.step(frame, ids)
        outs.append(prop.step(frame))
    plain, snapped = ((o != truth).sum() for o in outs)
    assert snapped < plain / 2
    assert set(np.unique(outs[1])) == {0, 1, 2}


def test_class_argmax_is_numpys_argmax_over_the_classes_ties_included():
    rng = np.random.default_rng(0)
    maps = rng.integers(0, 4, (4, 30, 40)).astype(np.float32)  # many ties
    background = maps[0].copy()
    np.testing.assert_array_equal(class_argmax(background, maps[1:]), maps.argmax(0))
    np.testing.assert_array_equal(background, maps[0])  # left as it was
