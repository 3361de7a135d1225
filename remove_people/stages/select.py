"""The selection step between detect and refine: whom to remove, whom to keep.

Why a step of its own: "remove the tourists, not my family" is a choice about
instances, not pixels. Kept persons become a *protect* mask that the refiner
carves out of the hole, so growing a removed person's mask never eats into a
kept one whose outline touches it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remove_people.errors import UsageError
from remove_people.stages.base import make_params, params_to_dict
from remove_people.stages.detect.base import Instance


@dataclass
class SelectParams:
    """keep: null (remove everyone), "largest", "center", or N (keep the N largest).
    keep_mask: a mask image; anyone overlapping its white pixels is kept.
    min_person_area / max_person_area: only persons whose area, as a fraction of the frame,
    lies in this range are removed. min_conf: only persons at least this confident are removed."""

    keep: Any
    keep_mask: str | None
    min_person_area: float
    max_person_area: float
    min_conf: float


class Selector:
    def __init__(self, params: SelectParams) -> None:
        self.params = params
        keep = params.keep
        if keep not in (None, "largest", "center") and not (isinstance(keep, int) or str(keep).isdigit()):
            raise UsageError(f"--keep {keep!r}: expected largest, center or a number N")
        self._keep_mask_cache: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def from_config(cls, config: Any) -> "Selector":
        return cls(make_params(SelectParams, config.data.get("select", {}), where="select"))

    def identity(self) -> dict[str, Any]:
        ident = params_to_dict(self.params)
        if self.params.keep_mask:
            ident["keep_mask"] = hashlib.sha256(Path(self.params.keep_mask).read_bytes()).hexdigest()
        return ident

    def _keep_region(self, shape: tuple[int, int]) -> np.ndarray | None:
        if not self.params.keep_mask:
            return None
        if shape not in self._keep_mask_cache:
            from remove_people.pipeline.imageio import read_mask

            self._keep_mask_cache[shape] = read_mask(Path(self.params.keep_mask), shape) > 0
        return self._keep_mask_cache[shape]

    def select(self, instances: list[Instance], shape: tuple[int, int], item: Any = None) -> tuple[list[Instance], np.ndarray | None]:
        """(instances to remove, protect mask of kept persons or None)."""
        p = self.params
        frame = float(shape[0] * shape[1])
        persons = [i for i in instances if i.is_person]
        keep: set[int] = set()
        for idx, inst in enumerate(persons):
            frac = inst.area / frame
            if frac < p.min_person_area or frac > p.max_person_area or inst.score < p.min_conf:
                keep.add(idx)
        if p.keep is not None and persons:
            by_area = sorted(range(len(persons)), key=lambda i: -persons[i].area)
            if p.keep == "largest":
                keep.add(by_area[0])
            elif p.keep == "center":
                cy, cx = shape[0] / 2, shape[1] / 2

                def dist(i: int) -> float:
                    x0, y0, x1, y1 = persons[i].box or (0, 0, 0, 0)
                    return ((x0 + x1) / 2 - cx) ** 2 + ((y0 + y1) / 2 - cy) ** 2

                keep.add(min(range(len(persons)), key=dist))
            else:
                keep.update(by_area[: int(p.keep)])
        region = self._keep_region(shape)
        if region is not None:
            keep.update(i for i, inst in enumerate(persons) if (inst.mask & region).any())
        remove = [inst for i, inst in enumerate(persons) if i not in keep]
        protect = None
        if keep:
            protect = np.zeros(shape, dtype=bool)
            for i in keep:
                protect |= persons[i].mask
        return remove, protect
