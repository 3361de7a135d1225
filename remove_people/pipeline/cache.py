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
both end with a complete one. ``meta.json`` records each file's sha256: a
truncated or garbled entry is detected on read, deleted and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from remove_people.stages.detect.base import Instance

STAGES = ("detect", "refine", "inpaint")
FORMAT_VERSION = 1
#: Entries are written into a folder named with this prefix and renamed into place; a folder
#: still carrying it (a writer killed mid-entry) is never read as an entry.
ENTRY_TEMP_PREFIX = ".tmp-"


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
    ok, buf = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - cv2 fails only on invalid arrays
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


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
        self.root = Path(root) if root else default_cache_dir()
        self.enabled = enabled
        self.stats = CacheStats()
        self._warn = warn or (lambda msg: print(msg, file=sys.stderr))
        self._warned_corrupt = False
        self._write_failed = False

    # -- generic entries -----------------------------------------------------------------

    def entry_dir(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def _read(self, stage: str, key: str) -> tuple[dict[str, Any], dict[str, bytes]] | None:
        """The entry's meta and file bytes, checksums verified; ``None`` on a miss or a bad entry."""
        if not self.enabled:
            return None
        d = self.entry_dir(stage, key)
        meta_path = d / "meta.json"
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            files = {}
            for name, digest in meta["files"].items():
                data = (d / name).read_bytes()
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ValueError(f"checksum mismatch in {name}")
                files[name] = data
            return meta, files
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._discard_corrupt(stage, d, err)
            return None

    def _discard_corrupt(self, stage: str, d: Path, err: Exception) -> None:
        self.stats.corrupt += 1
        if not self._warned_corrupt:
            self._warned_corrupt = True
            self._warn(f"cache: damaged entry {d} ({err}); recomputing it (further damaged entries are fixed silently)")
        shutil.rmtree(d, ignore_errors=True)

    def _write(self, stage: str, key: str, meta: dict[str, Any], files: dict[str, bytes]) -> None:
        """Store an entry; a cache that cannot be written (full disk, read-only) is reported
        once and then skipped: the cache only saves time, it must never stop a run."""
        if not self.enabled or self._write_failed:
            return
        try:
            self._write_entry(stage, key, meta, files)
        except OSError as err:
            self._write_failed = True
            self._warn(
                f"cache: cannot write to {self.root} ({err.strerror or err}); "
                f"going on without caching (free space or pass --cache-dir / --no-cache)"
            )

    def _write_entry(self, stage: str, key: str, meta: dict[str, Any], files: dict[str, bytes]) -> None:
        final = self.entry_dir(stage, key)
        if (final / "meta.json").exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{ENTRY_TEMP_PREFIX}{key[:16]}-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            meta = dict(meta, stage=stage, key=key, format=FORMAT_VERSION)
            meta["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
            try:
                os.rename(tmp, final)  # atomic; fails if another run got there first
            except OSError:
                if not (final / "meta.json").exists():
                    # A leftover without meta (an old crash): replace it.
                    shutil.rmtree(final, ignore_errors=True)
                    os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _count(self, stage: str, hit: bool) -> None:
        (self.stats.hits if hit else self.stats.misses)[stage] += 1

    def has(self, stage: str, key: str) -> bool:
        return self.enabled and (self.entry_dir(stage, key) / "meta.json").exists()

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

    def get_mask(self, key: str) -> tuple[np.ndarray, dict[str, Any], np.ndarray | None] | None:
        """The refined mask, the entry's metadata (e.g. how many persons it removes), and the
        source-exclusion mask (255 = persons that stay; ``None`` when there are none)."""
        entry = self._read("refine", key)
        self._count("refine", entry is not None)
        if entry is None:
            return None
        meta, files = entry
        mask = _decode_png(files["mask.png"], color=False)
        exclude = _decode_png(files["exclude.png"], color=False) if "exclude.png" in files else None
        if mask is None or ("exclude.png" in files and (exclude is None or exclude.shape != mask.shape)):
            self._discard_corrupt("refine", self.entry_dir("refine", key), ValueError("undecodable mask"))
            return None
        return mask, meta, exclude

    def put_mask(self, key: str, mask: np.ndarray, info: dict[str, Any], exclude: np.ndarray | None = None) -> None:
        files = {"mask.png": _encode_png(mask)}
        if exclude is not None:
            files["exclude.png"] = _encode_png(exclude)
        self._write("refine", key, info, files)

    def get_result(self, key: str) -> np.ndarray | None:
        entry = self._read("inpaint", key)
        self._count("inpaint", entry is not None)
        if entry is None:
            return None
        img = _decode_png(entry[1]["result.png"], color=True)
        if img is None:
            self._discard_corrupt("inpaint", self.entry_dir("inpaint", key), ValueError("undecodable result"))
            return None
        return img

    def put_result(self, key: str, rgb: np.ndarray, info: dict[str, Any]) -> None:
        self._write("inpaint", key, info, {"result.png": _encode_png(rgb)})

    # -- maintenance -------------------------------------------------------------------------

    def info(self) -> dict[str, dict[str, int]]:
        """Entries and bytes per stage."""
        out = {}
        for stage in STAGES:
            n = size = 0
            base = self.root / stage
            if base.exists():
                for meta in base.glob("*/*/meta.json"):
                    n += 1
                    size += sum(f.stat().st_size for f in meta.parent.iterdir() if f.is_file())
            out[stage] = {"entries": n, "bytes": size}
        return out

    def clear(self, stages: tuple[str, ...] = STAGES) -> int:
        """Delete the entries of ``stages``; returns how many were removed."""
        removed = 0
        for stage in stages:
            base = self.root / stage
            if base.exists():
                removed += sum(1 for _ in base.glob("*/*/meta.json"))
                shutil.rmtree(base)
        return removed
