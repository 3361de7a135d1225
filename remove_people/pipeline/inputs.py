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

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"})
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})


@dataclass(frozen=True)
class InputItem:
    """One image to process: its path, and its path relative to the input root (forward slashes)."""

    path: Path
    rel: str


@dataclass
class InputSet:
    items: list[InputItem]
    root: Path | None  # the folder outputs are mirrored from (None for list files of scattered paths)
    warnings: list[str]


def _walk(root: Path, warnings: list[str]) -> list[Path]:
    """Image files below ``root``, following symlinked folders once (a symlink loop is reported, not followed)."""
    found: list[Path] = []
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
            if name.startswith("."):  # hidden files, and our own temp files
                continue
            if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath) / name)
    return found


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def collect_inputs(spec: str | Path) -> InputSet:
    """Expand an image file, a folder (recursive), a glob, or a text file listing paths."""
    text = str(spec)
    path = Path(text).expanduser()
    warnings: list[str] = []
    if path.is_dir():
        root = path
        files = _walk(root, warnings)
        return InputSet([InputItem(p, _rel(p, root)) for p in files], root, warnings)
    if path.is_file():
        if path.suffix.lower() in LIST_SUFFIXES:
            return _from_list(path)
        return InputSet([InputItem(path, path.name)], path.parent, warnings)
    if any(c in text for c in "*?["):
        prefix = text[: min(text.find(c) for c in "*?[" if c in text)]
        root = Path(prefix) if prefix.endswith(os.sep) else Path(prefix).parent
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
        if not files:
            raise UsageError(f"{text}: the pattern matches no image ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return InputSet([InputItem(p, _rel(p, root)) for p in files], root, warnings)
    raise UsageError(f"{text}: no such file, folder or pattern")


def _from_list(list_file: Path) -> InputSet:
    """Each non-empty, non-# line is a path, relative to the list file's folder if not absolute."""
    base = list_file.parent
    items: list[InputItem] = []
    warnings: list[str] = []
    for n, line in enumerate(list_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        p = p if p.is_absolute() else base / p
        rel = Path(line).as_posix() if not Path(line).is_absolute() else p.name
        rel = rel.lstrip("/")
        if ".." in Path(rel).parts:
            rel = p.name
        items.append(InputItem(p, rel))  # missing files are reported per image by the runner
    return InputSet(items, None, warnings)  # scattered files: each one's folder counts as an input folder


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


def check_output_dir(out: Path, inputs: InputSet) -> None:
    """Refuse an output folder equal to or inside the input folder: the input is never written."""
    out_r = out.expanduser().resolve()
    roots = [inputs.root] if inputs.root is not None else sorted({it.path.parent for it in inputs.items})
    for root in roots:
        root_r = root.resolve()
        if out_r == root_r or root_r in out_r.parents:
            raise UsageError(
                f"--out {out} is inside the input folder {root}; choose a folder outside it (inputs are never written)"
            )
