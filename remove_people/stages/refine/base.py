"""The refiner interface: instances to remove (plus pixels to protect) → one hole mask.

Why a separate stage: detector masks hug the person's outline, while the inpainter
needs a hole that swallows the soft edge, hair and motion blur; turning one into
the other is classical morphology that deserves its own plugin and cache entry.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from remove_people.stages.base import Stage
from remove_people.stages.detect.base import Instance


class Refiner(Stage):
    @abstractmethod
    def refine(self, rgb: np.ndarray, instances: list[Instance], protect: np.ndarray | None = None) -> np.ndarray:
        """The hole mask, uint8 (H, W), 255 = fill. ``protect`` (bool) pixels are never part of it,
        so growing a removed person's mask never eats into a person who is kept."""


def union(instances: list[Instance], shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for inst in instances:
        out |= inst.mask
    return out
