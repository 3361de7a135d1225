"""Where weight files are looked for, and whether they may be downloaded, in this process.

Why not ``os.environ``: the settings travel in the ``Config`` (``models:``, set by
``config.build_stage`` and the commands; to Ray workers and the inpainting pool too) and do
not leak into other libraries or later in-process runs. Unset, they fall back to the
environment variables, so a shell ``export`` still works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from remove_people.settings import is_true_word

ENV_MODEL_DIR = "REMOVE_PEOPLE_MODEL_DIR"
ENV_HOME = "REMOVE_PEOPLE_HOME"
ENV_OFFLINE = "REMOVE_PEOPLE_OFFLINE"


#: This process's ``--model-dir`` / ``--offline`` (a ``Config``'s ``models`` section, set by
#: ``config.build_stage`` and the commands); ``None`` falls back to the environment variables.
_CONFIGURED: dict[str, Any] = {"model_dir": None, "offline": None, "quiet": False}


def configure(
    *, model_dir: str | os.PathLike[str] | None = None, offline: bool | None = None, quiet: bool | None = None
) -> dict[str, Any]:
    """Set the model folder and offline switch used when a caller passes none; returns the previous ones.

    ``quiet`` (``--quiet``; ``None`` leaves it as it is) silences notices and download bars.
    The one exception is ultralytics' own ``YOLO_OFFLINE``, which it reads at import to skip
    its online checks: it is set (never unset) when offline is on, however that was said.
    """
    previous = dict(_CONFIGURED)
    _CONFIGURED["model_dir"] = os.fspath(model_dir) if model_dir is not None else None
    _CONFIGURED["offline"] = offline
    if quiet is not None:
        _CONFIGURED["quiet"] = bool(quiet)
    if is_offline():  # --offline, or REMOVE_PEOPLE_OFFLINE in any of its spellings (1, true, yes, on)
        os.environ.setdefault("YOLO_OFFLINE", "1")
    return previous


def configured() -> dict[str, Any]:
    """The settings :func:`configure` made (for worker processes to repeat them)."""
    return dict(_CONFIGURED)


def model_dirs(model_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The model folders searched: ``model_dir`` if given, else the configured one (``--model-dir``),
    else ``$REMOVE_PEOPLE_MODEL_DIR`` (each an ``os.pathsep``-separated list), else none."""
    if model_dir is None:
        model_dir = _CONFIGURED["model_dir"]
    raw = os.fspath(model_dir) if model_dir is not None else os.environ.get(ENV_MODEL_DIR, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


def home_dir() -> Path:
    """Root of the per-user state: ``$REMOVE_PEOPLE_HOME``, else ``$XDG_CACHE_HOME/remove-people``,
    else ``~/.cache/remove-people``."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "remove-people"


def cache_dir() -> Path:
    """The user cache of downloaded weights (``<home>/models``); not created here."""
    return home_dir() / "models"


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else the configured switch (``--offline``), else whether
    ``REMOVE_PEOPLE_OFFLINE`` is set to a true value."""
    if offline is not None:
        return bool(offline)
    if _CONFIGURED["offline"] is not None:
        return bool(_CONFIGURED["offline"])
    return is_true_word(os.environ.get(ENV_OFFLINE, ""))


