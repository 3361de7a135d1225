"""Turning the user's INPUT argument into a sorted list of images with stable relative paths.

Why relative paths matter: outputs mirror the input tree under ``--out``, masks
are matched by relative path, and ``--shard I/N`` hashes it, so it must not
depend on the current directory or the order the file system lists entries.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from remove_people.errors import UsageError
from remove_people.pipeline.formats import IMAGE_SUFFIXES
from remove_people.pipeline.safe_read import regular_or_missing

LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})


#: A list file bigger than this is refused (a million paths take about 100 MB).
MAX_LIST_BYTES = 256 << 20


@dataclass(frozen=True)
class InputItem:
    """One image to process: its path, its path relative to the input root (forward slashes),
    and where its result goes once the output plan (``pipeline/output_plan.py``) has decided."""

    path: Path
    rel: str
    output: Path | None = None


@dataclass
class InputSet:
    items: list[InputItem]
    root: Path | None  # the folder outputs are mirrored from (None for list files of scattered paths)
    warnings: list[str]
    #: What INPUT named: "file" (one photo), "folder", "glob" or "list"; the output plan's defaults depend on it.
    kind: str = "folder"
    #: The path INPUT named (the photo, folder or list file; a glob's fixed prefix folder).
    source: Path | None = None


def _hidden_note(hidden: list[str]) -> list[str]:
    """One warning for image files skipped because their name starts with a dot (``..jpg``, ``._x.jpg``)."""
    if not hidden:
        return []
    shown = ", ".join(repr(h) for h in hidden[:3]) + (", ..." if len(hidden) > 3 else "")
    return [
        f"skipped {len(hidden)} hidden image file(s) (name starts with '.'): {shown}; "
        f"rename them, or name one directly as INPUT, to process them"
    ]


def _walk(root: Path, warnings: list[str]) -> list[Path]:
    """Image files below ``root``, following symlinked folders once (a symlink loop is reported, not followed).

    Hidden files (a leading dot: dot-files, macOS ``._`` companions, our own temp files) are
    not photos to process, but an image-named one is reported, never skipped without a word.
    """
    found: list[Path] = []
    hidden: list[str] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            warnings.append(f"{dirpath}: symlink loop or repeated folder; skipped")
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if name.startswith("."):
                hidden.append(_rel(Path(dirpath) / name, root))
                continue
            found.append(Path(dirpath) / name)
    warnings += _hidden_note(hidden)
    return found


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def collect_inputs(spec: str | Path) -> InputSet:
    """Expand an image file, a folder (recursive), a glob, or a text file listing paths."""
    text = str(spec)
    if "\x00" in text:
        raise UsageError(f"{text!r}: a path cannot contain a NUL byte")
    path = Path(text).expanduser()
    warnings: list[str] = []
    if path.is_dir():
        root = path
        files = _walk(root, warnings)
        return InputSet([InputItem(p, _rel(p, root)) for p in files], root, warnings, "folder", root)
    if path.is_file():
        if path.suffix.lower() in LIST_SUFFIXES:
            return _from_list(path)
        return InputSet([InputItem(path, path.name)], path.parent, warnings, "file", path)
    kind = regular_or_missing(path)
    if kind is not None:  # a FIFO, socket or device named as INPUT: never opened
        raise UsageError(f"{text}: is {kind}, not an image, folder or list file; only regular files are read")
    if any(c in text for c in "*?["):
        prefix = text[: min(text.find(c) for c in "*?[" if c in text)]
        root = Path(prefix) if prefix.endswith(os.sep) else Path(prefix).parent
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        hidden = [_rel(p, root) for p in files if p.name.startswith(".")]
        files = [p for p in files if not p.name.startswith(".")]
        warnings += _hidden_note(hidden)
        if not files:
            raise UsageError(f"{text}: the pattern matches no image ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return InputSet([InputItem(p, _rel(p, root)) for p in files], root, warnings, "glob", root)
    raise UsageError(f"{text}: no such file, folder or pattern")


def _from_list(list_file: Path) -> InputSet:
    """Each non-empty, non-# line is a path, relative to the list file's folder if not absolute.

    The list is read like any input (a regular file, bounded: ``MAX_LIST_BYTES``); a path
    listed twice is processed once, and a line that cannot be a path is reported.
    """
    from remove_people.errors import InputError
    from remove_people.pipeline.safe_read import read_regular

    try:
        data = read_regular(list_file, "list", MAX_LIST_BYTES, too_big="split it into several lists")
    except InputError as err:
        raise UsageError(str(err)) from None
    base = list_file.parent
    items: list[InputItem] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "\x00" in line:
            warnings.append(f"{list_file.name} line {n}: contains a NUL byte, not a path; skipped")
            continue
        p = Path(line).expanduser()
        p = p if p.is_absolute() else base / p
        key = os.path.normpath(os.path.abspath(p))
        if key in seen:
            warnings.append(f"{list_file.name} line {n}: {line} is already on line {seen[key]}; processed once")
            continue
        seen[key] = n
        rel = Path(line).as_posix() if not Path(line).is_absolute() else p.name
        rel = rel.lstrip("/")
        if ".." in Path(rel).parts:
            rel = p.name
        items.append(InputItem(p, rel))  # missing files are reported per image by the runner
    # scattered files: each one's folder counts as an input folder
    return InputSet(items, None, warnings, "list", list_file)


def shard_of(rel: str, count: int) -> int:
    """The shard (0..count-1) of a relative path: a stable hash, the same on every machine."""
    return int.from_bytes(hashlib.sha256(rel.encode("utf-8")).digest()[:8], "big") % count


def select_shard(items: list[InputItem], shard: str | None) -> list[InputItem]:
    """Keep the items of ``--shard I/N``."""
    if not shard:
        return items
    try:
        i_text, n_text = shard.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise UsageError(f"--shard {shard!r}: expected I/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise UsageError(f"--shard {shard!r}: need 0 <= I < N")
    return [it for it in items if shard_of(it.rel, n) == i]
