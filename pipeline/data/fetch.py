"""Resumable HTTP download of one archive, checksum verified.

The bytes go to ``<dest>.part``; an interrupted transfer is resumed from the end of the
``.part`` file with an HTTP ``Range`` request (on this run's retries or the next run), and
only a file whose checksum matches is renamed to ``dest``. Checksums are written
``"sha256:<hex>"`` or ``"md5:<hex>"``.
"""
from __future__ import annotations

import hashlib
import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from pipeline.errors import ConfigError, SfvosError

CHUNK = 1 << 20
ALGORITHMS = ("sha256", "md5")


class DownloadError(SfvosError):
    """An archive could not be downloaded (HTTP error, cut connection) or its bytes do not
    match the checksum; the message says which URL and file, and what to do."""


def parse_checksum(checksum: str) -> tuple[str, str]:
    """``"sha256:<hex>"`` -> ``("sha256", "<hex>")``; a clear error for anything else."""
    algo, _, digest = checksum.partition(":")
    if algo not in ALGORITHMS or not re.fullmatch(r"[0-9a-fA-F]+", digest):
        raise ConfigError(
            f"checksum {checksum!r}: expected 'sha256:<hex>' or 'md5:<hex>'; fix download.checksum"
        )
    return algo, digest.lower()


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with Path(path).open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _total_size(resp, offset: int) -> int | None:
    """Full size of the resource from Content-Range (206) or Content-Length (200)."""
    if resp.status == 206:
        match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            raise DownloadError(f"{resp.url}: the server answered a Range request with a wrong "
                                "Content-Range; delete the .part file and run again")
        return None if match.group(2) == "*" else int(match.group(2))
    length = resp.headers.get("Content-Length")
    return int(length) if length else None


def _transfer(url: str, part: Path, timeout: float) -> None:
    """One attempt: append to ``part`` from its current size; raise on a short transfer."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        resp = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the .part already holds everything
            return
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}; check download.url") from None
    with resp:
        if resp.status == 200:
            offset = 0  # the server ignored Range: start again
        total = _total_size(resp, offset)
        got = offset
        with part.open("ab" if offset else "wb") as f, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, desc=part.name[:-5]
        ) as bar:
            try:
                while block := resp.read(CHUNK):
                    f.write(block)
                    got += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException):
                pass  # a dropped connection: judged by the size check below
    if total is not None and got < total:
        raise ConnectionError(f"got {got} of {total} bytes")


def fetch_archive(url: str, dest: Path, checksum: str, retries: int = 3,
                  timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify ``checksum``, rename.

    A ``dest`` that already exists with the right checksum is kept as it is.
    """
    algo, expected = parse_checksum(checksum)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and file_digest(dest, algo) == expected:
        return dest
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout)
            break
        except (ConnectionError, TimeoutError, urllib.error.URLError) as exc:
            if attempt == retries:
                size = part.stat().st_size if part.exists() else 0
                raise DownloadError(
                    f"{url}: download interrupted ({exc}); kept {size} bytes in {part}; "
                    "run the download stage again to resume"
                ) from None
    got = file_digest(part, algo)
    if got != expected:
        part.unlink()
        raise DownloadError(
            f"{url}: {algo} mismatch: expected {expected}, got {got}; removed {part}; run again "
            "to download afresh, or fix download.url / download.checksum"
        )
    part.replace(dest)
    return dest
