"""One registry per extension point (detector, refiner, inpainter), modelled on fvcore's ``Registry``.

Why lazy: built-in plugins register by *import path* (``"module:Class"``) so that
``remove-people plugins`` and ``--help`` do not import torch, ultralytics or a
network definition just to list names, and a plugin that fails to import breaks
only itself. Third-party packages add plugins through an entry-point group.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar

from remove_people.errors import UsageError

T = TypeVar("T")


def import_target(target: str) -> Any:
    """The object a ``"package.module:Attr.sub"`` string names (entry points, lazy plugins, table builders)."""
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """A name → plugin-class table for one extension point.

    ``register`` works as a decorator (``@INPAINTERS.register()``), ``register_lazy``
    records an import path resolved on first ``get``, and ``entry_point_group``
    names the ``importlib.metadata`` group scanned for third-party plugins.
    """

    def __init__(self, name: str, entry_point_group: str) -> None:
        self.name = name
        self.entry_point_group = entry_point_group
        self._objects: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points_loaded = False

    def register(self, obj: T | None = None, *, name: str | None = None) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name`` (default: its ``name`` attribute, else ``__name__``)."""

        def _do(o: T) -> T:
            key = name or getattr(o, "name", None) or o.__name__  # type: ignore[attr-defined]
            if key in self._objects and self._objects[key] is not o:
                raise ValueError(f"{self.name} {key!r} is already registered")
            self._objects[key] = o
            self._lazy.pop(key, None)
            return o

        return _do(obj) if obj is not None else _do

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:Attr"``, imported only when first asked for."""
        if name not in self._objects:
            self._lazy[name] = target

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._objects and ep.name not in self._lazy:
                self._lazy[ep.name] = ep.value

    def names(self) -> list[str]:
        """Every registered name, built-in and third-party, sorted."""
        self._load_entry_points()
        return sorted(set(self._objects) | set(self._lazy))

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def get(self, name: str) -> T:
        """The plugin class for ``name``; an unknown name raises a ``UsageError`` listing the valid ones."""
        self._load_entry_points()
        if name in self._objects:
            return self._objects[name]
        if name not in self._lazy:
            raise UsageError(
                f"unknown {self.name} {name!r}; valid {self.name}s: {', '.join(self.names())}"
            )
        obj = import_target(self._lazy[name])
        self._objects[name] = obj
        del self._lazy[name]
        return obj  # type: ignore[return-value]
