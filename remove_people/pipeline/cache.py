"""The on-disk artifact cache: detections, refined masks and inpainted results, keyed by content.

Why content keys: a key is the sha256 of (the input's bytes, the stage's name,
parameters, code version and weights' identity, and the upstream key), so a
re-run with the same settings finds everything, a changed refine parameter
misses only refine and inpaint, and renaming or moving a photo costs nothing.

Layout (real files a person can open)::

    <root>/detect/ab/abcd…/meta.json, instance_000.png, …
    <root>/refine/ab/abcd…/meta.json, mask.png[, exclude.png]
    <root>/inpaint/ab/abcd…/meta.json, result.png

An entry is written into a hidden temp folder and renamed into place in one step,
so a killed run never leaves a half entry, and two runs writing the same entry
both end with a complete one. ``meta.json`` records each file's sha256 and is
checked against its stage's schema (``cache_layout.ENTRY_SCHEMAS``): a truncated,
garbled or malformed entry is detected on read, deleted and recomputed.

The root carries a marker (``CACHEDIR.TAG``, see ``pipeline/cache_layout.py``): a folder
that is not a cache is never written into or cleared, and no symlink inside the root
is followed. Files are read with ``pipeline/safe_read.py``: regular files only, bounded.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from remove_people.errors import InputError, UsageError
from remove_people.pipeline.cache_layout import (
    ENTRY_TEMP_PREFIX,
    FORMAT_VERSION,
    MARKER_NAME,
    MAX_ARTIFACT_BYTES,
    MAX_META_BYTES,
    META_NAME,
    ClearResult,
    clear_stages,
    count_entries,
    foreign_reason,
    load_meta,
    meta_problem,
    read_marker,
    remove_entry,
    write_marker,
)
from remove_people.pipeline.encode import opencv_encode
from remove_people.pipeline.safe_read import read_regular
from remove_people.stages import STAGES
from remove_people.stages.detect.base import Instance

__all__ = ["ArtifactCache", "CacheStats", "ENTRY_TEMP_PREFIX", "FORMAT_VERSION", "default_cache_dir", "make_key"]


def default_cache_dir() -> Path:
    """``$REMOVE_PEOPLE_CACHE``, else ``$XDG_CACHE_HOME/remove-people/artifacts`` (~/.cache/…)."""
    env = os.environ.get("REMOVE_PEOPLE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "remove-people" / "artifacts"


def make_key(*parts: Any) -> str:
    """sha256 of the canonical JSON of ``parts``: the same settings always give the same key."""
    blob = json.dumps([FORMAT_VERSION, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _encode_png(array: np.ndarray) -> bytes:
    """Lossless PNG; fast compression since cache entries are written far more than looked at."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    return opencv_encode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])


def _decode_png(data: bytes, color: bool) -> np.ndarray | None:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    if arr is None:
        return None
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB) if color else arr


@dataclass
class CacheStats:
    hits: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STAGES})
    misses: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STAGES})
    corrupt: int = 0


class ArtifactCache:
    """Read and write stage artifacts. With ``enabled=False`` every read misses and nothing is written."""

    def __init__(self, root: Path | None = None, enabled: bool = True, warn=None) -> None:
        self.root = Path(root).expanduser() if root else default_cache_dir()
        self.enabled = enabled
        self.stats = CacheStats()
        self._warn = warn or (lambda msg: print(msg, file=sys.stderr))
        self._warned_corrupt = False
        self._write_failed = False
        #: What the root is, checked on first use: "absent", "ours" or "unusable" (see ``_root_state``).
        self._state: str | None = None
        self._root_lock = threading.Lock()

    # -- the root --------------------------------------------------------------------------

    def _root_state(self) -> str:
        """Is the root ours to read and write? Checked once; a folder that is not a cache is
        reported once and then left alone (the cache only saves time, it never stops a run)."""
        if self._state is not None:
            return self._state
        root = self.root
        if not os.path.lexists(root):
            self._state = "absent"
        elif not root.is_dir():
            self._state = "unusable"
            self._warn(f"cache: {root} is not a folder; going on without caching (pass another --cache-dir or --no-cache)")
        else:
            version = read_marker(root)
            if version == FORMAT_VERSION:
                self._state = "ours"
            elif version is not None:
                self._state = "unusable"
                self._warn(
                    f"cache: {root} is a remove-people cache of format {version}, not {FORMAT_VERSION}; going on without "
                    f"caching (run `remove-people cache clear --cache-dir {root}` with that version, or pass another --cache-dir)"
                )
            else:
                reason = foreign_reason(root)
                if reason is None:  # empty, or a cache of the previous version (no marker yet): adopt it
                    self._state = "ours"
                    try:
                        write_marker(root)
                    except OSError:
                        pass  # read-only: still readable; a write failure is reported when it happens
                else:
                    self._state = "unusable"
                    self._warn(
                        f"cache: {root} is not a remove-people cache (no {MARKER_NAME}, and {reason}); going on without "
                        f"caching (pass an empty or new --cache-dir)"
                    )
        return self._state

    def _usable(self) -> bool:
        return self.enabled and self._root_state() != "unusable"

    # -- generic entries -----------------------------------------------------------------

    def entry_dir(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def _read(self, stage: str, key: str) -> tuple[dict[str, Any], dict[str, bytes]] | None:
        """The entry's meta and file bytes, checksums and schema verified; ``None`` on a miss or a bad entry."""
        if not self._usable() or self._state == "absent":
            return None
        d = self.entry_dir(stage, key)
        meta_path = d / META_NAME
        if not os.path.lexists(meta_path):
            return None
        try:
            if os.path.islink(d):
                raise ValueError("the entry folder is a symlink")
            meta = load_meta(read_regular(meta_path, "cache", MAX_META_BYTES, follow_symlinks=False))
            problem = meta_problem(stage, key, meta)
            if problem:
                raise ValueError(problem)
            files = {}
            for name, digest in meta["files"].items():
                data = read_regular(d / name, "cache", MAX_ARTIFACT_BYTES, follow_symlinks=False)
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ValueError(f"checksum mismatch in {name}")
                files[name] = data
            return meta, files
        except (InputError, ValueError) as err:
            self._discard_corrupt(stage, d, err)
            return None

    def _discard_corrupt(self, stage: str, d: Path, err: Exception) -> None:
        self.stats.corrupt += 1
        if not self._warned_corrupt:
            self._warned_corrupt = True
            self._warn(f"cache: damaged entry {d} ({err}); recomputing it (further damaged entries are fixed silently)")
        if os.path.islink(d):
            try:
                os.unlink(d)  # the link only, never what it points to
            except OSError:
                pass
        else:
            remove_entry(d, stage, discard=True)

    def _write(self, stage: str, key: str, meta: dict[str, Any], files: dict[str, bytes]) -> None:
        """Store an entry; a cache that cannot be written (full disk, read-only) is reported
        once and then skipped: the cache only saves time, it must never stop a run."""
        if not self._usable() or self._write_failed:
            return
        try:
            with self._root_lock:  # during a run, entries are written from its cache-writer thread
                if self._state == "absent":
                    self.root.mkdir(parents=True, exist_ok=True)
                    write_marker(self.root)
                    self._state = "ours"
            self._write_entry(stage, key, meta, files)
        except OSError as err:
            self._write_failed = True
            self._warn(
                f"cache: cannot write to {self.root} ({err.strerror or err}); "
                f"going on without caching (free space or pass --cache-dir / --no-cache)"
            )

    def _write_entry(self, stage: str, key: str, meta: dict[str, Any], files: dict[str, bytes]) -> None:
        final = self.entry_dir(stage, key)
        if (final / META_NAME).exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{ENTRY_TEMP_PREFIX}{key[:16]}-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            meta = dict(meta, stage=stage, key=key, format=FORMAT_VERSION)
            meta["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            (tmp / META_NAME).write_text(json.dumps(meta, indent=1, sort_keys=True))
            try:
                os.rename(tmp, final)  # atomic; fails if another run got there first
            except OSError:
                if not (final / META_NAME).exists():
                    # A leftover without meta (an old crash, a discarded entry): replace it.
                    remove_entry(final, stage, discard=True)
                    try:
                        os.rename(tmp, final)
                    except OSError as err:
                        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                            raise
                        # The slot holds something the cache did not write: this one entry stays
                        # uncached, the rest of the cache goes on.
        finally:
            if tmp.exists():
                remove_entry(tmp, stage)

    def _count(self, stage: str, hit: bool) -> None:
        (self.stats.hits if hit else self.stats.misses)[stage] += 1

    def has(self, stage: str, key: str) -> bool:
        return self._usable() and (self.entry_dir(stage, key) / META_NAME).exists()

    # -- typed artifacts -------------------------------------------------------------------

    def get_instances(self, key: str) -> list[Instance] | None:
        entry = self._read("detect", key)
        self._count("detect", entry is not None)
        if entry is None:
            return None
        meta, files = entry
        out = []
        for rec in meta["instances"]:
            mask = _decode_png(files[rec["mask"]], color=False)
            if mask is None:
                self._discard_corrupt("detect", self.entry_dir("detect", key), ValueError("undecodable mask"))
                return None
            out.append(Instance(mask > 0, rec["score"], rec["label"], rec["class_id"], tuple(rec["box"])))
        return out

    def put_instances(self, key: str, instances: list[Instance], info: dict[str, Any]) -> None:
        files, recs = {}, []
        for i, inst in enumerate(instances):
            name = f"instance_{i:03d}.png"
            files[name] = _encode_png(inst.mask.astype(np.uint8) * 255)
            recs.append({"mask": name, "score": inst.score, "label": inst.label, "class_id": inst.class_id, "box": list(inst.box or ())})
        self._write("detect", key, {"instances": recs, **info}, files)

    def get_mask(
        self, key: str, shape: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, dict[str, Any], np.ndarray | None] | None:
        """The refined mask, the entry's metadata (e.g. how many persons it removes), and the
        source-exclusion mask (255 = persons that stay; ``None`` when there are none).

        ``shape`` (H, W): a mask of another size is a damaged entry (recomputed), never used.
        """
        entry = self._read("refine", key)
        mask = exclude = None
        if entry is not None:
            files = entry[1]
            mask = _decode_png(files["mask.png"], color=False)
            exclude = _decode_png(files["exclude.png"], color=False) if "exclude.png" in files else None
            bad = mask is None or (shape is not None and mask.shape != tuple(shape))
            bad = bad or ("exclude.png" in files and (exclude is None or exclude.shape != mask.shape))
            if bad:
                self._discard_corrupt("refine", self.entry_dir("refine", key), ValueError("undecodable mask, or not the photo's size"))
                entry = None
        self._count("refine", entry is not None)
        return (mask, entry[0], exclude) if entry is not None else None

    def put_mask(self, key: str, mask: np.ndarray, info: dict[str, Any], exclude: np.ndarray | None = None) -> None:
        files = {"mask.png": _encode_png(mask)}
        if exclude is not None:
            files["exclude.png"] = _encode_png(exclude)
        self._write("refine", key, info, files)

    def get_result(self, key: str, shape: tuple[int, int] | None = None) -> np.ndarray | None:
        """The inpainted photo; ``shape`` (H, W) as for :meth:`get_mask`."""
        entry = self._read("inpaint", key)
        img = None
        if entry is not None:
            img = _decode_png(entry[1]["result.png"], color=True)
            if img is None or (shape is not None and img.shape[:2] != tuple(shape)):
                self._discard_corrupt("inpaint", self.entry_dir("inpaint", key), ValueError("undecodable result, or not the photo's size"))
                img = None
        self._count("inpaint", img is not None)
        return img

    def put_result(self, key: str, rgb: np.ndarray, info: dict[str, Any]) -> None:
        self._write("inpaint", key, info, {"result.png": _encode_png(rgb)})

    # -- maintenance -------------------------------------------------------------------------

    def info(self) -> dict[str, dict[str, int]]:
        """Entries and bytes per stage (never following a link)."""
        out = {}
        for stage in STAGES:
            n, size = count_entries(self.root, stage)
            out[stage] = {"entries": n, "bytes": size}
        return out

    def clear(self, stages: tuple[str, ...] = STAGES) -> ClearResult:
        """Delete the entries of ``stages``, and only what the cache wrote (``cache_layout.clear_stages``).

        A folder that is not a cache (no marker, and not a cache of the previous version,
        which is adopted) is refused with a ``UsageError``: nothing is deleted.
        """
        if not os.path.lexists(self.root):
            return ClearResult()
        root = Path(os.path.realpath(self.root))  # a root that is itself a link (e.g. onto another disk) is followed once
        if not root.is_dir():
            raise UsageError(f"--cache-dir {self.root}: not a folder; nothing deleted")
        version = read_marker(root)
        if version is None:
            reason = foreign_reason(root)
            if reason is not None:
                raise UsageError(
                    f"--cache-dir {self.root}: not a remove-people cache (no {MARKER_NAME}, and {reason}); nothing deleted"
                )
            try:
                write_marker(root)  # a cache of the previous version: adopt it
            except OSError:
                pass
        elif version != FORMAT_VERSION:
            raise UsageError(
                f"--cache-dir {self.root}: a cache of format {version}, not {FORMAT_VERSION}; clear it with that "
                f"remove-people version, or delete the folder yourself; nothing deleted"
            )
        return clear_stages(root, tuple(stages))
