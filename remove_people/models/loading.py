"""Turning a weight file into a network, safely: the one place checkpoints are loaded.

Why one place: a full pickle (ultralytics checkpoints, some training files) and a TorchScript
archive run code when they load, so only a file the weights table vouches for (its sha256, or
its publisher's MD5) is loaded that way, unless the user says they trust it; state dicts load
with ``weights_only=True``, where nothing runs. :func:`build` resolves a name or path and calls
the builder its table entry names, so the table says how every file becomes a network.
"""

from __future__ import annotations

import inspect
import logging
import os
import pickle
from pathlib import Path
from typing import Any, Callable

from remove_people.errors import WeightsError
from remove_people.models.hashing import md5_file, sha256_file
from remove_people.models.resolve import resolve_weights
from remove_people.models.weights_entry import WeightsEntry
from remove_people.models.weights_table import entry_for_file, entry_for_sha256, find_entry, get_entry, published_checksum_matches
from remove_people.registry import import_target

log = logging.getLogger("remove_people.models")


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    trust: bool = False,
    map_location: Any = "cpu",
) -> Any:
    """``torch.load`` that never runs an unknown pickle.

    First ``weights_only=True`` (tensors, dicts, numbers: nothing executes). If the
    file needs more than that (e.g. ultralytics checkpoints pickle whole modules),
    it is loaded with ``weights_only=False`` only when its sha256 is in the table or
    ``trust=True``; otherwise a :class:`WeightsError` refuses it before any of its
    code can run.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weight file not found: {p}")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        exc_text = str(exc)
        # torch's message is long; keep the line that names the cause (e.g. "Unsupported global: ...").
        lines = [ln.strip() for ln in exc_text.splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "unsupported" in ln.lower() or "global" in ln.lower()), lines[-1] if lines else type(exc).__name__)
        reason = detail
    except Exception as exc:  # zip/format errors: the file is damaged or not a torch file
        raise WeightsError(f"{p}: cannot read as a torch checkpoint ({type(exc).__name__}: {exc})") from exc
    digest = sha256_file(p)
    known = entry_for_sha256(digest)
    needs_globals = "global" in reason.lower() or "global" in str(exc_text).lower()
    if not (trust or known) and not needs_globals:
        # Not a refused class but an unreadable stream: most likely a damaged file.
        raise WeightsError(
            f"{p}: cannot read as a torch checkpoint with weights_only=True ({detail}); the file may be "
            f"damaged; if it is a full pickle from a source you trust, pass trust=True (--trust-weights)"
        )
    if not (trust or known):
        raise WeightsError(
            f"{p}: refused to load: it needs full pickle loading, which can run arbitrary code, and its "
            f"sha256 {digest} is not in the weights table; pass trust=True (--trust-weights) only if you "
            f"trust where it came from ({reason})"
        )
    log.info("loading %s with weights_only=False (%s)", p, f"known entry {known.name}" if known else "trusted by user")
    try:
        return torch.load(p, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise WeightsError(f"{p}: cannot load ({type(exc).__name__}: {exc})") from exc


def load_torchscript(
    path: str | os.PathLike[str],
    entry: WeightsEntry | str | None = None,
    *,
    trust: bool = False,
    map_location: Any = "cpu",
    trust_setting: str = "trust_weights=true",
) -> Any:
    """``torch.jit.load`` of a TorchScript file, only once its published checksum matches.

    Why a gate: a TorchScript archive carries code and pickled data that run when it
    loads, so, like full pickles (:func:`load_checkpoint`), only a file the table vouches
    for is loaded: its sha256, or its publisher's MD5, must match ``entry`` (a name or an
    entry; when ``None``, any table entry, see :func:`entry_for_file`, so that
    ``build("lama")`` works). ``trust=True`` (the
    plugins' ``trust_weights``; ``trust_setting`` names it in the refusal) loads any file;
    use it only for files you trust.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weight file not found: {p}")
    if not trust:
        e = get_entry(entry) if entry is not None else entry_for_file(p)
        ok = published_checksum_matches(p, e) if e is not None else None
        if not ok:
            if e is None or ok is None:
                why = "its sha256 is not in the weights table" if e is None else f"{e.name!r} publishes no checksum"
            else:
                algo, want, got = ("sha256", e.sha256, sha256_file(p)) if e.sha256 else ("md5", e.md5, md5_file(p))
                why = f"its {algo} {got} is not the published {want} of {e.name!r} ({e.filename}); it is damaged or another file"
            raise WeightsError(
                f"{p}: refused to load: a TorchScript file runs code when it loads, and {why}; "
                f"delete it and fetch it again (remove-people models fetch {e.name if e else 'NAME'}), "
                f"or pass {trust_setting} only if you trust where it came from"
            )
    import warnings

    import torch

    try:
        with warnings.catch_warnings():
            # recent torch (2.14 here) marks TorchScript deprecated; the published files are TorchScript, and the
            # warning would only alarm users (the note on what replaces it is in docs/weights.md).
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit")
            module = torch.jit.load(str(p), map_location=map_location)
    except Exception as exc:  # a truncated archive, or not TorchScript at all
        raise WeightsError(f"{p}: cannot read as a TorchScript file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    return module.eval()


def refuse_untrusted_pickle(path: str | os.PathLike[str], what: str, trust_setting: str) -> None:
    """Refuse a full-pickle file (``what``, e.g. "ultralytics weights") whose sha256 is not in the table.

    Why before the loader runs: a library that unpickles in full (ultralytics) would run a
    booby-trapped file's code the moment it loads; ``trust_setting`` names the switch that
    lets the user vouch for the file instead.
    """
    digest = sha256_file(path)
    if entry_for_sha256(digest) is None:
        raise WeightsError(
            f"{path}: refused to load: {what} are full pickles, which can run arbitrary code, "
            f"and its sha256 {digest} is not in the weights table; if you trust where it came from, "
            f"pass {trust_setting}"
        )


def build(
    name_or_path: str | os.PathLike[str] | WeightsEntry,
    *,
    entry: WeightsEntry | None = None,
    builder: Callable[..., Any] | str | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> Any:
    """The one way a weight file becomes a network: resolve it, then call its table entry's builder.

    ``name_or_path`` is resolved as everywhere (:func:`~remove_people.models.resolve.resolve_weights`).
    The entry is ``entry`` when given (a plugin that checks a file against its own entry), else
    the one the name names, else, for a path or a name whose file may be a substitute, the
    entry whose sha256 the file has. Its ``builder`` is called as ``builder(path, **kwargs)``,
    with ``entry=`` added when the builder takes it (the TorchScript loader checks the file
    against it). ``builder`` here serves files the table does not know (a trained pconv
    checkpoint, a user's own file); with neither, a :class:`WeightsError` says so.
    """
    path = resolve_weights(name_or_path, model_dir=model_dir, offline=offline, progress=progress)
    if entry is None:
        if isinstance(name_or_path, WeightsEntry):
            entry = name_or_path
        elif not Path(os.fspath(name_or_path)).expanduser().is_file():
            entry = find_entry(os.fspath(name_or_path))
        if entry is None or entry.sha256 is None:
            entry = entry_for_sha256(sha256_file(path)) or entry
    target = entry.builder if entry is not None and entry.builder else builder
    if target is None:
        named = f"weights {entry.name!r}" if entry is not None else str(path)
        raise WeightsError(f"{named} have no builder: the table does not say how to load them")
    fn = import_target(target) if isinstance(target, str) else target
    if "entry" in _parameters(fn):
        kwargs.setdefault("entry", entry)
    return fn(path, **kwargs)


def _parameters(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # a C extension or a class without a signature
        return set()
