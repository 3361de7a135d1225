"""Checksums of weight files, memoised in memory and on disk.

Why memoised, in memory and in ``<home>/sha256-cache.json``: resolution hashes model-folder
files to match them, the cache keys each networked stage on its weight file's sha256, and
re-hashing a few hundred MB on every run would make start-up slow. A changed file gets a new
mtime, hence a new key. This module knows files only, not the table (which sits above it).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from remove_people.models.locations import home_dir
from remove_people.pipeline.atomic import atomic_write_bytes

_LOCK = threading.RLock()
_HASH_MEMO: dict[tuple[str, int, int, int], str] = {}
_HASH_FILE_NAME = "sha256-cache.json"


def _hash_key(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def _disk_memo_path() -> Path:
    return home_dir() / _HASH_FILE_NAME


def _disk_memo_load() -> dict[str, str]:
    try:
        data = json.loads(_disk_memo_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _disk_memo_store(key: tuple[str, int, int, int], digest: str) -> None:
    """Best effort: remember the hash across runs; failures (read-only home, races) are ignored."""
    path = _disk_memo_path()
    try:
        data = _disk_memo_load()
        data["|".join(map(str, key))] = digest
        if len(data) > 2000:  # keep it small: drop the oldest half
            data = dict(list(data.items())[-1000:])
        atomic_write_bytes(path, json.dumps(data).encode())
    except OSError:
        pass


def _file_digest(path: str | os.PathLike[str], algorithm: str, persist: bool) -> str:
    """The ``algorithm`` digest (hex) of a file, memoised in memory and (``persist``) on disk.

    Keys: ``(path, size, mtime_ns, inode)`` for sha256; the MD5's key prefixes the path
    with ``md5|`` so both share one memo file.
    """
    p = Path(path)
    key = _hash_key(p)
    if algorithm != "sha256":
        key = (f"{algorithm}|{key[0]}", *key[1:])
    with _LOCK:
        if key in _HASH_MEMO:
            return _HASH_MEMO[key]
    if persist:
        cached = _disk_memo_load().get("|".join(map(str, key)))
        if cached:
            with _LOCK:
                _HASH_MEMO[key] = cached
            return cached
    h = hashlib.new(algorithm, usedforsecurity=algorithm == "sha256")
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _LOCK:
        _HASH_MEMO[key] = digest
    if persist:
        _disk_memo_store(key, digest)
    return digest


def sha256_file(path: str | os.PathLike[str], *, persist: bool = True) -> str:
    """The sha256 (hex) of a file, memoised by (path, size, mtime, inode) (see the module docstring)."""
    return _file_digest(path, "sha256", persist)


def md5_file(path: str | os.PathLike[str]) -> str:
    """The MD5 (hex) of a file, memoised like :func:`sha256_file`.

    Only for entries whose publisher gives an MD5 and no sha256 (IOPaint's TorchScript
    files); it is computed once, when such a file is first loaded, not on every run.
    """
    return _file_digest(path, "md5", True)


def remember_sha256(path: str | os.PathLike[str], digest: str) -> None:
    """Record a hash computed elsewhere (the downloader hashes while streaming)."""
    p = Path(path)
    key = _hash_key(p)
    with _LOCK:
        _HASH_MEMO[key] = digest
    _disk_memo_store(key, digest)

