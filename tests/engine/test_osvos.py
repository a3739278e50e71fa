"""One-shot fine-tuning and online propagation (pipeline.engine.osvos)."""
import copy
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from pipeline.data.cache import load_arrays, sequence_table
from pipeline.data.clips import ClipSpec
from pipeline.data.davis import VOID
from pipeline.data.transforms import ClipAugment
from pipeline.engine.osvos import (
    MOVED_MIN, FinetuneConfig, _drop_background_motion, _drop_new_parts, _predict_last,
    aggregate, aggregate_argmax, classes_to_ids, finetune, frame0_labels,
    Propagator, propagate,
)
from pipeline.engine.appearance import AppearanceCheck, _nearest
from pipeline.engine.flow import FlowWarper
from pipeline.evaluation.measures import db_eval_iou
from pipeline.models import build_segmenter
from pipeline.models.fusion import fused_for_inference


def test_frame0_labels_maps_ids_in_order_and_keeps_void():
    mask = np.array([[0, 3, 7], [VOID, 7, 0]], np.uint8)
    labels = frame0_labels(mask, [3, 7])
    assert labels.tolist() == [[0, 1, 2], [VOID, 2, 0]]
    assert classes_to_ids(np.where(labels == VOID, 0, labels), [3, 7]).tolist() == [
        [0, 3, 7], [0, 7, 0]]
    video = np.stack([labels % VOID] * 3)  # (T, H, W) maps too
    assert classes_to_ids(video, [3, 7]).tolist() == [[[0, 3, 7], [0, 7, 0]]] * 3
    with pytest.raises(ValueError, match="class 3 but only 2 object ids"):
        classes_to_ids(np.array([[0, 3]], np.uint8), [3, 7])


def test_soft_aggregation_normalises_and_keeps_the_single_object_threshold():
    p = np.array([0.1, 0.49, 0.51, 0.9], np.float32).reshape(1, 1, 4)
    probs = aggregate(p)
    np.testing.assert_allclose(probs.sum(0), 1.0, rtol=1e-5)
    assert probs.argmax(0).ravel().tolist() == [0, 0, 1, 1]
    two = aggregate(np.array([[[0.8, 0.6]], [[0.7, 0.9]]], np.float32))
    assert two.argmax(0).ravel().tolist() == [1, 2]  # the more confident object wins


@pytest.mark.parametrize("objects", [1, 2, 3])
def test_aggregate_argmax_is_the_argmax_of_the_aggregated_probabilities(objects):
    rng = np.random.default_rng(objects)
    fg = rng.random((objects, 40, 50), dtype=np.float32)
    fg[:, :5] = 0.5  # ties
    fg[:, 5:10] = rng.choice([0.0, 1e-6, 0.3, 1.0], (objects, 5, 50))  # clipped values
    fg[0, 10:15] = 1 - np.prod(1 - fg[1:, 10:15], axis=0) if objects > 1 else 0.5
    expected = aggregate(fg).argmax(0)
    assert len(np.unique(expected)) == objects + 1
    np.testing.assert_array_equal(aggregate_argmax(fg), expected)


class _AsItIs:
    """A data preprocessor that leaves the uint8 clips as they are."""

    def __call__(self, data, training=False):
        return data

    def cast_data(self, data):
        return data

    def normalize(self, inputs):
        return inputs


class PriorCopier(torch.nn.Module):
    """A 'network' that answers its prior: propagation then is flow + crop + paste alone."""

    crop_size, context = 48, 2.0
    data_preprocessor = _AsItIs()

    def forward(self, inputs, mode):
        p = inputs[:, 3:4].float() / 255
        p = p[:, :, -1:] if mode == "predict_last" else p
        return torch.cat([1 - p, p], 1)


def _moving_squares(num=10, h=96, w=144):
    """Smooth textured frames with two textured squares moving in opposite directions."""
    rng = np.random.default_rng(0)
    smooth = lambda *shape: np.kron(rng.integers(0, 256, shape, np.uint8), np.ones((4, 4, 1), np.uint8))
    background, texture = smooth(h // 4, w // 4, 3), [smooth(6, 6, 3), smooth(6, 6, 3)]
    frames, ids = [], []
    for t in range(num):
        f, m = background.copy(), np.zeros((h, w), np.uint8)
        for k, (y, x) in enumerate([(12, 12 + 3 * t), (56, 100 - 2 * t)], start=1):
            f[y:y + 24, x:x + 24] = texture[k - 1]
            m[y:y + 24, x:x + 24] = k
        frames.append(f)
        ids.append(m)
    return np.stack(frames), np.stack(ids)


def test_propagation_follows_the_flow_of_each_object():
    frames, ids = _moving_squares()
    out = propagate(PriorCopier(), frames, ids[0], clip_len=4)
    assert out.shape == ids.shape and np.array_equal(out[0], ids[0])
    for k in (1, 2):
        j = [db_eval_iou(ids[t] == k, out[t] == k) for t in range(1, len(ids))]
        static = db_eval_iou(ids[-1] == k, ids[0] == k)  # the frame-0 square left in place
        assert np.mean(j) > 0.5 and j[-1] > static + 0.3, (k, j, static)
    big = propagate(PriorCopier(), frames, ids[0], clip_len=4, out_size=(120, 180))
    assert big.shape == (10, 120, 180) and set(np.unique(big)) == {0, 1, 2}


def test_the_flow_reuses_the_last_frames_gray_image_only_for_that_frame():
    frames, _ = _moving_squares(num=5)
    warper = FlowWarper()
    pairs = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 3)]  # (0, 4): the cached frame 3 is not used
    for a, b in pairs:
        cached = warper.backward_maps(frames[a], frames[b])
        fresh = FlowWarper().backward_maps(frames[a].copy(), frames[b].copy())
        for got, expected in zip(cached, fresh):
            np.testing.assert_array_equal(got, expected)


def test_a_flow_started_ahead_is_the_flow_of_that_pair_and_only_of_it():
    frames, _ = _moving_squares(num=5)
    warper = FlowWarper()
    try:
        for a, b, ahead in [(0, 1, (1, 2)), (1, 2, (2, 3)), (2, 4, None), (4, 3, (3, 3))]:
            # (2, 4) after the flow of (2, 3) was started: that one is dropped, not used
            got = warper.backward_maps(frames[a], frames[b])
            fresh = FlowWarper().backward_maps(frames[a].copy(), frames[b].copy())
            for g, e in zip(got, fresh):
                np.testing.assert_array_equal(g, e)
            assert warper._ahead is None
            if ahead is not None:
                warper.ahead(frames[ahead[0]], frames[ahead[1]])
                warper.ahead(frames[ahead[0]], frames[ahead[1]])  # the same pair: nothing new
    finally:
        warper.close()
    assert warper._pool is None and warper._ahead is None


def test_core_for_flow_leaves_one_core_to_the_flow_and_restores_the_threads():
    from pipeline.runtime import core_for_flow

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with core_for_flow("cpu"):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        with core_for_flow("cpu"):
            assert torch.get_num_threads() == 1  # never 0
        torch.set_num_threads(2)
        with core_for_flow("cpu", objects=3):
            assert torch.get_num_threads() == 2  # several objects: the network keeps both
        with pytest.raises(KeyError), core_for_flow("cpu"):
            raise KeyError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_propagation_with_the_next_frame_ahead_gives_the_same_masks():
    """The flow of the next pair computed on a worker thread while the frame's network runs:
    the same classes at every frame, a mask given at a later frame included."""
    frames, ids = _moving_squares()
    frames = list(frames)
    first = np.where(ids[0] == 2, 0, ids[0])
    given = {0: first, 4: ids[4]}

    def run(ahead):
        prop = Propagator(PriorCopier(), clip_len=4, drop_new_parts=True, motion_check=0.01)
        try:
            return [prop.step(f, given.get(t), upcoming=frames[t + 1] if ahead and t + 1 < len(frames) else None)
                    for t, f in enumerate(frames)]
        finally:
            prop.close()

    alone, ahead = run(False), run(True)
    assert (ahead[-1] == 2).any()
    for t, (a, b) in enumerate(zip(alone, ahead)):
        np.testing.assert_array_equal(a, b, err_msg=f"frame {t}")


def test_a_propagator_streams_frames_and_takes_an_object_at_a_later_frame():
    """One frame at a time, as propagate(); a mask at frame 3 adds object 2 (absent from frame
    0's mask) and moves object 1 back where that mask says (a correction)."""
    frames, ids = _moving_squares()
    prop = Propagator(PriorCopier(), clip_len=4)
    first = np.where(ids[0] == 2, 0, ids[0])
    out = [prop.step(frames[0], first)] + [prop.step(f) for f in frames[1:3]]
    assert np.array_equal(out[0], first) and not any((o == 2).any() for o in out)
    shifted = np.roll(ids[3] == 1, 6, axis=1)  # object 1 given 6 px off its place, to see it taken
    given = np.where(shifted, 1, np.where(ids[3] == 2, 2, 0)).astype(np.uint8)
    out.append(prop.step(frames[3], given))
    assert np.array_equal(out[3], given)
    out += [prop.step(f) for f in frames[4:]]
    j2 = [db_eval_iou(ids[t] == 2, out[t] == 2) for t in range(4, len(ids))]
    assert min(j2) > 0.6, j2
    assert np.array_equal(np.stack(out[:3]), propagate(PriorCopier(), frames[:3], first, clip_len=4))
    with pytest.raises(ValueError, match="first frame needs its mask"):
        Propagator(PriorCopier(), clip_len=4).step(frames[0])


class PriorAndABlob(PriorCopier):
    """Answers its prior plus a square in its crop's corner, away from the object: a false
    positive that a propagated mask would keep from frame to frame."""

    def forward(self, inputs, mode):
        out = super().forward(inputs, mode).clone()
        out[:, 1, ..., :8, :8], out[:, 0, ..., :8, :8] = 1, 0
        return out


def test_drop_new_parts_drops_a_detached_false_positive_and_keeps_the_object():
    frames, ids = _moving_squares()
    first = np.where(ids[0] == 2, 0, ids[0])  # object 1, at rows 12-35
    kept = propagate(PriorAndABlob(), frames, first, clip_len=4, drop_new_parts=False)
    assert all((kept[t, :10] == 1).any() for t in range(1, 10))  # the blob enters and stays
    dropped = propagate(PriorAndABlob(), frames, first, clip_len=4, drop_new_parts=True)
    assert np.array_equal(dropped, propagate(PriorCopier(), frames, first, clip_len=4))
    assert np.array_equal(propagate(PriorCopier(), frames, ids[0], clip_len=4, drop_new_parts=True),
                          propagate(PriorCopier(), frames, ids[0], clip_len=4))  # one part each


def _a_leak_moving_with_the_background(around=(-5.0, 0.0)):
    """A still object (its previous mask rows 40-79, columns 40-79) that grew to the right by
    6 columns, moving with it, and took in a band above it (rows 30-39) that moves as the
    background around it does (``around``: the background's flow)."""
    h, w = 120, 160
    flow = np.zeros((h, w, 2), np.float32)
    flow[...] = around
    flow[40:80, 40:86] = 0  # the object, its new columns included
    prior = np.zeros((1, h, w), bool)
    prior[0, 40:80, 40:80] = True
    ids = np.zeros((h, w), np.uint8)
    ids[40:80, 40:86] = ids[30:40, 50:70] = 1
    return (ids == 1).astype(np.float32)[None], prior, ids, flow


def test_motion_check_drops_new_pixels_that_move_with_the_background():
    fg, prior, ids, flow = _a_leak_moving_with_the_background()
    assert _drop_background_motion(fg, prior, ids, flow, separation=2.0)
    assert not fg[0, 30:40, 50:70].any()  # the band moved as the scene did: dropped
    assert fg[0, 40:80, 40:86].all()  # the object and its growth, moving with it, kept


def test_motion_check_has_no_say_where_the_object_moves_as_its_surroundings():
    fg, prior, ids, flow = _a_leak_moving_with_the_background(around=(-1.5, 0.0))
    assert not _drop_background_motion(fg, prior, ids, flow, separation=2.0)
    assert np.array_equal(fg[0], ids == 1)
    fg, prior, ids, flow = _a_leak_moving_with_the_background()
    assert _drop_background_motion(fg, prior, ids, flow, separation=1.0)


def test_motion_check_leaves_groups_smaller_than_the_flows_noise():
    fg, prior, ids, flow = _a_leak_moving_with_the_background()
    ids[30:40] = 0
    ids[36:40, 50:50 + (MOVED_MIN - 1) // 4] = 1  # under MOVED_MIN pixels
    fg = (ids == 1).astype(np.float32)[None]
    assert not _drop_background_motion(fg, prior, ids, flow, separation=2.0)


def test_motion_check_trims_what_the_warp_smears_onto_the_scene():
    """The prior copied frame to frame grows where the warp smears it onto the background;
    with the check, the squares' masks end closer to the truth, never farther."""
    frames, ids = _moving_squares()
    plain = propagate(PriorCopier(), frames, ids[0], clip_len=4)
    checked = propagate(PriorCopier(), frames, ids[0], clip_len=4, motion_check=0.006)  # 1 px
    for k in (1, 2):
        j = [np.mean([db_eval_iou(ids[t] == k, out[t] == k) for t in range(1, len(ids))])
             for out in (plain, checked)]
        assert j[1] > j[0], (k, j)
    with pytest.raises(ValueError, match="motion_check"):
        Propagator(PriorCopier(), clip_len=4, motion_check=1.5)


def test_drop_new_parts_keeps_an_object_that_is_being_found_again():
    """An empty previous mask gives nothing to compare with: every part is kept."""
    fg = np.zeros((2, 40, 40), np.float32)
    fg[0, 2:8, 2:8] = fg[0, 30:36, 30:36] = 0.9  # object 1: two parts, one near its prior
    fg[1, 2:8, 30:36] = fg[1, 30:36, 2:8] = 0.9  # object 2: two parts, nothing before
    prior = np.zeros((2, 40, 40), bool)
    prior[0, 3:9, 3:9] = True
    assert _drop_new_parts(fg, prior, margin=0.1, ids=aggregate_argmax(fg))
    assert fg[0, 4, 4] == 0.9 and fg[0, 32, 32] == 0  # the far part of object 1 is dropped
    assert fg[1, 4, 32] == 0.9 and fg[1, 32, 4] == 0.9


class RedFinder(PriorCopier):
    """Answers the red pixels of its crop, whatever the prior: an object model that finds its
    object wherever the crop shows it."""

    def forward(self, inputs, mode):
        x = inputs.float()
        red = ((x[:, 0:1] > 200) & (x[:, 1:2] < 50)).float()
        red = red[:, :, -1:] if mode == "predict_last" else red
        return torch.cat([1 - red, red], 1)


def _red_square_leaves_and_comes_back(h=96, w=144):
    """Grey frames; a red square at the top left in frame 0, gone in frames 1-3, back at the
    bottom right (outside frame 0's crop box) from frame 4 on."""
    frames = np.full((10, h, w, 3), 100, np.uint8)
    ids = np.zeros((10, h, w), np.uint8)
    for t, (y, x) in [(0, (8, 8))] + [(t, (70, 118)) for t in range(4, 10)]:
        frames[t, y:y + 16, x:x + 16] = (230, 10, 10)
        ids[t, y:y + 16, x:x + 16] = 1
    return frames, ids


@pytest.mark.parametrize("growth", [1.0, 2.0])
def test_a_lost_object_is_found_again_elsewhere_only_when_its_box_grows(growth):
    frames, ids = _red_square_leaves_and_comes_back()
    prop = Propagator(RedFinder(), clip_len=4, search_growth=growth)
    out = [prop.step(frames[0], ids[0])]
    sides = []
    for f in frames[1:]:
        out.append(prop.step(f))
        sides.append(prop.boxes[0][2])
    assert not any(out[t].any() for t in (1, 2, 3))  # lost while it is away
    found = [db_eval_iou(ids[t] == 1, out[t] == 1) for t in range(4, 10)]
    if growth == 1.0:
        assert not any(found) and len(set(sides[1:])) == 1  # the box stays where it was lost
    else:
        assert min(found) > 0.8, found  # the crop's resampling blurs the edges
        assert sides[1] == 2 * sides[0] and sides[2] == 4 * sides[0]  # grows while lost
        assert prop.boxes[0][2] < 96  # and shrinks around the object once found
    with pytest.raises(ValueError, match="search_growth"):
        Propagator(RedFinder(), clip_len=4, search_growth=0.5)


class RedInPrior(PriorCopier):
    """Answers the red pixels of its crop near its prior (within 8 pixels), nothing where the
    prior is empty: a network that follows its prior and cannot find a lost object itself."""

    def forward(self, inputs, mode):
        x = inputs.float()
        red = ((x[:, 0:1] > 200) & (x[:, 1:2] < 50)).float()
        near = torch.nn.functional.max_pool3d(x[:, 3:4] / 255, (1, 17, 17), stride=1, padding=(0, 8, 8))
        red = red * near
        red = red[:, :, -1:] if mode == "predict_last" else red
        return torch.cat([1 - red, red], 1)


def _red_square_on_foliage_leaves_and_comes_back(side=32, back=32, at=(80, 140), h=128, w=192):
    """Foliage-like frames (no red); a red square of ``side`` at (24, 24) in frame 0, gone in
    frames 1-3, back from frame 4 on ``at`` (far outside frame 0's crop box) with side
    ``back``."""
    rng = np.random.default_rng(2)
    blocks = rng.integers(0, 120, (h // 8, w // 8, 3), np.uint8)
    blocks[..., 0] //= 4
    frames = np.repeat(np.kron(blocks, np.ones((8, 8, 1), np.uint8))[None], 10, 0)
    ids = np.zeros((10, h, w), np.uint8)
    for t, (y, x, n) in [(0, (24, 24, side))] + [(t, (*at, back)) for t in range(4, 10)]:
        frames[t, y:y + n, x:x + n] = (230, 10, 10)
        ids[t, y:y + n, x:x + n] = 1
    return frames, ids


@pytest.mark.parametrize("area", [0.0, 0.3])
def test_a_lost_object_is_found_again_by_its_appearance(area):
    """The red square leaves and comes back elsewhere; the network only follows its prior.
    Without ``refind_area`` it stays lost; with it the frame is searched for what looks like
    the object (nothing does while it is away) and the square is found where it came back."""
    frames, ids = _red_square_on_foliage_leaves_and_comes_back()
    out = propagate(RedInPrior(), frames, ids[0], clip_len=4, refind_area=area)
    assert not out[1:4].any()  # lost while it is away, and nothing else taken for it
    found = [db_eval_iou(ids[t] == 1, out[t] == 1) for t in range(4, 10)]
    if area:
        assert min(found) > 0.9, found
    else:
        assert not any(found)
    with pytest.raises(ValueError, match="refind_area"):
        Propagator(RedInPrior(), clip_len=4, refind_area=-1)


def test_refinding_does_not_take_another_object_that_looks_the_same():
    """A second red square, object 2, enters at frame 1 (its mask given there) while object 1
    is away: it is the frame's largest look-alike of object 1, but held by object 2, so
    object 1 stays lost until it comes back; object 2 is left as it is."""
    frames, ids = _red_square_on_foliage_leaves_and_comes_back()
    frames[1:, 24:56, 100:132] = (230, 10, 10)
    ids[1:, 24:56, 100:132] = 2
    prop = Propagator(RedInPrior(), clip_len=4, refind_area=0.3)
    out = [prop.step(frames[0], ids[0]), prop.step(frames[1], ids[1])]
    out += [prop.step(f) for f in frames[2:]]
    assert not any((out[t] == 1).any() for t in (1, 2, 3))
    assert all(db_eval_iou(ids[t] == 1, out[t] == 1) > 0.9 for t in range(4, 10))
    assert all(db_eval_iou(ids[t] == 2, out[t] == 2) > 0.9 for t in range(1, 10))


def test_refind_area_is_the_least_area_taken_for_the_object():
    """What looks like the square where it comes back (at the features' 8-pixel cells) is
    smaller than the square itself: taken at ``refind_area=0.5``, not at 1.0."""
    frames, ids = _red_square_on_foliage_leaves_and_comes_back()
    assert propagate(RedInPrior(), frames, ids[0], clip_len=4, refind_area=0.5)[4:].any(axis=(1, 2)).all()
    assert not propagate(RedInPrior(), frames, ids[0], clip_len=4, refind_area=1.0)[1:].any()


def _checker_on_foliage(num=8, h=96, w=144, gap=None):
    """Frames of a smooth green-blue background with a red-white checked square (object 1)
    moving right; with ``gap``, a second square of the same object ``gap`` pixels below it."""
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 120, (h // 8, w // 8, 3), np.uint8)
    blocks[..., 0] //= 4  # little red
    background = np.kron(blocks, np.ones((8, 8, 1), np.uint8))
    checker = np.kron(np.indices((6, 6)).sum(0) % 2, np.ones((4, 4), np.uint8)).astype(bool)
    squares = [(12, 24)] if gap is None else [(12, 24), (36 + gap, 24)]
    frames, ids = [], []
    for t in range(num):
        f, m = background.copy(), np.zeros((h, w), np.uint8)
        for y, x in squares:
            patch = np.where(checker[..., None], np.uint8([250, 250, 250]), np.uint8([220, 20, 20]))
            f[y:y + 24, x + 3 * t:x + 3 * t + 24] = patch
            m[y:y + 24, x + 3 * t:x + 3 * t + 24] = 1
        frames.append(f)
        ids.append(m)
    return np.stack(frames), np.stack(ids)


def test_appearance_vote_drops_a_part_that_looks_like_the_background(monkeypatch):
    """The blob (in its crop's corner, on the background) is a separate part whose pixels
    look like frame 0's background, not its object: dropped, the object kept as it is. (The
    blob is 20-63 pixels of these small frames, under the 64 that the check judges by
    default: that rule is lifted here, and tested on its own below.)"""
    monkeypatch.setattr(Propagator, "SMALLEST_JUDGED", 0)
    frames, ids = _checker_on_foliage()
    kept = propagate(PriorAndABlob(), frames, ids[0], clip_len=4)
    assert all((kept[t, :8] == 1).any() for t in range(1, 8))  # the blob enters and stays
    checked = propagate(PriorAndABlob(), frames, ids[0], clip_len=4, appearance_vote=0.1)
    assert np.array_equal(checked, propagate(PriorCopier(), frames, ids[0], clip_len=4))


def test_appearance_vote_keeps_an_object_in_two_parts_that_both_look_like_it():
    frames, ids = _checker_on_foliage(gap=12)
    plain = propagate(PriorCopier(), frames, ids[0], clip_len=4)
    assert cv2.connectedComponents((plain[-1] == 1).astype(np.uint8))[0] == 3  # two parts
    assert np.array_equal(propagate(PriorCopier(), frames, ids[0], clip_len=4, appearance_vote=0.3),
                          plain)
    check = AppearanceCheck()
    check.remember(frames[0], ids[0], [1])
    _, parts = cv2.connectedComponents((plain[-1] == 1).astype(np.uint8))
    assert min(check.votes(check.features(frames[-1]), 1, parts, [1, 2]).values()) > 0.3
    with pytest.raises(ValueError, match="appearance_vote"):
        Propagator(PriorCopier(), clip_len=4, appearance_vote=1.5)


def test_a_parts_vote_is_the_same_whichever_other_parts_are_matched_with_it():
    """Each part's vote reads only its own feature cells and their neighbours, so matching a
    mask's parts one by one gives the votes of matching them together, even for parts one
    cell apart (what lets the appearance check match the object's main part only when its
    say is needed)."""
    frames, ids = _checker_on_foliage(gap=12)
    mask = ids[-1].copy()
    mask[2:10, 100:110] = 1  # a part on the background
    mask[30:34, 70:74] = 1  # and one a cell from the checked squares
    count, parts = cv2.connectedComponents(mask)
    assert count == 5
    check = AppearanceCheck()
    check.remember(frames[0], ids[0], [1])
    feats = check.features(frames[-1])
    together = check.votes(feats, 1, parts, range(1, count))
    assert {p: check.votes(feats, 1, parts, [p])[p] for p in range(1, count)} == together
    assert min(together.values()) < 0.1 < max(together.values())  # votes that differ


def test_nearest_in_chunks_is_the_largest_dot_product():
    q, refs = torch.randint(-9, 9, (7, 5)).float(), torch.randint(-9, 9, (10, 5)).float()  # exact sums
    assert torch.equal(_nearest(q, refs, chunk=3), (q @ refs.T).amax(1))


class _Looks(AppearanceCheck):
    """An appearance check that answers ``like`` (pixels of the frame) whatever it sees."""

    def __init__(self, like):
        super().__init__()
        self.like = like

    def features(self, frame):
        return frame

    def looks_like(self, feats, k, mask):
        return self.like[:feats.shape[0], :feats.shape[1]]  # boxes here start at (0, 0)


def _three_parts(continuation_like: float):
    """Object 1 in three parts, (4:20, 4:20) on its prior, (4:12, 30:38) that looks like it
    and (30:38, 4:12) that does not; ``continuation_like``: the share of the first's rows that
    look like it. A propagator at ``appearance_vote=0.7`` with that check: (it, fg, prior, ids)."""
    fg = np.zeros((1, 64, 64), np.float32)
    fg[0, 4:20, 4:20] = fg[0, 4:12, 30:38] = fg[0, 30:38, 4:12] = 0.9
    prior = np.zeros((1, 64, 64), bool)
    prior[0, 2:18, 2:18] = True
    like = np.zeros((64, 64), np.float32)
    like[4:12, 30:38] = 1
    like[4:4 + round(16 * continuation_like), 4:20] = 1
    check = Propagator(PriorCopier(), clip_len=4, appearance_vote=0.7)
    check.appearance = _Looks(like)
    return check, fg, prior, aggregate_argmax(fg)


def test_appearance_vote_never_drops_the_part_that_continues_the_object():
    """The continuation votes 0.625, under ``appearance_vote``, and is kept all the same; the
    part that looks like the object is kept, the one that does not is dropped."""
    check, fg, prior, ids = _three_parts(0.625)
    assert check._drop_unlike_parts(np.zeros((64, 64, 3), np.uint8), fg, prior, ids)
    assert (fg[0, 4:20, 4:20] == 0.9).all() and (fg[0, 4:12, 30:38] == 0.9).all()
    assert (fg[0, 30:38, 4:12] == 0).all()


def test_the_continuation_is_the_part_that_holds_the_prior_and_looks_like_the_object():
    """A fence the horse jumped: the first part holds most of the prior but votes 0, the
    second looks like the object and holds some of it. The second continues the object, and
    the first is dropped with the third."""
    check, fg, prior, ids = _three_parts(0.0)
    prior[0, 6:10, 32:36] = True
    assert check._drop_unlike_parts(np.zeros((64, 64, 3), np.uint8), fg, prior, ids)
    assert (fg[0, 4:12, 30:38] == 0.9).all()
    assert (fg[0, 4:20, 4:20] == 0).all() and (fg[0, 30:38, 4:12] == 0).all()


def test_the_main_part_is_matched_only_when_its_vote_can_change_what_is_dropped():
    """Two parts that look like the object, one off the prior: only that one is matched. Once
    it overlaps the prior (it could continue the object), the main part is matched too."""
    check, fg, prior, _ = _three_parts(1.0)
    fg[0, 30:38, 4:12] = 0  # no part looks unlike the object
    asked, votes = [], check.appearance.votes
    check.appearance.votes = lambda feats, k, parts, labels: asked.append(len(labels)) or votes(
        feats, k, parts, labels)
    frame = np.zeros((64, 64, 3), np.uint8)
    assert not check._drop_unlike_parts(frame, fg, prior, aggregate_argmax(fg))
    assert asked == [1]
    prior[0, 6:10, 32:36] = True
    asked.clear()
    assert not check._drop_unlike_parts(frame, fg, prior, aggregate_argmax(fg))
    assert asked == [1, 1]


def test_appearance_vote_leaves_parts_smaller_than_a_feature_cell_alone():
    """A 5x5 speck that does not look like the object is neither judged nor dropped: with only
    it beside the continuation no features are computed; beside the part that looks unlike
    the object (8x8, one feature cell) that part alone is dropped."""
    check, fg, prior, _ = _three_parts(1.0)
    fg[0, 4:12, 30:38] = fg[0, 30:38, 4:12] = 0
    fg[0, 50:55, 50:55] = 0.9
    computed, features = [], check.appearance.features
    check.appearance.features = lambda frame: computed.append(frame.shape) or features(frame)
    frame = np.zeros((64, 64, 3), np.uint8)
    assert not check._drop_unlike_parts(frame, fg, prior, aggregate_argmax(fg))
    assert computed == [] and (fg[0, 50:55, 50:55] == 0.9).all()
    fg[0, 30:38, 4:12] = 0.9
    assert check._drop_unlike_parts(frame, fg, prior, aggregate_argmax(fg))
    assert len(computed) == 1 and (fg[0, 30:38, 4:12] == 0).all()
    assert (fg[0, 50:55, 50:55] == 0.9).all() and (fg[0, 4:20, 4:20] == 0.9).all()


def test_appearance_vote_has_no_say_where_the_object_does_not_look_like_itself():
    """The continuation votes 0.25 (a car in smoke): no part is dropped."""
    check, fg, prior, ids = _three_parts(0.25)
    before = fg.copy()
    assert not check._drop_unlike_parts(np.zeros((64, 64, 3), np.uint8), fg, prior, ids)
    assert np.array_equal(fg, before)


def test_appearance_memory_learns_a_later_view_and_keeps_the_given_one_apart():
    """The square turns blue: unlike frame 0's red one, until a view of it is added; the
    given view alone still says no; only the newest ``keep`` views are kept."""
    frames, ids = _red_square_on_foliage_leaves_and_comes_back()
    blue = frames[5].copy()
    blue[ids[5] == 1] = (20, 20, 230)
    check = AppearanceCheck(keep=2)
    check.remember(frames[0], ids[0], [1])
    feats, square = check.features(blue), ids[5] == 1
    assert check.looks_like(feats, 1, square)[square].mean() < 0.5
    check.add(feats, 1, square)
    assert check.looks_like(feats, 1, square)[square].mean() > 0.75  # edges blur at 8-pixel cells
    assert check.looks_like(feats, 1, square, memory=False)[square].mean() < 0.5
    for _ in range(3):
        check.add(feats, 1, square)
    assert len(check.memory[1]) == 2
    assert len(check._all[1][0]) == len(check.refs[1][0]) + 2 * int(check._split(feats, square)[0].shape[0])


def test_appearance_update_adds_only_views_that_look_like_the_object():
    """The square leaves: the mask copied onto the foliage is not learned; where the square
    is back, its view is."""
    frames, ids = _red_square_on_foliage_leaves_and_comes_back(side=48, back=48, at=(56, 112))
    prop = Propagator(PriorCopier(), clip_len=4, appearance_vote=0.1, appearance_update=1)
    prop.step(frames[0], ids[0])
    assert prop.step(frames[1]).any()  # the copied mask, on foliage now
    assert prop.appearance.memory[1] == []
    prop._update_appearance(frames[4], ids[4])
    assert len(prop.appearance.memory[1]) == 1
    with pytest.raises(ValueError, match="appearance_update"):
        Propagator(PriorCopier(), clip_len=4, appearance_vote=0.1, appearance_update=-1)


class FrameRecorder(PriorCopier):
    """Answers its prior and records the value at the centre of each frame of its clips (in a
    class attribute: propagation predicts with a copy of the model)."""

    seen: list

    def forward(self, inputs, mode):
        s = inputs.shape[-1] // 2
        self.seen.append(inputs[0, 0, :, s, s].tolist())
        return super().forward(inputs, mode)


@pytest.mark.parametrize("tau", [1, 2])
def test_propagation_clips_are_tau_apart_as_in_fine_tuning(tau):
    """Frame t holds the value 10 t: the clip of frame t must hold frames t - 3 tau ... t."""
    frames = np.repeat(np.arange(0, 130, 10, dtype=np.uint8), 24 * 24 * 3).reshape(13, 24, 24, 3)
    labels0 = np.zeros((24, 24), np.uint8)
    labels0[8:16, 8:16] = 1
    model = type("Recorder", (FrameRecorder,), {"seen": []})()
    propagate(model, frames, labels0, clip_len=4, tau=tau)
    spec = ClipSpec(clip_len=4, tau=tau)
    expected = [(spec.indices(t, 13) * 10).tolist() for t in range(1, 13)]
    assert model.seen == expected, (model.seen, expected)
    assert model.seen[-1] == [120 - 30 * tau, 120 - 20 * tau, 120 - 10 * tau, 120]


class CropRecorder(PriorCopier):
    """Answers its prior and records the share of each crop that the prior covers (in a
    class attribute: propagation predicts with a copy of the model)."""

    shares: list

    def forward(self, inputs, mode):
        self.shares.append(float((inputs[:, 3, -1] > 0).float().mean()))
        return super().forward(inputs, mode)


def _crop_recorder() -> CropRecorder:
    return type("Recorder", (CropRecorder,), {"shares": []})()


def test_context_scale_crops_tighter_around_each_object():
    frames, ids = _moving_squares(num=6)
    loose, tight = _crop_recorder(), _crop_recorder()
    out_loose = propagate(loose, frames, ids[0], clip_len=4)
    out_tight = propagate(tight, frames, ids[0], clip_len=4, context_scale=0.8)
    # the object covers (1 / context)^2 of a square box's crop: (2.0 / 1.6)^2 times more
    assert np.mean(tight.shares) / np.mean(loose.shares) == pytest.approx((2.0 / 1.6) ** 2, rel=0.05)
    for k in (1, 2):  # the same objects followed either way
        assert db_eval_iou(out_loose[-1] == k, out_tight[-1] == k) > 0.8


class PriorShifter(PriorCopier):
    """Answers its prior moved 3 crop pixels to the right: a bias that mirroring reverses."""

    def forward(self, inputs, mode):
        return torch.roll(super().forward(inputs, mode), 3, dims=-1)


def test_flip_averaging_cancels_a_left_right_bias():
    frames, ids = _moving_squares(num=8)
    frames, ids = np.repeat(frames[:1], 8, 0), np.repeat(ids[:1], 8, 0)  # nothing moves
    centre = lambda m: np.nonzero(m)[1].mean()
    plain = propagate(PriorShifter(), frames, ids[0], clip_len=4)
    mirrored = propagate(PriorShifter(), frames, ids[0], clip_len=4, flip=True)
    for k in (1, 2):
        drift = [centre(plain[t] == k) - centre(ids[0] == k) for t in range(8)]
        assert drift[-1] > 5 and all(np.diff(drift) >= 0), drift  # drifts right, frame by frame
        for t in (1, 2, 3):  # the mirrored prediction, mirrored back, cancels the bias
            assert abs(centre(mirrored[t] == k) - centre(ids[0] == k)) < 0.5, (k, t)


class Hesitant(PriorShifter):
    """PriorShifter, unsure everywhere: it answers 0.25 and 0.75 for 0 and 1."""

    def forward(self, inputs, mode):
        return 0.25 + 0.5 * super().forward(inputs, mode)


def test_only_uncertain_clips_are_mirrored():
    frames, ids = _moving_squares(num=8)
    frames, ids = np.repeat(frames[:1], 8, 0), np.repeat(ids[:1], 8, 0)
    sure, unsure = {}, {}
    plain = propagate(PriorShifter(), frames, ids[0], clip_len=4)
    assert np.array_equal(plain, propagate(PriorShifter(), frames, ids[0], clip_len=4, flip=True,
                                           flip_uncertain=0.1, counts=sure))
    assert sure == {"clips": 14, "mirrored": 0}  # 7 frames, 2 objects, all certain
    every = propagate(Hesitant(), frames, ids[0], clip_len=4, flip=True)
    assert not np.array_equal(every, plain)  # mirroring cancels the bias
    assert np.array_equal(every, propagate(Hesitant(), frames, ids[0], clip_len=4, flip=True,
                                           flip_uncertain=0.1, counts=unsure))
    assert unsure == {"clips": 14, "mirrored": 14}
    with pytest.raises(ValueError, match="flip_uncertain"):
        propagate(Hesitant(), frames, ids[0], clip_len=4, flip=True, flip_uncertain=1.5)


def test_bf16_prediction_stays_close_to_float32(tiny_model_cfg):
    torch.manual_seed(0)
    model = fused_for_inference(build_segmenter(tiny_model_cfg))
    x = torch.rand(3, 4, 4, 32, 32)
    x = torch.cat([x, x.flip(-1)])  # the clips and their mirror images
    with torch.inference_mode():
        (exact, _), (fast, _) = _predict_last(model, x, True), _predict_last(model, x, True, bf16=True)
    assert exact.dtype == torch.float32 and not torch.equal(exact, fast.float())  # autocast ran
    torch.testing.assert_close(fast.float(), exact, atol=0.03, rtol=0)


def test_finetune_fits_frame0_and_propagates(tiny_cache, tiny_model_cfg):
    torch.manual_seed(0)
    model = build_segmenter(tiny_model_cfg)
    name = sequence_table(tiny_cache, "val")[0]["name"]
    frames, masks = load_arrays(tiny_cache, name)
    ids = sorted(int(i) for i in np.unique(masks[0]) if i not in (0, VOID))
    cfg = FinetuneConfig(steps=40, lr=5e-3, batch_size=2, clip_len=4,
                         augment=ClipAugment(flip=0, colour=0))
    labels0 = frame0_labels(masks[0], ids)
    losses = finetune(model, frames, labels0, cfg)
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    out = classes_to_ids(propagate(model, frames, labels0, 4), ids)
    assert out.shape == masks.shape and np.array_equal(out[0], np.where(masks[0] == 255, 0, masks[0]))
    assert db_eval_iou(masks[1] > 0, out[1] > 0) > 0.5


@pytest.mark.parametrize("frozen", [1, 2, "all"])
def test_finetune_with_frozen_scales_keeps_exactly_those_weights(tiny_cache, tiny_model_cfg, frozen):
    torch.manual_seed(0)
    model = build_segmenter(tiny_model_cfg)
    backbone = model.backbone
    frozen = backbone.num_scales if frozen == "all" else frozen
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frames, masks = load_arrays(tiny_cache, sequence_table(tiny_cache, "val")[0]["name"])
    cfg = FinetuneConfig(steps=5, lr=5e-3, batch_size=2, clip_len=4, frozen_scales=frozen,
                         augment=ClipAugment(flip=0, colour=0))
    finetune(model, frames, frame0_labels(masks[0], [1]), cfg)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    names = {id(p): n for n, p in model.named_parameters()}
    kept = {names[id(p)] for s in range(frozen) for m in backbone.scale_modules(s) for p in m.parameters()}
    trained = {n for n, p in model.named_parameters() if n not in kept and p.ndim > 1}  # BN stays
    assert kept and not kept & changed
    assert trained <= changed, sorted(trained - changed)[:5]
    if frozen == backbone.num_scales:
        assert all(k.startswith("decoder.") for k in changed), sorted(changed)[:5]
    assert all(p.is_contiguous() for p in model.parameters())  # the default layout again


def test_a_second_finetune_trains_what_the_first_one_froze(tiny_cache, tiny_model_cfg):
    torch.manual_seed(0)
    model = build_segmenter(tiny_model_cfg)
    frames, masks = load_arrays(tiny_cache, sequence_table(tiny_cache, "val")[0]["name"])
    cfg = FinetuneConfig(steps=2, lr=5e-3, batch_size=2, clip_len=4, augment=ClipAugment(flip=0, colour=0))
    finetune(model, frames, frame0_labels(masks[0], [1]), replace(cfg, frozen_scales=model.backbone.num_scales))
    stem = [p for p in model.backbone.scale_modules(0)[0].parameters() if p.ndim > 1]  # not BN
    before = [p.clone() for p in stem]
    finetune(model, frames, frame0_labels(masks[0], [1]), replace(cfg, frozen_scales=0))
    assert stem and all(p.requires_grad for p in stem)
    assert any(not torch.equal(p, q) for p, q in zip(stem, before))


def test_finetune_refuses_more_frozen_scales_than_the_backbone_has(tiny_cache, tiny_model_cfg):
    model = build_segmenter(tiny_model_cfg)
    frames, masks = load_arrays(tiny_cache, sequence_table(tiny_cache, "val")[0]["name"])
    cfg = FinetuneConfig(steps=1, clip_len=4, frozen_scales=model.backbone.num_scales + 1)
    with pytest.raises(ValueError, match="frozen_scales must be in"):
        finetune(model, frames, frame0_labels(masks[0], [1]), cfg)


def test_blend_predicts_with_the_weights_between_parent_and_fine_tuned(tiny_cache, tiny_model_cfg):
    """WiSE-FT: ``blend`` moves the trained weights to parent + blend x (fine-tuned - parent),
    the same weights as :func:`blend_weights` gives after fine-tuning without it."""
    from pipeline.engine.osvos import blend_weights

    frames, masks = load_arrays(tiny_cache, sequence_table(tiny_cache, "val")[0]["name"])
    labels0 = frame0_labels(masks[0], [1])
    cfg = FinetuneConfig(steps=3, lr=5e-3, batch_size=2, clip_len=4, augment=ClipAugment(flip=0, colour=0))
    torch.manual_seed(0)
    parent = build_segmenter(tiny_model_cfg)
    models = {}
    for share in (1.0, 0.5, 0.0):
        models[share] = copy.deepcopy(parent)
        finetune(models[share], frames, labels0, replace(cfg, blend=share))
    tuned, half, none = models[1.0].state_dict(), models[0.5].state_dict(), models[0.0].state_dict()
    for k, v in parent.state_dict().items():
        torch.testing.assert_close(none[k], v)
        torch.testing.assert_close(half[k], v + 0.5 * (tuned[k] - v) if v.is_floating_point() else v)
    assert any(not torch.equal(tuned[k], v) for k, v in parent.state_dict().items())
    after = blend_weights(copy.deepcopy(models[1.0]), parent, 0.5).state_dict()
    for k, v in half.items():
        torch.testing.assert_close(after[k], v)
    with pytest.raises(ValueError, match="blend=1.5"):
        finetune(copy.deepcopy(parent), frames, labels0, replace(cfg, blend=1.5))


def _frame0_scene(seed=0):
    """A textured 96x160 frame with a red square (object 1) and void pixels on its edge."""
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 120, (96, 160, 3), np.uint8)
    frame[30:60, 60:100] = (220, 30, 30)
    labels0 = np.zeros((96, 160), np.uint8)
    labels0[30:60, 60:100] = 1
    labels0[30, 60:100] = VOID
    return frame, labels0


def test_a_deformed_clip_moves_frame0s_object_and_labels_its_last_frame_only():
    from pipeline.engine.osvos import _deformed_one_shot_clip

    frame, labels0 = _frame0_scene()
    spec = ClipSpec(clip_len=6, tau=1, crop_size=48, context=2.0)
    clip = _deformed_one_shot_clip(frame, labels0, 1, spec, 2.0, np.random.default_rng(3))
    frames, masks, priors = clip["frames"], clip["masks"], clip["priors"]
    assert frames.shape == (6, 48, 48, 3) and masks.shape == priors.shape == (6, 48, 48)
    assert (masks[:-1] == VOID).all()  # only the last frame is a target
    last = masks[-1] == 1
    assert 0.05 < last.mean() < 0.6
    # the label is on the red object, whatever it was moved to
    red = (frames[-1, ..., 0] > 150) & (frames[-1, ..., 1] < 80)
    assert (red & last).sum() / last.sum() > 0.9 and (red & last).sum() / red.sum() > 0.8
    # the frames move: not frame 0 repeated
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 5


def test_a_pasted_clip_moves_the_object_alone_over_frame0_painted_out():
    from pipeline.engine.osvos import _deformed_one_shot_clip, _scene_without

    frame, labels0 = _frame0_scene()
    scene = _scene_without(frame, labels0, 1)
    red_at = lambda f: (f[..., 0] > 150) & (f[..., 1] < 80)  # noqa: E731
    assert red_at(frame).sum() == 30 * 40 and not red_at(scene[0]).any()  # the object painted out
    assert np.array_equal(scene[0][:20], frame[:20])  # and nothing far from it changed
    assert (scene[1] == 0).all()  # its place, edge void included, is background
    spec = ClipSpec(clip_len=6, tau=1, crop_size=48, context=2.0)
    moved = 0
    for seed in range(8):
        clip = _deformed_one_shot_clip(frame, labels0, 1, spec, 2.0, np.random.default_rng(seed), scene)
        frames, masks = clip["frames"], clip["masks"]
        assert (masks[:-1] == VOID).all()
        last, red = masks[-1] == 1, red_at(frames[-1])
        # the label is on the red object and the object is all the red there is: the place
        # it left shows the painted-out scene, labelled background
        assert (red & last).sum() / last.sum() > 0.9 and (red & last).sum() / red.sum() > 0.9
        moved += np.abs(frames[0].astype(int) - frames[-1]).mean() > 5
    assert moved >= 6


def test_deform_prob_zero_draws_nothing_and_one_deforms_every_clip():
    from pipeline.engine.osvos import _one_shot_clip, _training_clip

    frames = np.stack([_frame0_scene(s)[0] for s in range(4)])
    labels0 = _frame0_scene()[1]
    spec = ClipSpec(clip_len=4, tau=1, crop_size=32, context=2.0)
    plain = _one_shot_clip(frames, labels0, 1, spec, FinetuneConfig().static_prob, 2.0, np.random.default_rng(5))
    off = _training_clip(frames, labels0, 1, spec, FinetuneConfig(deform_prob=0.0), np.random.default_rng(5))
    assert all(np.array_equal(plain[k], off[k]) for k in plain)  # runs without it are unchanged
    on = _training_clip(frames, labels0, 1, spec, FinetuneConfig(deform_prob=1.0), np.random.default_rng(5))
    assert not np.array_equal(on["frames"], plain["frames"])
    assert (on["masks"][:-1] == VOID).all() and (on["masks"][-1] == 1).any()



def test_static_prob_zero_makes_every_clip_of_frame0s_real_neighbours():
    """The default (README, "Fine-tuning clips of real neighbours"): each clip ends at frame 0
    and shows its neighbours in reverse time; at 1 every clip is frame 0 repeated."""
    from pipeline.engine.osvos import _one_shot_clip

    frames = np.stack([_frame0_scene(s)[0] for s in range(6)])  # every frame's texture differs
    labels0 = _frame0_scene()[1]
    spec = ClipSpec(clip_len=4, tau=1, crop_size=32, context=2.0)
    assert FinetuneConfig().static_prob == 0.0
    for seed in range(6):
        moving = _one_shot_clip(frames, labels0, 1, spec, 0.0, 2.0, np.random.default_rng(seed))["frames"]
        still = _one_shot_clip(frames, labels0, 1, spec, 1.0, 2.0, np.random.default_rng(seed))["frames"]
        assert np.array_equal(moving[-1], still[-1])  # both end at frame 0, cropped alike
        assert all(np.array_equal(f, still[-1]) for f in still)
        assert all(not np.array_equal(f, moving[-1]) for f in moving[:-1])


class PriorAndALeak(PriorCopier):
    """Answers its prior plus a band of the background below it, attached to it: a leak
    into the scene that a propagated mask would keep and grow from frame to frame."""

    def forward(self, inputs, mode):
        out = super().forward(inputs, mode).clone()
        out[:, 1, ..., 36:46, 12:36], out[:, 0, ..., 36:46, 12:36] = 1, 0
        return out


def test_growth_vote_drops_growth_that_looks_like_the_scene():
    """The checked square's crop centres it (rows 12-35 of the 48-pixel crop), so the leak's
    band touches it from below: not a separate part (the appearance vote of parts cannot
    drop it), and moving with the object (the motion check cannot). It looks like the
    foliage, not the square: dropped, the object kept as it is. (Its vote is 0.32 where it
    first grows: its pixels next to the square take the square's 8-pixel feature cells in
    part; later growth votes 0.)"""
    frames, ids = _checker_on_foliage()
    kept = propagate(PriorAndALeak(), frames, ids[0], clip_len=4, appearance_vote=0.1)
    assert all((kept[t] == 1).sum() > (ids[t] == 1).sum() * 1.2 for t in range(1, 8))  # it stays
    checked = propagate(PriorAndALeak(), frames, ids[0], clip_len=4, appearance_vote=0.1,
                        growth_vote=0.5)
    assert np.array_equal(checked, propagate(PriorCopier(), frames, ids[0], clip_len=4))
    with pytest.raises(ValueError, match="growth_vote"):
        Propagator(PriorCopier(), clip_len=4, growth_vote=-0.1)


def test_growth_vote_keeps_growth_that_looks_like_the_object():
    """Half of the square is new (outside its prior, as when the flow lags a fast object):
    those pixels look like the square, and are kept."""
    frames, ids = _checker_on_foliage()
    prop = Propagator(PriorCopier(), clip_len=4, appearance_vote=0.1, growth_vote=0.5)
    prop.step(frames[0], ids[0])
    mask = ids[3] == 1
    prior = mask.copy()
    prior[:, mask.any(0).nonzero()[0][12]:] = False  # the right half is new
    fg = mask[None].astype(np.float32)
    assert not prop._drop_unlike_growth(frames[3], fg, prior[None], ids[3])
    assert np.array_equal(fg[0], mask)
    leak = mask.copy()
    leak[36:48, 26:43] = True  # ... and a band of the foliage below its old half
    fg = leak[None].astype(np.float32)
    assert prop._drop_unlike_growth(frames[3], fg, prior[None], leak.view(np.uint8))
    assert np.array_equal(fg[0] > 0, mask)
