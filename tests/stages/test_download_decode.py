"""The download and decode stages end to end through their commands (as dvc.yaml runs them)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.data.cache import sequence_table
from tests.support import REPO, make_root, zip_folder


def _run(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_local_zip_download_then_decode_and_a_bad_mask_exits_2(tmp_path):
    archive = zip_folder(make_root(tmp_path / "src", 2017, objects=2), tmp_path / "mine.zip")
    (tmp_path / "params.yaml").write_text(
        f"download:\n  source: local\n  path: {archive}\ndecode:\n  height: 16\n  width: 24\n")
    assert _run("stages.download", "--out", "data/davis", cwd=tmp_path).returncode == 0
    assert _run("stages.decode", "--davis", "data/davis", "--out", "data/cache",
                cwd=tmp_path).returncode == 0
    cache = tmp_path / "data" / "cache"
    assert [(s["name"], s["split"], s["year"]) for s in sequence_table(cache)] == [
        ("dog-agility", "train", 2017), ("blackswan", "val", 2017)]
    (tmp_path / "data/davis/Annotations/480p/blackswan/00002.png").write_bytes(b"")
    bad = _run("stages.decode", "--davis", "data/davis", "--out", "data/cache", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines()[-1] == (
        "error: data/davis/Annotations/480p/blackswan/00002.png (copied from "
        f"DAVIS/Annotations/480p/blackswan/00002.png in {archive.resolve()}, download.path): "
        "zero-byte mask; re-extract it from the archive")
    assert len(sequence_table(cache)) == 2  # the previous cache is untouched


def test_a_broken_link_in_the_local_copy_is_one_line_naming_it(tmp_path, capsys):
    from stages import download, source

    root = make_root(tmp_path / "src", 2016)
    link = root / "JPEGImages/480p/blackswan/00004.jpg"
    link.symlink_to(tmp_path / "gone.jpg")
    params = tmp_path / "params.yaml"
    params.write_text(f"download:\n  source: local\n  path: {root}\n")
    for stage, out, more in ((source, tmp_path / "source.json", {}),
                             (download, tmp_path / "davis", {"archives": tmp_path / "archives"})):
        with pytest.raises(SystemExit) as exit_:
            stage.main(out=out, params=params, **more)
        err = capsys.readouterr().err.splitlines()
        assert exit_.value.code == 2 and len(err) == 1, err
        assert err[0] == (f"error: {link}: a broken symbolic link (to {tmp_path / 'gone.jpg'}, "
                          f"which does not exist) below {root}; remove the link or restore its "
                          "target")
        assert not out.exists()


@pytest.mark.parametrize("other", ["running", "finished"])
def test_the_source_stage_refuses_while_another_dvc_run_holds_the_project(other, tmp_path,
                                                                           monkeypatch, capsys):
    import json

    from stages import source

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("download:\n  source: synthetic\n")
    holder = subprocess.Popen(["sleep", "60"] if other == "running" else ["true"])
    if other == "finished":
        holder.wait()  # a killed run's entry: its process is gone
    out, cache = tmp_path / "data" / "source.json", str(tmp_path / "data" / "cache")
    rwlock = tmp_path / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True)
    rwlock.write_text(json.dumps({  # as DVC writes it: this run holds out, another the cache
        "write": {str(out): {"pid": os.getpid(), "cmd": "dvc repro"}},
        "read": {cache: [{"pid": holder.pid, "cmd": "dvc repro"}]}}))
    try:
        if other == "finished":
            source.main(out=Path("data/source.json"), params=Path("params.yaml"))
            assert json.loads(out.read_text()) == {"source": "synthetic"}
            return
        with pytest.raises(SystemExit) as exit_:
            source.main(out=Path("data/source.json"), params=Path("params.yaml"))
    finally:
        holder.kill()
        holder.wait()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: .dvc/tmp/rwlock: another DVC run (pid {holder.pid}: dvc repro) holds {cache} of "
        "this project; wait for it to finish, then run again (this run stopped before changing "
        "anything)"]
    assert json.loads(out.read_text()) == {"source": "synthetic"}  # the file DVC removed, back
