"""Downloads against a local HTTP server on 127.0.0.1 serving ../shared/weights (never the internet).

Each test names one acceptance point of issue 3: progress, cache hit without a
request, corrupted byte caught, dead mirror skipped, interrupted transfer leaving
nothing, concurrent downloads of one file, offline instruction.
"""

from __future__ import annotations

import io
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from rich.console import Console

from remove_people.errors import WeightsError
from remove_people.models import download as D
from remove_people.models.hashing import sha256_file
from remove_people.models.locations import cache_dir
from remove_people.models.resolve import resolve_weights
from remove_people.models.weights_entry import Role, WeightsEntry

FILE = "yolo11n-seg_from_openvino_int8.pt"  # the smallest shared file (5.9 MB)
SHA = "137f396ec862c83c64bf47710eaad3e54a008b26d6368de1952266c5903dd1d6"
SIZE = 5875418


class _Server:
    """Serves ../shared/weights read-only. Paths: /ok/<f>, /corrupt/<f> (one byte flipped),
    /short/<f> (announces the full length, sends half, closes)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or "/" in parts[1] or parts[1].startswith("."):
                    self.send_error(404)
                    return
                mode, name = parts
                src = server.root / name
                if not src.is_file():
                    self.send_error(404)
                    return
                data = src.read_bytes()
                if mode == "corrupt":
                    data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "short":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, mode: str, name: str = FILE) -> str:
        return f"{self.base}/{mode}/{name}"


@pytest.fixture()
def server(shared: Path) -> Iterator[_Server]:
    s = _Server(shared / "weights")
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user cache and no model folder, so only the server can supply the file."""
    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", "")
    monkeypatch.delenv("REMOVE_PEOPLE_OFFLINE", raising=False)
    return tmp_path / "home"


def dead_url() -> str:
    """A URL on a port nobody listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/ok/{FILE}"


def entry(*urls: str, sha256: str | None = SHA, size: int | None = SIZE) -> WeightsEntry:
    return WeightsEntry(
        name="test-yolo", role=Role.DETECTOR, filename=FILE, urls=urls, sha256=sha256, size=size, license="test"
    )


def leftovers(folder: Path) -> list[str]:
    """Everything in the folder except the lock file (which is meant to stay)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) if folder.exists() else []


def test_download_with_progress_then_cache_hit_without_request(server: _Server, home: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    path = D.download(entry(server.url("ok")), cache_dir(), progress=True, console=console)
    assert path == home / "models" / FILE
    assert sha256_file(path) == SHA
    assert FILE in out.getvalue() and "5.9" in out.getvalue()  # the bar named the file and its size (MB)
    assert len(server.requests) == 1

    # second resolution: from the cache, no request at all
    again = resolve_weights(entry(server.url("ok")), offline=False, progress=False)
    assert again == path
    assert len(server.requests) == 1
    assert leftovers(home / "models") == [FILE]


def test_resolve_downloads_into_cache_once(server: _Server, home: Path) -> None:
    e = entry(server.url("ok"))
    p1 = resolve_weights(e, offline=False, progress=False)
    p2 = resolve_weights(e, offline=False, progress=False)
    assert p1 == p2 == cache_dir() / FILE
    assert server.requests == [f"/ok/{FILE}"]


def test_corrupted_byte_is_caught_and_file_deleted(server: _Server, home: Path) -> None:
    with pytest.raises(WeightsError, match="sha256 mismatch.*deleted"):
        D.download(entry(server.url("corrupt")), cache_dir(), progress=False)
    assert leftovers(home / "models") == []


def test_corrupted_first_mirror_falls_back_to_good_second(server: _Server, home: Path) -> None:
    path = D.download(entry(server.url("corrupt"), server.url("ok")), cache_dir(), progress=False)
    assert sha256_file(path) == SHA
    assert server.requests == [f"/corrupt/{FILE}", f"/ok/{FILE}"]


def test_dead_first_mirror_falls_back_to_second(server: _Server, home: Path) -> None:
    path = D.download(entry(dead_url(), server.url("ok")), cache_dir(), progress=False)
    assert sha256_file(path) == SHA
    assert server.requests == [f"/ok/{FILE}"]


def test_all_mirrors_dead_says_why(home: Path) -> None:
    with pytest.raises(WeightsError, match="could not download 'test-yolo'.*127.0.0.1"):
        D.download(entry(dead_url()), cache_dir(), progress=False)
    assert leftovers(home / "models") == []


def test_connection_closed_early_leaves_no_file(server: _Server, home: Path) -> None:
    # no sha256/size known: only the Content-Length betrays the short transfer
    with pytest.raises(WeightsError, match="transfer broken|connection closed"):
        D.download(entry(server.url("short"), sha256=None, size=None), cache_dir(), progress=False)
    assert leftovers(home / "models") == []


def test_keyboard_interrupt_leaves_no_file(server: _Server, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_urlopen = urllib.request.urlopen

    class Interrupting:
        """The real response, but Ctrl-C arrives after the first chunk has been written."""

        def __init__(self, resp: object) -> None:
            self.resp = resp
            self.headers = resp.headers  # type: ignore[attr-defined]
            self.calls = 0

        def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls > 1:
                raise KeyboardInterrupt
            return self.resp.read(n)  # type: ignore[attr-defined]

        def __enter__(self) -> "Interrupting":
            return self

        def __exit__(self, *exc: object) -> None:
            self.resp.close()  # type: ignore[attr-defined]

    monkeypatch.setattr(D.urllib.request, "urlopen", lambda *a, **k: Interrupting(real_urlopen(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        D.download(entry(server.url("ok")), cache_dir(), progress=False)
    assert leftovers(home / "models") == []


def test_two_concurrent_downloads_fetch_once(server: _Server, home: Path) -> None:
    e = entry(server.url("ok"))
    results: list[Path] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(D.download(e, cache_dir(), progress=False))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert results == [cache_dir() / FILE] * 2
    assert len(server.requests) == 1  # the second waited on the lock and found the finished file
    assert leftovers(home / "models") == [FILE]


def test_offline_fails_with_exact_instruction(server: _Server, home: Path, tmp_path: Path) -> None:
    mdir = tmp_path / "my-models"
    mdir.mkdir()
    url = server.url("ok")
    with pytest.raises(WeightsError) as info:
        resolve_weights(entry(url), model_dir=mdir, offline=True, progress=False)
    assert str(info.value) == (
        "weights 'test-yolo' are not on disk and offline mode is on (--offline / REMOVE_PEOPLE_OFFLINE=1): "
        f"put {FILE} (sha256 {SHA}, {SIZE} bytes) into {mdir} or {home / 'models'}; download it from {url}"
    )
    assert server.requests == []


def test_offline_from_environment(server: _Server, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_OFFLINE", "1")
    with pytest.raises(WeightsError, match=f"offline mode is on.*put {FILE}"):
        resolve_weights(entry(server.url("ok")), progress=False)
    assert server.requests == []
