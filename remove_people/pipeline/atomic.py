"""Atomic file writes: a target either keeps its old content or gets the complete new one.

Why: people point this tool at their only copy of a photo archive, and runs get
killed (Ctrl-C, SIGKILL, a full disk). A reader (a person, a re-run with
``--skip-existing``, a concurrent run) must never see a half-written output that
looks finished. The classic recipe (rsync, git) is used: write a hidden temp file
in the *same folder* (so the final rename cannot cross file systems), flush and
fsync it, then ``os.replace`` it over the target, which POSIX and Windows make
atomic. On any failure the temp file is removed and the target is untouched.

Temp names are ``.{name}.{pid}.{random}.tmp``: hidden (a leading dot), so folder
listings and the runner's input globbing skip them, and unique per process, so
two runs writing the same target never share a temp file. ``is_temp_name`` lets
cleanup code recognise leftovers of a SIGKILLed run.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write_bytes", "atomic_open", "temp_name_for", "is_temp_name", "TEMP_NAME_RE", "exclusive"]

#: Matches the temp names made by :func:`temp_name_for` (for cleanup of leftovers after a kill).
TEMP_NAME_RE = re.compile(r"^\..+\.\d+\.[0-9a-f]{12}\.tmp$")


def temp_name_for(path: Path) -> Path:
    """A fresh hidden temp path beside ``path`` (same folder, hence same file system)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def is_temp_name(name: str | Path) -> bool:
    """True if ``name`` looks like a temp file left by :func:`atomic_open` (e.g. after SIGKILL)."""
    return bool(TEMP_NAME_RE.match(Path(name).name))


def _fsync_dir(folder: Path) -> None:
    """Flush the folder entry so the rename itself survives a power cut; best effort
    (not all platforms/file systems allow opening a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: Path, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temp file for writing; on clean exit it atomically replaces ``path``.

    If the ``with`` body raises (or the flush/fsync/rename fails), the temp file is
    deleted, the exception propagates and ``path`` is left exactly as it was.
    Parent folders are created. ``mode`` must be a write mode ("wb", "w", "xb"
    is treated as "wb"); text modes accept ``encoding``/``newline`` in ``open_kwargs``.
    """
    if not any(c in mode for c in "wx") or "+" in mode or "a" in mode:
        raise ValueError(f"atomic_open needs a plain write mode ('w' or 'wb'), got {mode!r}")
    mode = mode.replace("x", "w")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name_for(path)
    # 'x' on the temp: never clobber a file we did not create (the name is random, so
    # a collision means something is very wrong).
    fh = open(tmp, mode.replace("w", "x"), **open_kwargs)
    try:
        try:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fh.close()
        os.replace(tmp, path)
    except BaseException:
        # BaseException: KeyboardInterrupt mid-write must not leave the temp behind either.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        except OSError:
            pass  # e.g. a read-only folder; nothing better to do, the original error matters
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see module docstring); parents are created."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


@contextmanager
def exclusive(lock_file: Path, timeout_s: float, busy: str) -> Iterator[None]:
    """Hold a cross-process file lock (``filelock``) for the block.

    Why one helper: a download and an export each build one artifact that concurrent runs
    would otherwise all build; they wait for the lock and then find it finished. ``busy``
    is the message of the :class:`~remove_people.errors.WeightsError` raised if the lock is
    still held after ``timeout_s`` (it should say which lock file to remove).
    """
    from filelock import FileLock, Timeout

    from remove_people.errors import WeightsError

    lock = FileLock(str(lock_file), timeout=timeout_s)
    try:
        lock.acquire()
    except Timeout as exc:
        raise WeightsError(busy) from exc
    try:
        yield
    finally:
        lock.release()
