"""Fixtures for the data tests: tiny DAVIS-layout roots in tmp_path, and the real sample.

The real DAVIS data lives beside the repository in ``../shared/data`` (as in CI); tests that
need it skip with a reason where it is absent.
"""
from __future__ import annotations

import shutil
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data.davis import write_palette_png

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SAMPLE_2016 = SHARED / "davis2016-sample" / "DAVIS"
FRAGMENT_2017 = SHARED / "davis2017-fragment" / "DAVIS"

H, W, SIDE, STEP = 32, 48, 8, 3  # tiny frames; an 8x8 square moving 3 px/frame to the right


def square_mask(t: int, obj: int = 1) -> np.ndarray:
    """(H, W) ids: the square of object ``obj`` in frame ``t`` (object 2 sits one row lower)."""
    mask = np.zeros((H, W), np.uint8)
    y, x = 4 + 12 * (obj - 1), 4 + STEP * t
    mask[y:y + SIDE, x:x + SIDE] = obj
    return mask


def make_root(root: Path, year: int = 2016, sequences=(("dog-agility", "train", 5),
                                                       ("blackswan", "val", 4)),
              objects: int = 1) -> Path:
    """A tiny DAVIS root of ``year`` (2016: 0/255 L masks, pairs; 2017: palette ids, names)."""
    sets = root / "ImageSets" / ("480p" if year == 2016 else "2017")
    sets.mkdir(parents=True)
    lines: dict[str, list[str]] = {"train": [], "val": []}
    for name, split, length in sequences:
        img_dir, ann_dir = (root / kind / "480p" / name for kind in ("JPEGImages", "Annotations"))
        img_dir.mkdir(parents=True)
        ann_dir.mkdir(parents=True)
        for t in range(length):
            ids = np.maximum.reduce([square_mask(t, k) for k in range(1, objects + 1)])
            frame = np.full((H, W, 3), 30, np.uint8)
            frame[ids > 0] = (220, 200, 40)
            Image.fromarray(frame).save(img_dir / f"{t:05d}.jpg", quality=95)
            if year == 2016:
                Image.fromarray((ids > 0).astype(np.uint8) * 255, "L").save(ann_dir / f"{t:05d}.png")
                lines[split].append(f"/JPEGImages/480p/{name}/{t:05d}.jpg "
                                    f"/Annotations/480p/{name}/{t:05d}.png")
            else:
                write_palette_png(ann_dir / f"{t:05d}.png", ids)
        if year == 2017:
            lines[split].append(name)
    for split, rows in lines.items():
        (sets / f"{split}.txt").write_text("".join(f"{r}\n" for r in rows))
    return root


def zip_folder(folder: Path, archive: Path, arcroot: str = "DAVIS") -> Path:
    """Zip ``folder`` under ``arcroot/`` (as the official zips hold ``DAVIS/``), stored."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{arcroot}/{path.relative_to(folder).as_posix()}".lstrip("/"))
    return archive


def sample_subset(dest: Path, names=("dog-agility",)) -> Path:
    """A copy of some real 2016 sample sequences with their ImageSets lines, as a DAVIS root."""
    for kind in ("JPEGImages", "Annotations"):
        for name in names:
            shutil.copytree(SAMPLE_2016 / kind / "480p" / name, dest / kind / "480p" / name)
    sets = dest / "ImageSets" / "480p"
    sets.mkdir(parents=True)
    for split in ("train", "val"):
        lines = (SAMPLE_2016 / "ImageSets" / "480p" / f"{split}.txt").read_text().splitlines()
        keep = [l for l in lines if l.split("/")[3] in names]
        (sets / f"{split}.txt").write_text("".join(f"{l}\n" for l in keep))
    return dest


@pytest.fixture
def root2016(tmp_path) -> Path:
    return make_root(tmp_path / "DAVIS", 2016)


@pytest.fixture
def root2017(tmp_path) -> Path:
    return make_root(tmp_path / "DAVIS", 2017, objects=2)


@pytest.fixture(scope="session")
def sample_2016() -> Path:
    if not SAMPLE_2016.is_dir():
        pytest.skip(f"real DAVIS 2016 sample not found at {SAMPLE_2016} (../shared/data)")
    return SAMPLE_2016


@pytest.fixture(scope="session")
def fragment_2017() -> Path:
    if not FRAGMENT_2017.is_dir():
        pytest.skip(f"real DAVIS 2017 fragment not found at {FRAGMENT_2017} (../shared/data)")
    return FRAGMENT_2017


@pytest.fixture(scope="session")
def sample_cache(sample_2016, tmp_path_factory) -> Path:
    """The whole real 2016 sample decoded once at a small working size (48, 80)."""
    from pipeline.data.cache import decode

    return decode(sample_2016, tmp_path_factory.mktemp("sample") / "cache", (48, 80))


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves ``server.payload`` with HTTP Range support; cuts the next ``server.drops``
    responses after ``server.drop_after`` body bytes (the connection just closes)."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server, payload = self.server, self.server.payload
        if self.path != "/" + server.url.rsplit("/", 1)[-1]:
            self.send_error(404)
            return
        header = self.headers.get("Range")
        server.ranges.append(header)
        start = int(header[len("bytes="):].split("-")[0]) if header else 0
        if start >= len(payload):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(payload)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = payload[start:]
        self.send_response(206 if header else 200)
        if header:
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.drops > 0:
            server.drops -= 1
            body = body[: server.drop_after]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A local server on 127.0.0.1 (set ``.payload``, ``.drops``, ``.drop_after``); its URL
    is ``server.url``; ``server.ranges`` logs every request's Range header."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    server.payload, server.drops, server.drop_after, server.ranges = b"", 0, 0, []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/DAVIS-data.zip"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
