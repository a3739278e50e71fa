"""The download stage's sources: local folder/zip of either year, official archives (served
from 127.0.0.1 here), safe extraction."""
import hashlib
import zipfile

import pytest

from pipeline.data.davis import DavisError, list_sequences
from pipeline.data.cache import decode
from pipeline.data.download import ORIGIN, install_dataset, safe_extract
from pipeline.data.fetch import DownloadError
from pipeline.errors import ConfigError
from stages import download as download_stage
from tests.support import make_root, sample_subset, zip_folder


def _files(root):
    """The files of a root, less the record of where a local copy came from."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.name != ORIGIN)


def test_local_folder_and_zip_of_the_real_sample_give_the_same_root(sample_2016, tmp_path):
    from_folder = install_dataset("local", tmp_path / "a", path=str(sample_2016.parent))
    archive = zip_folder(sample_2016, tmp_path / "sample.zip")
    from_zip = install_dataset("local", tmp_path / "b", path=str(archive))
    assert _files(from_folder) == _files(from_zip) == _files(sample_2016)
    seqs = list_sequences(from_zip)
    assert len(seqs) == 7 and sum(len(s.frames) for s in seqs) == 332
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "sample.zip"]


def test_local_zip_whose_top_level_is_the_root_itself(root2017, tmp_path):
    archive = zip_folder(root2017, tmp_path / "flat.zip", arcroot="")
    out = install_dataset("local", tmp_path / "out", path=str(archive))
    assert _files(out) == _files(root2017)


def test_zip_slip_is_refused_and_nothing_is_written(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("DAVIS/JPEGImages/ok.txt", "ok")
        zf.writestr("../escaped.txt", "gotcha")
    with pytest.raises(DavisError, match="outside"):
        safe_extract(archive, tmp_path / "target")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "target").exists()


def test_1080p_members_are_not_extracted(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("DAVIS/JPEGImages/480p/s/00000.jpg", "a")
        zf.writestr("DAVIS/JPEGImages/1080p/s/00000.jpg", "b")
    safe_extract(archive, tmp_path / "t")
    assert _files(tmp_path / "t") == ["DAVIS/JPEGImages/480p/s/00000.jpg"]


def test_local_errors_leave_nothing_behind(tmp_path):
    (tmp_path / "not-davis").mkdir()
    with pytest.raises(DavisError, match="expected a DAVIS root"):
        install_dataset("local", tmp_path / "out", path=str(tmp_path / "not-davis"))
    with pytest.raises(DavisError, match="does not exist"):
        install_dataset("local", tmp_path / "out", path=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="not one of"):
        install_dataset("davis2018", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-davis"]


def test_official_source_via_stage_resumes_on_the_next_run(sample_2016, http_server, tmp_path,
                                                           capsys):
    archive = zip_folder(sample_subset(tmp_path / "subset"), tmp_path / "DAVIS-data.zip")
    payload = archive.read_bytes()
    http_server.payload, http_server.drops, http_server.drop_after = payload, 4, 200_000
    params = tmp_path / "params.yaml"
    params.write_text(f"download:\n  source: davis2016\n  url: {http_server.url}\n"
                      f"  checksum: md5:{hashlib.md5(payload).hexdigest()}\n")
    out, archives = tmp_path / "davis", tmp_path / "archives"
    with pytest.raises(SystemExit) as exit_:  # 1 try + 3 retries, each cut
        download_stage.main(out=out, archives=archives, params=params)
    assert exit_.value.code == 2 and "again to resume" in capsys.readouterr().err
    assert (archives / "DAVIS-data.zip.part").stat().st_size == 800_000 and not out.exists()
    download_stage.main(out=out, archives=archives, params=params)
    assert http_server.ranges[-1] == "bytes=800000-"
    assert (archives / "DAVIS-data.zip").read_bytes() == payload
    assert [(s.name, s.split, len(s.frames)) for s in list_sequences(out)] == [
        ("dog-agility", "train", 25)]


def test_official_source_with_wrong_checksum_fails_clearly(root2016, http_server, tmp_path):
    http_server.payload = zip_folder(root2016, tmp_path / "a.zip").read_bytes()
    with pytest.raises(DownloadError, match="sha256 mismatch: expected 0+, got [0-9a-f]{64}"):
        install_dataset("davis2017", tmp_path / "out", archives=tmp_path / "arch",
                        url=http_server.url, checksum="sha256:" + "0" * 64)
    assert not (tmp_path / "out").exists() and list((tmp_path / "arch").iterdir()) == []


def test_synthetic_source_still_writes_a_2017_root(tmp_path):
    out = install_dataset("synthetic", tmp_path / "syn",
                          synthetic=dict(num_train=1, num_val=1, num_frames=3, height=32, width=48))
    assert [(s.split, s.year, len(s.frames)) for s in list_sequences(out)] == [
        ("train", 2017, 3), ("val", 2017, 3)]
    assert not (out / ORIGIN).exists()  # nothing to trace back: the root is as before


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_decode_errors_in_a_local_copy_name_the_original_file(kind, tmp_path):
    root = make_root(tmp_path / "mine" / "DAVIS", 2016)
    path = tmp_path / "mine" if kind == "folder" else zip_folder(root, tmp_path / "mine.zip")
    davis = install_dataset("local", tmp_path / "davis", path=str(path))
    rel = "JPEGImages/480p/blackswan/00001.jpg"
    (davis / rel).write_bytes(b"not a jpeg")  # as if the file under download.path were bad
    with pytest.raises(DavisError) as err:
        decode(davis, tmp_path / "cache", (16, 24))
    origin = root / rel if kind == "folder" else f"DAVIS/{rel} in {path}"
    assert str(err.value).startswith(
        f"{davis / rel} (copied from {origin}, download.path): cannot decode the image")
