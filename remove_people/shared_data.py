"""Where the project's read-only data folder (``../shared``: COCO persons, scenes, the training corpus,
fixtures, weights) is, found one way by the eval commands, the trainers, the tests and the benchmarks.

Why one function: the look-up was written in the evaluation helpers, the training masks, the
test fixtures and four benchmark scripts, each a little differently (one ignored the working
folder, one the checkout). Order: an explicit setting (``eval.shared``), then
``$REMOVE_PEOPLE_SHARED``, then ``../shared`` from the working folder (the CLI's convention),
then ``shared`` beside the checkout. A folder counts when it has a ``data`` subfolder.
"""

from __future__ import annotations

import os
from pathlib import Path

from remove_people.errors import UsageError

ENV_SHARED = "REMOVE_PEOPLE_SHARED"


def shared_candidates(configured: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders looked at, in order (see the module docstring)."""
    candidates: list[Path] = []
    if configured:
        candidates.append(Path(configured).expanduser())
    if os.environ.get(ENV_SHARED):
        candidates.append(Path(os.environ[ENV_SHARED]).expanduser())
    candidates += [Path("..") / "shared", Path(__file__).resolve().parents[2] / "shared"]
    return candidates


def find_shared_dir(configured: str | os.PathLike[str] | None = None) -> Path | None:
    """The first candidate holding a ``data`` folder, or ``None``."""
    return next((c for c in shared_candidates(configured) if (c / "data").is_dir()), None)


def shared_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """:func:`find_shared_dir`, or a usage error saying where it looked and what to set."""
    found = find_shared_dir(configured)
    if found is None:
        looked = ", ".join(str(c) for c in shared_candidates(configured))
        raise UsageError(
            f"the shared data folder was not found (looked in {looked}); "
            f"set {ENV_SHARED} or --set eval.shared=PATH, or pass the data folders explicitly"
        )
    return found


def coco_person_annotations(configured: str | os.PathLike[str] | None = None) -> Path:
    """``data/coco-person/annotations/instances.json`` of the shared folder (the person masks of training)."""
    rel = Path("data") / "coco-person" / "annotations" / "instances.json"
    found = find_shared_dir(configured)
    return (found if found is not None else shared_candidates(configured)[0]) / rel
