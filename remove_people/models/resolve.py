"""Finding a weight file on disk, or downloading it: the resolution order of every name.

Resolution order for a name (see :func:`resolve_weights`):

1. an explicit existing path;
2. the model folder(s): ``model_dir`` argument, else ``--model-dir`` (``models.dir``), else
   ``REMOVE_PEOPLE_MODEL_DIR`` (``os.pathsep``-separated list allowed); a file counts if its
   *name* or its *sha256* matches the entry;
3. the user cache: ``$REMOVE_PEOPLE_HOME/models``, else
   ``$XDG_CACHE_HOME/remove-people/models``, else ``~/.cache/remove-people/models``;
4. the entry's *fallbacks* (honest substitute entries, e.g. the shared INT8-rebuilt
   YOLO files) in the model folder(s) and the cache, with a one-line notice;
5. a download into the user cache, unless offline (``--offline``, ``models.offline`` or
   ``REMOVE_PEOPLE_OFFLINE``), in which case a :class:`WeightsError` says exactly
   which file to put in which folder, and where to get it.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from remove_people.errors import UsageError, WeightsError
from remove_people.models.hashing import sha256_file
from remove_people.models.locations import ENV_MODEL_DIR, ENV_OFFLINE, cache_dir, configured, is_offline, model_dirs
from remove_people.models.weights_entry import WeightsEntry
from remove_people.models.weights_table import WEIGHTS, find_entry, get_entry

log = logging.getLogger("remove_people.models")


# Only these suffixes are hashed when a model folder is scanned for a sha256 match
# (a model folder may also hold images or logs that are not worth hashing).
WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".pkl", ".tar")


@dataclass(frozen=True)
class Location:
    """Where a name was found locally: ``entry`` is the entry whose file it is
    (a fallback's entry when ``substitute_for`` is set), ``where`` is
    ``"path"``, ``"model-dir"`` or ``"cache"``."""

    path: Path
    entry: WeightsEntry | None
    where: str
    substitute_for: str | None = None
    matched_by: str = "name"  # "name" or "sha256"


#: Notices already printed by this process (each is printed once).
_NOTICED: set[str] = set()


def forget_notices() -> None:
    """Let each notice be printed again (a new command in the same process, e.g. in tests)."""
    _NOTICED.clear()


# --------------------------------------------------------------------------- local look-up


def _matches(path: Path, entry: WeightsEntry) -> bool:
    """Whether a file of the right name really is this entry's (hash checked when known)."""
    if entry.size is not None and path.stat().st_size != entry.size:
        return False
    return entry.sha256 is None or sha256_file(path) == entry.sha256


def _find_in_folder(entry: WeightsEntry, folder: Path, warn: list[str]) -> tuple[Path, str] | None:
    """``entry``'s file in ``folder``: by name (checked against the sha256 when known), else by sha256."""
    if not folder.is_dir():
        return None
    named = folder / entry.filename
    if named.is_file():
        if _matches(named, entry):
            return named, "name"
        warn.append(f"{named} has the right name but not the sha256 of {entry.name!r}; ignored")
    if entry.sha256 is None:
        return None
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return None
    for child in children:
        if child == named or not child.is_file() or child.name.startswith("."):
            continue
        if child.suffix.lower() not in WEIGHT_SUFFIXES:
            continue
        try:
            if entry.size is not None and child.stat().st_size != entry.size:
                continue
            if sha256_file(child) == entry.sha256:
                return child, "sha256"
        except OSError:
            continue
    return None


def _search_folders(model_dir: str | os.PathLike[str] | None) -> list[tuple[Path, str]]:
    return [(d, "model-dir") for d in model_dirs(model_dir)] + [(cache_dir(), "cache")]


def find_local(
    name: str | WeightsEntry,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    use_fallbacks: bool = True,
    _warnings: list[str] | None = None,
) -> Location | None:
    """Where ``name`` is on disk (model folder(s), then cache, then its fallbacks), without any network.

    Returns ``None`` when nowhere. Used by :func:`resolve_weights` and by
    ``remove-people models list``.
    """
    entry = get_entry(name)
    warn = _warnings if _warnings is not None else []
    folders = _search_folders(model_dir)
    for folder, where in folders:
        hit = _find_in_folder(entry, folder, warn)
        if hit:
            return Location(hit[0], entry, where, matched_by=hit[1])
    if use_fallbacks:
        for fb_name in entry.fallbacks:
            fb = find_entry(fb_name)
            if fb is None:
                continue
            for folder, where in folders:
                hit = _find_in_folder(fb, folder, warn)
                if hit:
                    return Location(hit[0], fb, where, substitute_for=entry.name, matched_by=hit[1])
    return None


def missing_instruction(entry: WeightsEntry, *, model_dir: str | os.PathLike[str] | None = None) -> str:
    """One sentence saying which file (name, sha256) to put in which folder(s), and where to get it."""
    folders = [str(d) for d in model_dirs(model_dir)] + [str(cache_dir())]
    if entry.sha256:
        sha = f"sha256 {entry.sha256}"
    elif entry.md5:
        sha = f"md5 {entry.md5}, checked before it is loaded"
    else:
        sha = "sha256 not published; any file of this name is accepted"
    size = f", {entry.size} bytes" if entry.size else ""
    msg = f"put {entry.filename} ({sha}{size}) into {' or '.join(folders)}"
    if not model_dirs(model_dir):
        msg += f" (or into a folder named by --model-dir / {ENV_MODEL_DIR})"
    if entry.urls:
        msg += f"; download it from {' or '.join(entry.urls)}"
    elif entry.source:
        msg += f"; it has no download URL (source: {entry.source})"
    else:
        msg += "; it has no download URL"
    subs = [f for f in (find_entry(n) for n in entry.fallbacks) if f is not None]
    if subs:
        alts = ", ".join(f"{s.filename} (sha256 {s.sha256})" if s.sha256 else s.filename for s in subs)
        msg += f"; accepted substitute: {alts}"
    return msg


def notice(message: str, progress: bool) -> None:
    """One line on stderr (when ``progress``, and not ``--quiet``) and in the log, so a substitution
    is never silent; once per process, however many stages resolve the same weights."""
    if logging.getLogger().handlers or log.handlers:
        log.warning(message)
    elif progress and not configured()["quiet"] and message not in _NOTICED:
        _NOTICED.add(message)
        print(message, file=sys.stderr)


def resolve_weights(
    name_or_path: str | os.PathLike[str] | WeightsEntry,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    progress: bool = True,
) -> Path:
    """The local path of a weight file, downloading it into the user cache if needed.

    ``name_or_path``: an existing file path (returned as is), a table name, alias or
    file name, or a :class:`WeightsEntry` (tests, plugins). ``offline`` defaults to
    ``REMOVE_PEOPLE_OFFLINE``; when offline and the file is nowhere on disk, raises
    a :class:`WeightsError` saying which file to put where. ``progress`` shows the
    download bar and the substitution notice on stderr.
    """
    if isinstance(name_or_path, WeightsEntry):
        entry = name_or_path
    else:
        raw = os.fspath(name_or_path)
        p = Path(raw).expanduser()
        if p.is_file():
            return p
        if p.is_dir():
            raise WeightsError(f"{p} is a folder; give a weight file or a name ({', '.join(WEIGHTS)})")
        entry_or_none = find_entry(raw)
        if entry_or_none is None:
            if os.sep in raw or "/" in raw or p.suffix.lower() in WEIGHT_SUFFIXES:
                raise WeightsError(f"weight file not found: {p}")
            raise UsageError(f"unknown weights {raw!r}; valid names: {', '.join(WEIGHTS)}")
        entry = entry_or_none

    warn: list[str] = []
    loc = find_local(entry, model_dir=model_dir, _warnings=warn)
    for w in warn:
        log.warning(w)
    if loc is not None:
        if loc.substitute_for:
            notice(
                f"weights {loc.substitute_for!r} not found; using substitute {loc.entry.name!r} ({loc.path})",  # type: ignore[union-attr]
                progress,
            )
        return loc.path

    if is_offline(offline):
        raise WeightsError(
            f"weights {entry.name!r} are not on disk and offline mode is on "
            f"(--offline / {ENV_OFFLINE}=1): " + missing_instruction(entry, model_dir=model_dir)
        )
    if not entry.urls:
        raise WeightsError(
            f"weights {entry.name!r} are not on disk and cannot be downloaded: "
            + missing_instruction(entry, model_dir=model_dir)
        )
    from remove_people.models.download import download

    try:
        return download(entry, cache_dir(), progress=progress and not configured()["quiet"])
    except WeightsError as err:  # no network, a proxy, a dead mirror: say what to do instead
        raise WeightsError(
            f"{err}. Without network: {missing_instruction(entry, model_dir=model_dir)}; then pass "
            f"--model-dir DIR (or set {ENV_MODEL_DIR}) and --offline, or fetch it where there is network "
            f"with `remove-people models fetch {entry.name}`"
        ) from None

