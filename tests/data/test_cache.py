"""Decoding into the Parquet index + npz arrays, on tiny roots and on the real data."""
import shutil

import numpy as np
import pytest

from pipeline.data.cache import decode, load_arrays, motion_speed, read_index, sequence_table
from pipeline.data.davis import VOID
from tests.support import H, STEP, W, square_mask


def test_index_has_a_row_per_frame_with_everything_the_issue_lists(root2016, tmp_path):
    cache = decode(root2016, tmp_path / "cache", (16, 24))
    rows = read_index(cache).to_pylist()
    assert len(rows) == 5 + 4
    assert rows[0] == {
        "sequence": "dog-agility", "frame": 0, "split": "train", "year": 2016, "height": H,
        "width": W, "object_ids": [1], "attributes": rows[0]["attributes"],
        "speed": pytest.approx(STEP / np.hypot(H, W)), "held_out": False,
    }
    assert "FM" in rows[0]["attributes"]
    assert [s["num_frames"] for s in sequence_table(cache, "val")] == [4]


def test_npz_holds_working_resolution_uint8_frames_and_masks(root2017, tmp_path):
    cache = decode(root2017, tmp_path / "cache", (16, 24))
    frames, masks = load_arrays(cache, "blackswan")
    assert frames.shape == (4, 16, 24, 3) and masks.shape == (4, 16, 24)
    assert frames.dtype == masks.dtype == np.uint8
    # nearest-neighbour halving of the 2-object id map: ids survive, nothing blends
    assert np.array_equal(masks[2], np.maximum(square_mask(2, 1), square_mask(2, 2))[::2, ::2])
    red = frames[2, ..., 0]
    assert red[masks[2] == 1].mean() > 150 > 60 > red[masks[2] == 0].mean()


def test_motion_speed_is_mean_centroid_step_over_the_diagonal():
    masks = np.zeros((3, 30, 40), np.uint8)
    masks[0, 0:2, 0:2] = masks[1, 3:5, 4:6] = masks[2, 6:8, 8:10] = 1  # 5 px per step
    masks[:, 20:22, 30:32] = 2  # still
    masks[1, 10, 10] = VOID  # ignored
    assert motion_speed(masks) == pytest.approx((5 + 5 + 0 + 0) / 4 / 50)


def test_unannotated_frames_become_void(root2016, tmp_path):
    for t in (2, 3, 4):  # of the train sequence (a val sequence needs 3 annotated frames)
        (root2016 / f"Annotations/480p/dog-agility/{t:05d}.png").unlink()
    cache = decode(root2016, tmp_path / "cache", (H, W))
    _, masks = load_arrays(cache, "dog-agility")
    assert np.all(masks[2:] == VOID) and np.array_equal(masks[1], square_mask(1))
    rows = [r for r in read_index(cache).to_pylist() if r["sequence"] == "dog-agility"]
    assert [r["object_ids"] for r in rows] == [[1], [1], [], [], []]


def test_real_2017_fragment_decodes_with_ids_1_2_and_void(fragment_2017, tmp_path):
    root = shutil.copytree(fragment_2017, tmp_path / "DAVIS")
    (root / "ImageSets" / "2017").mkdir(parents=True)  # tennis to train: 2 frames are too few
    (root / "ImageSets" / "2017" / "train.txt").write_text("tennis\n")  # for a val sequence
    (root / "ImageSets" / "2017" / "val.txt").write_text("")
    cache = decode(root, tmp_path / "cache", (120, 214))
    rows = read_index(cache).to_pylist()
    assert [(r["sequence"], r["frame"], r["split"], r["year"], r["object_ids"]) for r in rows] == [
        ("tennis", 0, "train", 2017, [1, 2]), ("tennis", 1, "train", 2017, [1, 2])]
    assert (rows[0]["height"], rows[0]["width"]) == (480, 854)
    _, masks = load_arrays(cache, "tennis")
    assert set(np.unique(masks)) <= {0, 1, 2, VOID} and {1, 2} <= set(np.unique(masks))


def test_real_2016_sample_decodes_every_sequence(sample_cache):
    table = {s["name"]: s for s in sequence_table(sample_cache)}
    assert {n: (s["split"], s["num_frames"]) for n, s in table.items()} == {
        "dog-agility": ("train", 25), "rollerblade": ("train", 35), "boat": ("train", 75),
        "surf": ("train", 55), "blackswan": ("val", 50), "car-shadow": ("val", 40),
        "drift-chicane": ("val", 52)}
    assert {(s["year"], s["height"], s["width"]) for s in table.values()} == {(2016, 480, 854)}
    assert "FM" in table["drift-chicane"]["attributes"]
    # blackswan glides, dog-agility runs: the measured speed orders them so
    assert table["dog-agility"]["speed"] > 5 * table["blackswan"]["speed"] > 0
    frames, masks = load_arrays(sample_cache, "boat")
    assert frames.shape == (75, 48, 80, 3) and set(np.unique(masks)) == {0, 1}
