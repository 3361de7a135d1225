"""What every stage plugin shares: typed parameters, a cache identity, lazy model loading.

Why: the pipeline caches each stage's artifact under a key made of the stage's
name, its parameters and its weights' identity. Keeping that in one base class
means a new plugin gets correct caching by declaring a ``Params`` dataclass and,
if it has weights, overriding ``weights_identity``.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

from remove_people.settings import make_params

__all__ = ["NoParams", "Stage", "make_params", "params_to_dict"]


@dataclass
class NoParams:
    """Parameters of a stage that has none."""


class Stage(ABC):
    """Base of detectors, refiners and inpainters (an ABC: a plugin that misses its stage's
    abstract method, ``detect``, ``refine`` or ``fill``, fails when built, not mid-run).

    Subclasses set ``name`` (the registry key), ``Params`` (a dataclass whose fields
    carry their defaults, and bounds via ``remove_people.settings.param``; the types
    and bounds check every ``--set key=value`` before any work) and a one-line
    ``summary`` for ``remove-people plugins``. A plugin with no section in
    ``configs/default.yaml`` builds from its dataclass defaults.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    #: Bump when a code change alters this stage's output for the same input and params,
    #: so old cache entries stop matching.
    version: ClassVar[int] = 1

    def __init__(self, params: Any | None = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "Stage":
        """Build from a config mapping; unknown keys raise a ``UsageError`` listing the valid ones."""
        return cls(make_params(cls.Params, values, where=f"{cls.name}"))

    def weights_path(self) -> "Path | None":
        """The stage's weight file, for stages that have one; ``None`` if weight-free."""
        return None

    def weights_identity(self) -> str | None:
        """The sha256 of ``weights_path()`` (memoised by the model manager); ``None`` if weight-free.

        Why here: every networked stage keys its cache on exactly its weight file's content.
        """
        path = self.weights_path()
        if path is None:
            return None
        from remove_people.models.hashing import sha256_file

        return sha256_file(path)

    def identity(self) -> dict[str, Any]:
        """Everything that determines this stage's output, for the cache key."""
        return {
            "stage": self.name,
            "version": self.version,
            "params": params_to_dict(self.params),
            "weights": self.weights_identity(),
        }

    def close(self) -> None:
        """Release models and memory; the runner calls it at the end of a run."""


def params_to_dict(params: Any) -> dict[str, Any]:
    """A JSON-able dict of a params dataclass, in a stable order."""
    if dataclasses.is_dataclass(params):
        return json.loads(json.dumps(dataclasses.asdict(params), sort_keys=True, default=str))
    return dict(params)
