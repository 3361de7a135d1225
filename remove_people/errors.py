"""Error types whose message is shown to the user as one line.

Why a hierarchy: the runner catches ``InputError`` per file (report, go on with
the others, exit 1), while ``UsageError`` stops before any work (exit 2).
"""

from __future__ import annotations

from pathlib import Path


class RemovePeopleError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence."""


class UsageError(RemovePeopleError):
    """Bad command line or configuration: nothing ran (exit code 2)."""


class InputError(RemovePeopleError):
    """One input (image, mask, annotation) cannot be processed; the run goes on with the others."""

    def __init__(self, path: Path | str | None, reason: str) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path is not None else reason)


def one_line(text: object, limit: int = 160) -> str:
    """Exception text squeezed onto one line (the runner prints one line per file)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def short_reason(err: RemovePeopleError) -> str:
    """The message without a leading path: an ``InputError``'s reason (callers name the
    photo their own way, by its path relative to the input), else the whole message."""
    return err.reason if isinstance(err, InputError) else str(err)


class WeightsError(RemovePeopleError):
    """A weight file is missing, fails its checksum, or is not trusted."""
