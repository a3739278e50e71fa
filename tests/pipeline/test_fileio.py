"""Atomic writes: the target appears whole or not at all; no temp file or folder is left."""
import pytest

from pipeline.fileio import atomic_dir, atomic_path, write_csv_atomic, write_dict_rows


def test_atomic_path_renames_on_success_and_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "sub" / "a.json"
    with atomic_path(target) as tmp:
        assert tmp.name == "a.json.tmp" and not target.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "new" and sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_atomic_path_can_keep_the_suffix_for_writers_that_read_it(tmp_path):
    with atomic_path(tmp_path / "plot.png", keep_suffix=True) as tmp:
        assert tmp.name == ".plot.tmp.png"
        tmp.write_bytes(b"png")
    assert (tmp_path / "plot.png").read_bytes() == b"png"


def test_atomic_dir_replaces_the_folder_whole_or_not_at_all(tmp_path):
    out = tmp_path / "cache"
    (tmp_path / "cache.tmp").mkdir()  # a stale temp folder of a killed run
    (tmp_path / "cache.tmp" / "stale").write_text("x")
    with atomic_dir(out) as tmp:
        tmp.mkdir()
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in out.iterdir()) == ["a"]
    with pytest.raises(ValueError), atomic_dir(out) as tmp:
        tmp.mkdir()
        (tmp / "b").write_text("2")
        raise ValueError("bad input")
    assert sorted(p.name for p in out.iterdir()) == ["a"] and not (tmp_path / "cache.tmp").exists()


def test_csv_rows_with_crlf_as_the_csv_module_writes_them(tmp_path):
    write_csv_atomic(tmp_path / "a.csv", ["x", "y"], [[1, 2.5]])
    assert (tmp_path / "a.csv").read_bytes() == b"x,y\r\n1,2.5\r\n"
    write_dict_rows(tmp_path / "b.csv", [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}])
    assert (tmp_path / "b.csv").read_bytes() == b"x,y\r\n1,a\r\n2,b\r\n"
