"""Every kind of bad input: a one-line DavisError naming the file, and nothing half-written."""
import pytest
from PIL import Image

from pipeline.data.cache import decode
from pipeline.data.davis import DavisError
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
    "absent sequence": (2017, "ImageSets/2017/val.txt",
                        lambda p: p.write_text(f"{SEQ}\nghost\n"), "'ghost'"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_names_file_problem_and_fix_and_leaves_no_cache(case, tmp_path):
    from tests.support import make_root

    year, rel, damage, words = CASES[case]
    root = make_root(tmp_path / "DAVIS", year)
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
