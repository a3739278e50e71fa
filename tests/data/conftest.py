"""Fixtures for the data tests: tiny DAVIS-layout roots in tmp_path (built by
:func:`tests.support.make_root`), the real sample decoded and a local HTTP server
for the download tests."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import make_root


@pytest.fixture
def root2016(tmp_path) -> Path:
    return make_root(tmp_path / "DAVIS", 2016)


@pytest.fixture
def root2017(tmp_path) -> Path:
    return make_root(tmp_path / "DAVIS", 2017, objects=2)


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
