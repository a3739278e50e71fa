"""The resumable, checksum-verified HTTP download, against a local server only."""
import hashlib

import pytest

from pipeline.data.fetch import DownloadError, fetch_archive, parse_checksum
from pipeline.errors import ConfigError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


def test_cut_connection_fails_keeping_the_part_and_the_next_run_resumes(http_server, tmp_path):
    http_server.payload, http_server.drops, http_server.drop_after = PAYLOAD, 1, 300_000
    dest = tmp_path / "a.zip"
    with pytest.raises(DownloadError, match="run the download stage again to resume"):
        fetch_archive(http_server.url, dest, SHA, retries=0)
    part = tmp_path / "a.zip.part"
    assert part.stat().st_size == 300_000 and not dest.exists()
    fetch_archive(http_server.url, dest, SHA, retries=0)
    assert http_server.ranges == [None, "bytes=300000-"]
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_retries_resume_within_one_run(http_server, tmp_path):
    http_server.payload, http_server.drops, http_server.drop_after = PAYLOAD, 2, 100_000
    dest = fetch_archive(http_server.url, tmp_path / "a.zip", SHA, retries=2)
    assert http_server.ranges == [None, "bytes=100000-", "bytes=200000-"]
    assert dest.read_bytes() == PAYLOAD


def test_complete_file_is_not_downloaded_again(http_server, tmp_path):
    http_server.payload = PAYLOAD
    dest = tmp_path / "a.zip"
    dest.write_bytes(PAYLOAD)
    fetch_archive(http_server.url, dest, "md5:" + hashlib.md5(PAYLOAD).hexdigest())
    assert http_server.ranges == []


def test_wrong_checksum_says_expected_and_got_and_removes_the_part(http_server, tmp_path):
    http_server.payload = PAYLOAD
    wrong = "0" * 32
    with pytest.raises(DownloadError) as err:
        fetch_archive(http_server.url, tmp_path / "a.zip", f"md5:{wrong}")
    msg = str(err.value)
    assert f"expected {wrong}, got {hashlib.md5(PAYLOAD).hexdigest()}" in msg
    assert "removed" in msg and list(tmp_path.iterdir()) == []


def test_http_error_and_bad_checksum_spec_are_clear(http_server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch_archive(http_server.url + "x", tmp_path / "a", SHA)
    with pytest.raises(ConfigError, match="sha256:<hex>"):
        parse_checksum("crc32:abcd")
