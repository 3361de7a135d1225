"""Download one weight file: mirrors in order, progress bar, sha256 check, atomic rename.

Why so careful: a half-written or corrupted checkpoint in the cache fails later
with an unreadable unpickling error, far from its cause. Here the bytes go to a
hidden temporary file in the destination folder, are hashed while streaming,
and only a complete file with the right sha256 (when known; else the publisher's
MD5 when that is all it gives) and size is renamed
into place (``os.replace`` is atomic within one folder). Anything else, including
Ctrl-C, removes the temporary file. A lock file serialises two processes
fetching the same file, and the second one then finds the first one's result.

urllib only: no extra dependency for a few GETs.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from remove_people.errors import WeightsError
from remove_people.models.hashing import md5_file, remember_sha256, sha256_file
from remove_people.models.weights_entry import WeightsEntry
from remove_people.models.weights_table import get_entry

__all__ = ["download", "CHUNK", "TIMEOUT_S", "USER_AGENT"]

CHUNK = 1 << 16
TIMEOUT_S = 30.0
USER_AGENT = "remove-people-model-manager/0.1 (+urllib)"
LOCK_TIMEOUT_S = 3600.0


class _MirrorFailed(Exception):
    """One mirror did not deliver a good file; the next one is tried."""


def _is_good(path: Path, entry: WeightsEntry) -> bool:
    if not path.is_file():
        return False
    if entry.size is not None and path.stat().st_size != entry.size:
        return False
    if entry.sha256 is None and entry.md5 is not None:
        return md5_file(path) == entry.md5
    return entry.sha256 is None or sha256_file(path) == entry.sha256


def _progress(console: Any | None, enabled: bool) -> Any:
    """A rich progress bar showing bytes, speed and time left; ``None`` when disabled."""
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )


def _fetch_one(url: str, entry: WeightsEntry, tmp: Path, progress: Any | None) -> str:
    """Stream ``url`` into ``tmp``; return the sha256. Raises ``_MirrorFailed`` on any failure."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        resp = urllib.request.urlopen(req, timeout=TIMEOUT_S)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise _MirrorFailed(f"{url}: {getattr(exc, 'reason', None) or exc}") from exc
    h = hashlib.sha256()
    # The publisher's MD5, where that is all it gives (IOPaint's TorchScript files), hashed alongside.
    h_md5 = hashlib.md5(usedforsecurity=False) if entry.md5 is not None else None
    got = 0
    with resp:
        ctype = (resp.headers.get("Content-Type") or "").lower()
        if ctype.startswith("text/html"):
            # Google Drive answers quota and consent pages with 200 and HTML.
            raise _MirrorFailed(f"{url}: returned a web page, not the file (quota or consent page?)")
        length_hdr = resp.headers.get("Content-Length")
        total = int(length_hdr) if length_hdr and length_hdr.isdigit() else entry.size
        task = progress.add_task(entry.filename, total=total) if progress is not None else None
        try:
            with open(tmp, "wb") as f:
                while True:
                    try:
                        block = resp.read(CHUNK)
                    except (http.client.IncompleteRead, http.client.HTTPException, OSError) as exc:
                        raise _MirrorFailed(f"{url}: transfer broken after {got} bytes ({exc!r})") from exc
                    if not block:
                        break
                    f.write(block)
                    h.update(block)
                    if h_md5 is not None:
                        h_md5.update(block)
                    got += len(block)
                    if task is not None:
                        progress.update(task, completed=got)
                f.flush()
                os.fsync(f.fileno())
        finally:
            if task is not None:
                progress.update(task, visible=True)
    if length_hdr and length_hdr.isdigit() and got != int(length_hdr):
        raise _MirrorFailed(f"{url}: connection closed after {got} of {length_hdr} bytes")
    if entry.size is not None and got != entry.size:
        raise _MirrorFailed(f"{url}: got {got} bytes, expected {entry.size}; the partial file was deleted")
    digest = h.hexdigest()
    if entry.sha256 is not None and digest != entry.sha256:
        raise _MirrorFailed(
            f"{url}: sha256 mismatch (expected {entry.sha256}, got {digest}); the downloaded file was deleted"
        )
    if h_md5 is not None and h_md5.hexdigest() != entry.md5:
        raise _MirrorFailed(
            f"{url}: md5 mismatch (expected the published {entry.md5}, got {h_md5.hexdigest()}); "
            f"the downloaded file was deleted"
        )
    return digest


def download(
    entry: WeightsEntry | str,
    dest_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
    console: Any | None = None,
) -> Path:
    """Download ``entry``'s file into ``dest_dir`` and return its final path.

    Mirrors are tried in order; the first good file wins. A file already present
    and good (right size/sha256 when known) is returned without any request. On
    failure of every mirror, raises :class:`WeightsError` listing why each failed;
    no partial file is ever left under the final name or as a temporary.
    ``console``: a ``rich.console.Console`` for the progress bar (default: stderr).
    """
    from remove_people.pipeline.atomic import exclusive

    entry = get_entry(entry)
    if not entry.urls:
        raise WeightsError(f"weights {entry.name!r} have no download URL")
    dest = Path(dest_dir).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / entry.filename
    lock_file = dest / f".{entry.filename}.lock"
    busy = f"another process has been downloading {final} for over an hour; remove {lock_file}"
    with exclusive(lock_file, LOCK_TIMEOUT_S, busy):
        if _is_good(final, entry):  # a concurrent process finished it while we waited
            return final
        failures: list[str] = []
        bar = _progress(console, progress)
        if bar is not None:
            bar.start()
        try:
            for url in entry.urls:
                fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".part", dir=dest)
                os.close(fd)
                tmp = Path(tmp_name)
                try:
                    digest = _fetch_one(url, entry, tmp, bar)
                    os.replace(tmp, final)
                except _MirrorFailed as exc:
                    failures.append(str(exc))
                    continue
                finally:
                    # BaseException too: Ctrl-C must not leave a .part file behind.
                    tmp.unlink(missing_ok=True)
                try:
                    remember_sha256(final, digest)
                except OSError:
                    pass
                return final
        finally:
            if bar is not None:
                bar.stop()
        raise WeightsError(f"could not download {entry.name!r} ({entry.filename}): " + "; ".join(failures))
