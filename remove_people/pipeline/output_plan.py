"""Where every output goes, decided for all inputs before any image is read (issue 20).

Why a plan first, and not a path computed per image as it is written:

* **Nothing lost.** Two inputs could map to one output (``a.jpg`` and ``a.png`` with
  ``--format png``; ``a.jpg`` and ``a.JPG`` on a case-insensitive disk; a list naming
  ``/x/a.jpg`` and ``/y/a.jpg``; ``b.mask.png`` beside ``b.jpg`` with ``--save-masks``),
  and one result silently overwrote the other. With every name known up front, a clash
  is resolved in one stable, documented way (below) and reported.
* **Never a write into the inputs.** Every planned path (result, ``.mask.png``,
  ``.compare.jpg``) is resolved with symlinks followed and refused, once and up front
  (exit 2), if it lands on an input file, inside an input folder (a nested layout, or
  ``out/sub`` being a symlink to ``in/sub``) or inside the cache. A cache folder inside
  an input folder is refused too: its PNGs would be read as photos by the next run.
* **One usage error, not one per image.** ``--out`` naming an existing file fails here.
* **The same names on every machine.** The plan is made over all inputs before
  ``--shard`` picks its part, so every shard agrees on who got which name.

Name clashes: output names are compared as the disks of macOS and Windows do (ignoring
case, after Unicode normalisation), so a result copied there loses nothing either. When
several inputs want one name, the first of them in this order keeps it: the input whose
output name is its own name unchanged, then inputs not named like our side files
(``*.mask.png``, ``*.compare.jpg``), then by relative path. The others get ``-2``,
``-3``, ... before the suffix (``a.png`` → ``a-2.png``), never a name another input
wants, and each is reported in one warning line. A side file always follows its photo
(``a-2.mask.png`` beside ``a-2.png``).

One photo (``remove-people run photo.jpg`` without ``--out``): the result is written
beside it as ``photo-no-people.jpg`` (``--format`` changes the suffix), its mask and
comparison as ``photo-no-people.mask.png`` / ``photo-no-people.compare.jpg``. A folder,
glob or list file gets a folder ``NAME-no-people`` beside it.
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remove_people.errors import UsageError
from remove_people.pipeline.formats import FORMAT_SUFFIX, normalize_format
from remove_people.pipeline.inputs import InputItem, InputSet

MASK_SUFFIX = ".mask.png"
COMPARE_SUFFIX = ".compare.jpg"
#: Added to the input's name for the default output (``photos`` → ``photos-no-people``).
DEFAULT_OUT_TAG = "-no-people"


def format_suffix(fmt: Any) -> str | None:
    """The output suffix of ``--format`` (``None`` keeps each input's own); a bad name is a usage error."""
    if not fmt:
        return None
    try:
        return FORMAT_SUFFIX[normalize_format(str(fmt))][0]
    except UsageError:
        raise UsageError(f"--format {fmt}: valid formats: jpeg, png, webp, tiff, bmp") from None


def _stem_end(path: str) -> int:
    """Where the suffix of ``path``'s last component starts (``len(path)`` if none), as pathlib's
    ``stem`` / ``suffix`` split it; on strings, because a plan handles every input three times."""
    start = path.rfind("/") + 1
    i = path.rfind(".")
    return i if start < i < len(path) - 1 else len(path)


def _side_names(rel: str) -> tuple[str, str]:
    stem = rel[: _stem_end(rel)]
    return stem + MASK_SUFFIX, stem + COMPARE_SUFFIX


def side_paths(image: Path) -> tuple[Path, Path]:
    """(mask, comparison) written beside an output: ``NAME.mask.png`` and ``NAME.compare.jpg``."""
    return image.with_name(image.stem + MASK_SUFFIX), image.with_name(image.stem + COMPARE_SUFFIX)


@dataclass
class OutputPlan:
    """The inputs with each item's ``output`` set, and what to tell the user."""

    inputs: InputSet
    #: The output folder, or for one photo without ``--out`` the output file itself.
    where: Path
    #: rel → the output name it got instead of its natural one (name clashes).
    renamed: dict[str, str] = field(default_factory=dict)


def default_output(inputs: InputSet, suffix: str | None) -> Path:
    """Where results go without ``--out``: beside the input (see the module docstring)."""
    if inputs.kind == "file" and len(inputs.items) == 1:
        photo = inputs.items[0].path
        return photo.with_name(f"{photo.stem}{DEFAULT_OUT_TAG}{suffix or photo.suffix}")
    if inputs.kind == "list" and inputs.source is not None:
        return inputs.source.with_name(f"{inputs.source.stem}{DEFAULT_OUT_TAG}")
    base = inputs.source or inputs.root or Path(".")
    if base.name in ("", ".", ".."):
        base = Path(os.path.abspath(base))
    return base.parent / f"{base.name or 'output'}{DEFAULT_OUT_TAG}"


def _key(rel: str) -> str:
    """How a file system that ignores case (macOS, Windows, FAT) compares names."""
    return unicodedata.normalize("NFC", rel).casefold()


def _is_side_name(rel: str) -> bool:
    low = rel.lower()
    return low.endswith(MASK_SUFFIX) or low.endswith(COMPARE_SUFFIX)


_CLAIM_KINDS = ("result", "mask", "comparison")


def _claims(rel: str, sides: bool) -> list[str]:
    """The relative paths an output named ``rel`` writes: itself, and its side files when enabled
    (in the order of ``_CLAIM_KINDS``)."""
    if not sides:
        return [rel]
    return [rel, *_side_names(rel)]


def _numbered(rel: str, n: int) -> str:
    end = _stem_end(rel)
    return f"{rel[:end]}-{n}{rel[end:]}"


@dataclass(frozen=True)
class Clash:
    """Why an output was renamed: which of its files would be which file of another input."""

    path: str  # our planned file that clashed
    kind: str  # what it is: "result", "mask" or "comparison"
    other_rel: str
    other_path: str  # the other input's planned file
    other_kind: str

    def describe(self, rel: str, name: str) -> str:
        case = " (names differing only in case are one file on macOS and Windows disks)" if self.other_path != self.path else ""
        return (
            f"{rel}: its {self.kind} {self.path} would be the same file as the {self.other_kind} of {self.other_rel} "
            f"({self.other_path}){case}; written as {name}"
        )


def assign_names(items: list[InputItem], suffix: str | None, sides: bool) -> tuple[dict[int, str], dict[int, Clash]]:
    """Output names (relative to the output folder) for ``items``, clashes resolved as documented above.

    Returns (index → name, index → the clash that renamed it, for the renamed ones only).
    """
    natural = [Path(it.rel).with_suffix(suffix).as_posix() if suffix else it.rel for it in items]
    reserved = {_key(c) for rel in natural for c in _claims(rel, sides)}
    order = sorted(
        range(len(items)),
        key=lambda i: (natural[i] != items[i].rel, _is_side_name(items[i].rel), items[i].rel, str(items[i].path)),
    )
    taken: dict[str, tuple[int, str, str]] = {}  # key → (index, the path as planned, its kind)
    names: dict[int, str] = {}
    renamed: dict[int, Clash] = {}
    for i in order:
        name = natural[i]
        claims = _claims(name, sides)
        keys = [_key(c) for c in claims]
        hit = next(((j, taken[k]) for j, k in enumerate(keys) if k in taken), None)
        if hit is not None:
            n = 2
            while True:
                name = _numbered(natural[i], n)
                keys = [_key(c) for c in _claims(name, sides)]
                if not any(k in taken or k in reserved for k in keys):
                    break
                n += 1
            j, (other, other_path, other_kind) = hit
            renamed[i] = Clash(claims[j], _CLAIM_KINDS[j], items[other].rel, other_path, other_kind)
        taken.update({k: (i, c, kind) for k, c, kind in zip(keys, _claims(name, sides), _CLAIM_KINDS)})
        names[i] = name
    return names, renamed


#: What ``_safety_problems`` records for a folder inside the cache (no input folder is named so).
_IN_CACHE = "\0cache"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Resolver:
    """``realpath`` of a file's folder, memoised: folders are few, files are many."""

    def __init__(self) -> None:
        self._dirs: dict[str, str] = {}

    def __call__(self, path: Path | str) -> str:
        parent, name = os.path.split(os.fspath(path))
        real = self._dirs.get(parent)
        if real is None:
            real = self._dirs[parent] = os.path.realpath(parent or ".")
        return os.path.join(real, name)


def _check_out_folder(out: Path) -> None:
    """``--out`` must be a folder or creatable as one: an existing file fails here, once."""
    probe = out
    while True:
        if os.path.lexists(probe):
            if not probe.is_dir():
                if probe == out:
                    raise UsageError(f"--out {out} is an existing file, not a folder; give a folder (it is created if missing)")
                raise UsageError(f"--out {out}: {probe} is a file, so the folder cannot be made; give another --out")
            return
        if probe.parent == probe:
            return
        probe = probe.parent


def _input_roots(inputs: InputSet) -> list[tuple[Path, str]]:
    """The input folders nothing may be written into: (as named, resolved).

    One photo named alone has none (its result goes beside it, never onto it); a list
    file's photos each count their own folder, as they may be scattered.
    """
    if inputs.kind == "file":
        return []
    if inputs.kind == "list" or inputs.root is None:
        folders = sorted({it.path.parent for it in inputs.items}, key=str)
    else:
        folders = [inputs.root]
    return [(f, os.path.realpath(f)) for f in folders]


def _safety_problems(
    inputs: InputSet, out_dir: Path | None, planned: list[tuple[InputItem, list[str]]], cache_root: Path | None
) -> list[str]:
    """Every way the plan would write where it must not (see the module docstring), one line each."""
    roots = _input_roots(inputs)
    cache = os.path.realpath(cache_root) if cache_root is not None else None
    problems: list[str] = []
    if cache is not None:
        for named, real in roots:
            if _inside(cache, real):
                problems.append(
                    f"the cache folder {cache_root} is inside the input folder {named}: its files would be read as "
                    f"photos by the next run; choose a --cache-dir outside the input (or --no-cache)"
                )
            elif _inside(real, cache):
                problems.append(f"the input folder {named} is inside the cache folder {cache_root}; choose another --cache-dir")
    if out_dir is not None:
        out_real = os.path.realpath(out_dir)
        for named, real in roots:
            if _inside(out_real, real):
                problems.append(
                    f"--out {out_dir} is inside the input folder {named}; choose a folder outside it (inputs are never written)"
                )
        if cache is not None and _inside(out_real, cache):
            problems.append(f"--out {out_dir} is inside the cache folder {cache_root}; choose another --out")
    if problems:
        return problems

    resolve = _Resolver()
    input_files: dict[str, Path] = {}
    for it in inputs.items:
        input_files[resolve(it.path)] = it.path
        if os.path.islink(it.path):  # the photo itself is a link: its target is an input too
            input_files[os.path.realpath(it.path)] = it.path
    root_by_real = {real: named for named, real in roots}
    verdicts: dict[str, str] = {}  # resolved folder → the input folder it lies in, _IN_CACHE, or ""

    def verdict(folder: str) -> str:
        """The input folder (or "cache") a resolved folder lies in, by walking up its parents once."""
        got = verdicts.get(folder)
        if got is None:
            probe, got = folder, ""
            while True:
                if probe in root_by_real:
                    got = str(root_by_real[probe])
                    break
                parent = os.path.dirname(probe)
                if parent == probe:
                    break
                probe = parent
            if not got and cache is not None and _inside(folder, cache):
                got = _IN_CACHE
            verdicts[folder] = got
        return got

    for it, paths in planned:
        for p in paths:
            real = resolve(p)
            hit = input_files.get(real)
            where = verdict(os.path.dirname(real)) if hit is None else ""
            if hit is None and not where:
                continue
            via = "" if real == os.path.abspath(p) else f" (through a symlink: it resolves to {real})"
            if hit is not None:
                problems.append(f"{p}: the output of {it.rel} would overwrite the input file {hit}{via}; choose another --out")
            elif where == _IN_CACHE:
                problems.append(f"{p}: the output of {it.rel} would be written inside the cache folder {cache_root}{via}; choose another --out")
            else:
                problems.append(
                    f"{p}: the output of {it.rel} would be written inside the input folder {where}{via}; "
                    f"choose an --out outside the input tree (inputs are never written)"
                )
    return problems


def plan_outputs(
    inputs: InputSet,
    out: Path | None,
    *,
    fmt: Any = None,
    save_masks: bool = False,
    compare: bool = False,
    cache_root: Path | None = None,
) -> OutputPlan:
    """Decide every output path of ``inputs`` (see the module docstring); a usage error if unsafe.

    ``out`` is ``--out`` (``None``: beside the input). ``cache_root`` is the cache in use
    (``None`` with ``--no-cache``).
    """
    suffix = format_suffix(fmt)
    sides = bool(save_masks or compare)
    items = list(inputs.items)
    single = out is None and inputs.kind == "file" and len(items) == 1
    renamed: dict[str, str] = {}
    warnings = list(inputs.warnings)
    if single:
        where = default_output(inputs, suffix)
        planned_items = [dataclasses.replace(items[0], output=where)]
        out_dir: Path | None = None
    else:
        out_dir = Path(out).expanduser() if out is not None else default_output(inputs, suffix)
        _check_out_folder(out_dir)
        where = out_dir
        names, clashes = assign_names(items, suffix, sides)
        planned_items = [dataclasses.replace(it, output=out_dir / names[i]) for i, it in enumerate(items)]
        for i in sorted(clashes, key=lambda i: items[i].rel):
            renamed[items[i].rel] = names[i]
            warnings.append(clashes[i].describe(items[i].rel, names[i]))
    planned = []
    for it in planned_items:
        assert it.output is not None
        out_text = str(it.output)
        mask, comp = _side_names(out_text)
        planned.append((it, [out_text] + ([mask] if save_masks else []) + ([comp] if compare else [])))
    problems = _safety_problems(inputs, out_dir, planned, cache_root)
    if problems:
        more = f" (and {len(problems) - 1} more like it)" if len(problems) > 1 else ""
        raise UsageError(problems[0] + more)
    planned_set = InputSet(planned_items, inputs.root, warnings, inputs.kind, inputs.source)
    return OutputPlan(planned_set, where, renamed)


def plan_for_config(inputs: InputSet, out: Path | None, config: Any, cache: Any = None) -> OutputPlan:
    """:func:`plan_outputs` with the run's settings (``run.format``, ``save_masks``, ``compare``, the cache).

    ``cache`` is the ``ArtifactCache`` the run will use; without it the configured one is assumed.
    """
    run = config.run
    if cache is not None:
        cache_root = Path(cache.root) if cache.enabled else None
    elif run.get("cache", True):
        from remove_people.pipeline.cache import default_cache_dir

        cache_root = Path(run["cache_dir"]).expanduser() if run.get("cache_dir") else default_cache_dir()
    else:
        cache_root = None
    return plan_outputs(
        inputs, out, fmt=run.get("format"), save_masks=bool(run.get("save_masks")), compare=bool(run.get("compare")),
        cache_root=cache_root,
    )
