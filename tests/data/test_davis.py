"""Reading the DAVIS layout of both years into one representation."""
import shutil

import numpy as np
from PIL import Image

from pipeline.data.davis import detect_year, find_davis_root, list_sequences, read_mask
from tests.support import make_root, square_mask


def test_2016_pairs_and_binary_masks_become_split_sequences_with_id_1(root2016):
    seqs = list_sequences(root2016)
    assert [(s.name, s.split, s.year, len(s.frames)) for s in seqs] == [
        ("dog-agility", "train", 2016, 5), ("blackswan", "val", 2016, 4)]
    assert np.array_equal(read_mask(seqs[0].masks[2], 2016), square_mask(2))


def test_attributes_come_from_the_embedded_davis_table(root2016):
    attrs = {s.name: s.attributes for s in list_sequences(root2016)}
    assert "FM" in attrs["dog-agility"] and attrs["blackswan"] == ()


def test_2017_names_and_palette_ids_are_kept(root2017):
    seq = list_sequences(root2017, ("val",))[0]
    mask = read_mask(seq.masks[1], 2017)
    assert seq.year == 2017 and set(np.unique(mask)) == {0, 1, 2}
    assert np.array_equal(mask == 2, square_mask(1, 2) == 2)


def test_rgba_2016_mask_is_read_as_grayscale(root2016):
    path = root2016 / "Annotations" / "480p" / "blackswan" / "00001.png"
    gray = np.asarray(Image.open(path))
    Image.fromarray(np.dstack([gray, gray, gray, np.full_like(gray, 255)]), "RGBA").save(path)
    assert Image.open(path).mode == "RGBA"
    assert np.array_equal(read_mask(path, 2016), square_mask(1))


def test_root_without_imagesets_reads_year_from_masks_and_puts_all_in_val(tmp_path):
    root = make_root(tmp_path / "a", 2017, objects=2)
    shutil.rmtree(root / "ImageSets")
    assert detect_year(root) == 2017
    assert [(s.name, s.split) for s in list_sequences(root)] == [
        ("blackswan", "val"), ("dog-agility", "val")]
    root16 = make_root(tmp_path / "b", 2016)
    shutil.rmtree(root16 / "ImageSets")
    assert detect_year(root16) == 2016


def test_find_root_accepts_the_root_or_a_folder_holding_it(root2016):
    assert find_davis_root(root2016) == root2016
    assert find_davis_root(root2016.parent) == root2016


def test_real_2017_fragment_is_detected_with_ids_1_2_and_void(fragment_2017):
    (seq,) = list_sequences(fragment_2017)
    assert (seq.name, seq.split, seq.year, len(seq.frames)) == ("tennis", "val", 2017, 2)
    assert set(np.unique(read_mask(seq.masks[0], 2017))) == {0, 1, 2, 255}
