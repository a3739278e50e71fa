"""Every kind of bad input: a one-line DavisError naming the file, and nothing half-written."""
import numpy as np
import pytest
from PIL import Image

from pipeline.data.cache import decode
from pipeline.data.davis import DavisError, write_palette_png
from stages import decode as decode_stage


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt(path):
    path.write_bytes(b"\xff\xd8 not a jpeg at all" * 20)


def _resize(path):
    Image.open(path).resize((20, 10)).save(path)


def _to_grayscale(path):
    Image.open(path).convert("L").save(path)


def _empty_mask(path):
    Image.new("L", Image.open(path).size, 0).save(path)


def _one_frame(folder):
    """Leave only frame 0 of the sequence (its JPEGs and its masks)."""
    frames = folder.parents[2] / "JPEGImages" / "480p" / folder.name
    for path in [*folder.glob("0000[1-9].png"), *frames.glob("0000[1-9].jpg")]:
        path.unlink()


def _one_pixel_object_2(path):
    """Object 2 of frame 0 shrunk to its top-left pixel, which a 2x smaller nearest-neighbour
    resize does not sample (it takes odd rows and columns)."""
    ids = np.asarray(Image.open(path)).copy()
    ids[ids == 2] = 0
    ids[0, 0] = 2
    write_palette_png(path, ids)


SEQ = "blackswan"
CASES = {
    # name: (year, file under the root, how to break it, words the message must hold);
    # the message names that file (an absent sequence: the ImageSets folder)
    "corrupt JPEG": (2016, f"JPEGImages/480p/{SEQ}/00001.jpg", _corrupt, "cannot decode"),
    "truncated JPEG": (2016, f"JPEGImages/480p/{SEQ}/00002.jpg", _truncate, "truncated"),
    "zero-byte PNG": (2016, f"Annotations/480p/{SEQ}/00001.png",
                      lambda p: p.write_bytes(b""), "zero-byte"),
    "mask size": (2016, f"Annotations/480p/{SEQ}/00002.png", _resize, "differs from the frame"),
    "missing frame-0 mask": (2016, f"Annotations/480p/{SEQ}/00000.png", lambda p: p.unlink(),
                             "missing frame-0 mask"),
    "frame gap": (2016, f"JPEGImages/480p/{SEQ}/00001.jpg", lambda p: p.unlink(), "gap"),
    "non-palette 2017 mask": (2017, f"Annotations/480p/{SEQ}/00001.png", _to_grayscale,
                              "palette"),
    "empty frame-0 mask of a val sequence": (2016, f"Annotations/480p/{SEQ}/00000.png",
                                             _empty_mask, f"val sequence '{SEQ}' holds no object"),
    "1-frame val sequence": (2016, f"Annotations/480p/{SEQ}", _one_frame,
                             f"val sequence '{SEQ}' has 1 annotated frame(s)"),
    "frame-0 object vanishing at the working size": (
        2017, f"Annotations/480p/{SEQ}/00000.png", _one_pixel_object_2,
        f"object 2 (1 pixel(s)) of val sequence '{SEQ}' vanishes at the working size 24x16; "
        "give a larger decode.height / decode.width"),
    "absent sequence": (2017, "ImageSets/2017/val.txt",
                        lambda p: p.write_text(f"{SEQ}\nghost\n"), "'ghost'"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_names_file_problem_and_fix_and_leaves_no_cache(case, tmp_path):
    from tests.support import make_root

    year, rel, damage, words = CASES[case]
    root = make_root(tmp_path / "DAVIS", year, objects=2 if year == 2017 else 1)
    damage(root / rel)
    with pytest.raises(DavisError) as err:
        decode(root, tmp_path / "cache", (16, 24))
    msg = str(err.value)
    assert "\n" not in msg and words in msg
    assert str(root / rel) in msg or (case == "absent sequence" and str(root / "ImageSets") in msg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DAVIS"]  # no cache, no cache.tmp


def test_a_failed_decode_keeps_the_previous_cache(root2016, tmp_path):
    cache = decode(root2016, tmp_path / "cache", (16, 24))
    before = sorted(p.name for p in cache.iterdir())
    (root2016 / "Annotations/480p/blackswan/00003.png").write_bytes(b"")
    with pytest.raises(DavisError):
        decode(root2016, cache, (16, 24))
    assert sorted(p.name for p in cache.iterdir()) == before
    assert not (tmp_path / "cache.tmp").exists()


def test_decode_stage_prints_one_line_error_and_exits_2(root2016, tmp_path, capsys):
    (root2016 / "Annotations/480p/blackswan/00001.png").write_bytes(b"")
    params = tmp_path / "params.yaml"
    params.write_text("decode:\n  height: 16\n  width: 24\n")
    with pytest.raises(SystemExit) as exit_:
        decode_stage.main(davis=root2016, out=tmp_path / "cache", params=params)
    err = capsys.readouterr().err  # tqdm's bar, then the error
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert exit_.value.code == 2
    assert len(errors) == 1 and errors[0] == err.splitlines()[-1] and "00001.png" in errors[0]
    assert "Traceback" not in err and not (tmp_path / "cache").exists()


def test_a_train_sequence_needs_no_frame0_object(root2016, tmp_path):
    _empty_mask(root2016 / "Annotations/480p/dog-agility/00000.png")  # train: pretraining only
    cache = decode(root2016, tmp_path / "cache", (16, 24))
    assert sorted(p.name for p in cache.iterdir()) == ["blackswan.npz", "dog-agility.npz",
                                                       "index.parquet"]
