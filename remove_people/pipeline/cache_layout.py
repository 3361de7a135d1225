"""What a cache folder holds, recognised without trusting it: its marker, each stage's entry
schema, and a ``clear`` that deletes only what the cache wrote (issue 20 items 5 and 10).

Why: ``cache clear --cache-dir DIR`` once deleted the source files of a folder that was
not a cache at all, a symlink inside a cache made it end in a traceback, and a damaged
entry whose JSON still parsed (``{"files": {}}``, ``"persons": "abc"``) aborted a run.
So:

* **A marker at the root.** A cache folder carries ``CACHEDIR.TAG`` (the Cache Directory
  Tagging convention, so backup tools skip it too) with a line naming remove-people and
  the cache format. It is written when the cache is created. A folder without it is
  never cleared, and never written into, unless it is empty or looks entirely like a
  cache of the previous version (which had no marker): then it is adopted (marked) once,
  so users upgrading keep their cache.
* **Each stage's entry schema in one place** (``ENTRY_SCHEMAS``): the files an entry may
  hold and the fields its ``meta.json`` must have. Reading checks an entry against it
  (and recomputes a bad one); clearing deletes only files it allows. To add an artifact
  to a stage (as ``exclude.png`` beside ``mask.png``), add its name to that stage's
  ``files`` (required) or ``optional_files``.
* **No symlink is ever followed** inside the root, and no file system surprise (a
  symlink, a FIFO, a foreign file, a permission error) becomes a traceback: it is left
  alone and reported.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from remove_people.stages import STAGES
#: Part of every key and every entry's meta; the marker names it too.
FORMAT_VERSION = 1
#: Entries are written into a folder named with this prefix and renamed into place; a folder
#: still carrying it (a writer killed mid-entry) is never read as an entry.
ENTRY_TEMP_PREFIX = ".tmp-"
MARKER_NAME = "CACHEDIR.TAG"
META_NAME = "meta.json"
_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
_MARKER_RE = re.compile(r"^# remove-people artifact cache, format (\d+)\s*$", re.MULTILINE)
_SHARD_RE = re.compile(r"[0-9a-f]{2}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
#: Bounds of what the cache reads back: it never reads more than this of one file.
MAX_META_BYTES = 64 << 20
MAX_ARTIFACT_BYTES = 4 << 30


def marker_text(version: int = FORMAT_VERSION) -> str:
    return (
        f"{_TAG_SIGNATURE}\n"
        f"# This file is a cache directory tag created by remove-people.\n"
        f"# remove-people artifact cache, format {version}\n"
        f"# `remove-people cache clear` deletes only the entries below this folder; see https://bford.info/cachedir/\n"
    )


# -- entry schemas ------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_count(v: Any) -> bool:
    return _is_int(v) and v >= 0


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _detect_instances(meta: dict[str, Any]) -> str | None:
    """Each instance record names one of the entry's mask files and has a score, label, class and box."""
    recs = meta.get("instances")
    if not isinstance(recs, list):
        return "'instances' is not a list"
    files = meta["files"]
    for n, rec in enumerate(recs):
        if not isinstance(rec, dict):
            return f"instances[{n}] is not an object"
        if not (_is_str(rec.get("mask")) and rec["mask"] in files):
            return f"instances[{n}].mask names no file of the entry"
        if not _is_number(rec.get("score")) or not _is_str(rec.get("label")) or not _is_int(rec.get("class_id")):
            return f"instances[{n}] lacks a finite score, a label or an integer class_id"
        box = rec.get("box")
        if not (isinstance(box, list) and len(box) in (0, 4) and all(_is_number(b) for b in box)):
            return f"instances[{n}].box is not 0 or 4 finite numbers"
    return None


@dataclass(frozen=True)
class EntrySchema:
    """What one stage's entry holds besides ``meta.json``, and what its meta must say."""

    files: tuple[str, ...] = ()  #: required files
    optional_files: tuple[str, ...] = ()  #: files that may be there
    file_pattern: str | None = None  #: further file names allowed (a regular expression, whole name)
    fields: tuple[tuple[str, Callable[[Any], bool], str], ...] = ()  #: (meta field, check, what it must be)
    check: Callable[[dict[str, Any]], str | None] | None = None  #: a check across fields

    def allows(self, name: str) -> bool:
        if name in self.files or name in self.optional_files:
            return True
        return bool(self.file_pattern and re.fullmatch(self.file_pattern, name))

    def problem(self, meta: dict[str, Any]) -> str | None:
        missing = [f for f in self.files if f not in meta["files"]]
        if missing:
            return f"no {', '.join(missing)}"
        for name, ok, what in self.fields:
            if not ok(meta.get(name)):
                return f"'{name}' is not {what}"
        return self.check(meta) if self.check else None


ENTRY_SCHEMAS: dict[str, EntrySchema] = {
    "detect": EntrySchema(file_pattern=r"instance_\d{3,}\.png", check=_detect_instances),
    # exclude.png: the persons who stay (source exclusion, issue 15), written beside the mask when there are any.
    "refine": EntrySchema(files=("mask.png",), optional_files=("exclude.png",), fields=(("persons", _is_count, "a count"),)),
    "inpaint": EntrySchema(files=("result.png",)),
}


def meta_problem(stage: str, key: str, meta: Any) -> str | None:
    """Why ``meta`` is not a valid ``meta.json`` of entry ``key`` of ``stage`` (``None``: it is)."""
    if not isinstance(meta, dict):
        return "meta.json is not an object"
    if meta.get("stage") != stage or meta.get("key") != key or meta.get("format") != FORMAT_VERSION:
        return "meta.json names another stage, key or format"
    files = meta.get("files")
    if not isinstance(files, dict):
        return "'files' is not an object"
    schema = ENTRY_SCHEMAS[stage]
    for name, digest in files.items():
        if not schema.allows(name):
            return f"'files' names {name!r}, which a {stage} entry never holds"
        if not (isinstance(digest, str) and _HEX64_RE.fullmatch(digest)):
            return f"the checksum of {name} is not a sha256"
    return schema.problem(meta)


# -- the root -------------------------------------------------------------------------------------


def read_marker(root: Path) -> int | None:
    """The format version in ``root``'s marker, or ``None`` if there is no (readable, regular) marker."""
    from remove_people.errors import InputError
    from remove_people.pipeline.safe_read import read_regular

    try:
        text = read_regular(root / MARKER_NAME, "marker", 1 << 16, follow_symlinks=False).decode("utf-8", "replace")
    except InputError:
        return None
    m = _MARKER_RE.search(text)
    return int(m.group(1)) if m and text.startswith(_TAG_SIGNATURE) else None


def write_marker(root: Path) -> None:
    from remove_people.pipeline.atomic import atomic_write_bytes

    atomic_write_bytes(root / MARKER_NAME, marker_text().encode("utf-8"))


def _scandir(path: Path) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def _is_real_dir(e: os.DirEntry) -> bool:
    return e.is_dir(follow_symlinks=False)


def _is_real_file(e: os.DirEntry) -> bool:
    return e.is_file(follow_symlinks=False)


def foreign_reason(root: Path) -> str | None:
    """Why an unmarked folder is not a cache of ours (``None``: empty, or every entry looks like ours).

    "Looks like ours": only stage folders at the top, two-hex-digit shard folders, entry
    folders named by a sha256 key (or a writer's temp folder), and in each entry only
    ``meta.json`` and the files its stage's schema allows; no symlink anywhere. Only
    names are checked, so adopting a big cache of the previous version is quick.
    """
    try:
        for top in _scandir(root):
            if top.name not in STAGES or not _is_real_dir(top):
                return f"it holds {top.name!r}, which the cache never writes"
            schema = ENTRY_SCHEMAS[top.name]
            for shard in _scandir(Path(top.path)):
                if not (_is_real_dir(shard) and _SHARD_RE.fullmatch(shard.name)):
                    return f"it holds {top.name}/{shard.name}, which the cache never writes"
                for entry in _scandir(Path(shard.path)):
                    if not _is_real_dir(entry) or not (
                        (_HEX64_RE.fullmatch(entry.name) and entry.name.startswith(shard.name))
                        or entry.name.startswith(ENTRY_TEMP_PREFIX)
                    ):
                        return f"it holds {top.name}/{shard.name}/{entry.name}, which the cache never writes"
                    for f in _scandir(Path(entry.path)):
                        if not (_is_real_file(f) and (f.name == META_NAME or schema.allows(f.name))):
                            return f"it holds {top.name}/{shard.name}/{entry.name}/{f.name}, which the cache never writes"
    except OSError as err:
        return f"it cannot be read ({err.strerror or err})"
    return None


# -- clearing ---------------------------------------------------------------------------------------


@dataclass
class ClearResult:
    removed: int = 0  #: complete entries deleted
    left: list[str] = field(default_factory=list)  #: what was not deleted and why, one line each


def remove_entry(entry: Path, stage: str, result: ClearResult | None = None, discard: bool = False) -> bool:
    """Delete one entry folder's own files (never following a link), then the folder if empty.

    Returns True if the folder is gone. Anything else in it stays and goes to ``result.left``.
    ``discard`` (a damaged entry whose slot must be freed for a fresh one): whatever sits
    under one of the entry's own file names goes too, a link or a FIFO included (unlinked,
    never followed or opened); other names and sub-folders still stay.
    """
    result = result if result is not None else ClearResult()
    schema = ENTRY_SCHEMAS[stage]
    try:
        if os.path.islink(entry):
            result.left.append(f"{entry}: a symlink, not an entry the cache wrote; left alone")
            return False
        kept = False
        for f in _scandir(entry):
            ours = f.name == META_NAME or schema.allows(f.name)
            if ours and (_is_real_file(f) or (discard and not _is_real_dir(f))):
                os.unlink(f.path)
            else:
                kept = True
                result.left.append(f"{f.path}: not a file the cache writes; left alone")
        if kept:
            return False
        os.rmdir(entry)
        return True
    except FileNotFoundError:
        return True  # another run removed it first
    except OSError as err:
        result.left.append(f"{entry}: cannot remove ({err.strerror or err})")
        return False


def _rmdir_if_empty(path: Path, result: ClearResult) -> None:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        if not os.path.isdir(path) or os.listdir(path):
            return  # not empty: what is left was reported already
        result.left.append(f"{path}: cannot remove ({err.strerror or err})")


def clear_stages(root: Path, stages: tuple[str, ...]) -> ClearResult:
    """Delete the entries of ``stages`` under a marked ``root`` (see the module docstring)."""
    result = ClearResult()
    for stage in stages:
        base = root / stage
        if not os.path.lexists(base):
            continue
        if os.path.islink(base) or not base.is_dir():
            result.left.append(f"{base}: not a folder the cache made (a symlink or a file); left alone")
            continue
        try:
            shards = _scandir(base)
        except OSError as err:
            result.left.append(f"{base}: cannot list ({err.strerror or err})")
            continue
        for shard in shards:
            if not (_is_real_dir(shard) and _SHARD_RE.fullmatch(shard.name)):
                result.left.append(f"{shard.path}: not a folder the cache made; left alone")
                continue
            try:
                entries = _scandir(Path(shard.path))
            except OSError as err:
                result.left.append(f"{shard.path}: cannot list ({err.strerror or err})")
                continue
            for entry in entries:
                is_temp = entry.name.startswith(ENTRY_TEMP_PREFIX)
                if not _is_real_dir(entry) or not (_HEX64_RE.fullmatch(entry.name) or is_temp):
                    result.left.append(f"{entry.path}: not an entry the cache wrote; left alone")
                    continue
                meta = os.path.join(entry.path, META_NAME)
                complete = not is_temp and os.path.isfile(meta) and not os.path.islink(meta)
                remove_entry(Path(entry.path), stage, result)
                if complete and not os.path.lexists(meta):  # its meta is gone: it is no longer an entry
                    result.removed += 1
            _rmdir_if_empty(Path(shard.path), result)
        _rmdir_if_empty(base, result)
    return result


def count_entries(root: Path, stage: str) -> tuple[int, int]:
    """(complete entries, bytes of their files) of ``stage``, never following a link."""
    n = size = 0
    base = root / stage
    if os.path.islink(base) or not base.is_dir():
        return 0, 0
    try:
        for shard in _scandir(base):
            if not _is_real_dir(shard):
                continue
            for entry in _scandir(Path(shard.path)):
                if not _is_real_dir(entry) or entry.name.startswith(ENTRY_TEMP_PREFIX):
                    continue
                files = [f for f in _scandir(Path(entry.path)) if _is_real_file(f)]
                if any(f.name == META_NAME for f in files):
                    n += 1
                    size += sum(f.stat(follow_symlinks=False).st_size for f in files)
    except OSError:
        pass  # a folder vanishing or unreadable mid-count: the count is a hint
    return n, size


def load_meta(data: bytes) -> Any:
    """``meta.json``'s object; ``ValueError`` for anything that is not JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"meta.json is not JSON ({type(err).__name__})") from None


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
