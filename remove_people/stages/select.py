"""The selection step between detect and refine: whom to remove, whom to keep, and what they carry.

Why a step of its own: "remove the tourists, not my family" is a choice about
instances, not pixels. Kept persons become a *protect* mask that the refiner
carves out of the hole, so growing a removed person's mask never eats into a
kept one whose outline touches it.

Accessories (handbags, bats, gloves, phones, ...) are decided here too, because
whether a glove goes depends on whom it belongs to: an object that overlaps or
touches a removed person goes with them (otherwise it floats in mid-air after
inpainting), one attached to a kept person is protected with them, and an object
attached to nobody is left alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from remove_people.errors import UsageError
from remove_people.settings import make_params, param
from remove_people.stages.base import params_to_dict
from remove_people.stages.detect.base import Instance

#: COCO 2017 contiguous class ids (as YOLO numbers them) of objects people hold, wear or carry.
#: A test checks these against the YOLO model's own ``names``.
ACCESSORY_COCO_IDS: dict[str, int] = {
    "backpack": 24,
    "umbrella": 25,
    "handbag": 26,
    "tie": 27,
    "suitcase": 28,
    "frisbee": 29,
    "skis": 30,
    "snowboard": 31,
    "sports ball": 32,
    "kite": 33,
    "baseball bat": 34,
    "baseball glove": 35,
    "skateboard": 36,
    "surfboard": 37,
    "tennis racket": 38,
    "bottle": 39,
    "wine glass": 40,
    "cup": 41,
    "cell phone": 67,
}


@dataclass
class SelectParams:
    """keep: null (remove everyone), "largest", "center", or N (keep the N largest).
    keep_mask: a mask image; anyone overlapping its white pixels is kept.
    min_person_area / max_person_area: only persons whose area, as a fraction of the frame,
    lies in this range are removed. min_conf: only persons at least this confident are removed.
    with_accessories: remove objects attached to a removed person (protect those of a kept one).
    accessories: the class names that count as accessories.
    accessory_touch: pixels within this distance of a person's mask count as touching it.
    accessory_overlap: an object is attached to a person when at least this fraction of its
    pixels overlaps or touches the person's mask.
    exclude_sources: persons that stay in the photo (kept, or not selected for removal) are never
    a source for inpainters that copy from the photo, so nobody's face is cloned into a hole.
    exclude_grow: how far, in pixels, that no-source region reaches beyond their masks (their
    outline, hair and blur lie outside the detector's mask)."""

    keep: Any = None
    keep_mask: str | None = None
    min_person_area: float = param(0.0, lo=0.0, hi=1.0)
    max_person_area: float = param(1.0, lo=0.0, hi=1.0)
    min_conf: float = param(0.0, lo=0.0, hi=1.0)
    with_accessories: bool = True  # measured to pay: configs/default.yaml, select.with_accessories
    accessories: list[str] = field(default_factory=lambda: list(ACCESSORY_COCO_IDS))
    accessory_touch: int = param(3, lo=0, hi=512)
    accessory_overlap: float = param(0.01, lo=0.0, hi=1.0)
    exclude_sources: bool = True
    exclude_grow: int = param(9, lo=0, hi=256)


def accessory_class_ids(names: list[str]) -> list[int]:
    """YOLO/COCO contiguous ids of accessory class names; a UsageError names any unknown one."""
    unknown = [n for n in names if n not in ACCESSORY_COCO_IDS]
    if unknown:
        raise UsageError(
            f"select.accessories: unknown class(es) {', '.join(unknown)}; known: {', '.join(ACCESSORY_COCO_IDS)}"
        )
    return [ACCESSORY_COCO_IDS[n] for n in names]


def _parse_keep(keep: Any) -> Any:
    """None, "largest", "center" or a non-negative int; anything else is a usage error."""
    if keep is None or keep in ("largest", "center"):
        return keep
    if isinstance(keep, bool):
        raise UsageError(f"--keep {keep!r}: expected largest, center or a number N")
    if isinstance(keep, int) and keep >= 0:
        return keep
    if isinstance(keep, str) and keep.strip().isdigit():
        return int(keep.strip())
    raise UsageError(f"--keep {keep!r}: expected largest, center or a number N (the N largest persons)")


class Selector:
    """Splits a frame's instances into those to remove and a protect mask of those kept."""

    def __init__(self, params: SelectParams) -> None:
        self.params = params
        params.keep = _parse_keep(params.keep)
        for name in ("min_person_area", "max_person_area"):
            v = float(getattr(params, name))
            if not 0.0 <= v <= 1.0:
                raise UsageError(f"--{name.replace('_', '-')} {v}: expected a fraction of the frame in [0, 1]")
        if params.min_person_area > params.max_person_area:
            raise UsageError(
                f"--min-person-area {params.min_person_area} is above --max-person-area {params.max_person_area}"
            )
        if params.keep_mask and not Path(params.keep_mask).is_file():
            raise UsageError(f"--keep-mask {params.keep_mask}: no such file; give a mask image (white = keep)")
        if not 0 <= params.exclude_grow <= 256:
            raise UsageError(f"select.exclude_grow: expected 0..256 pixels, got {params.exclude_grow}")
        if params.accessory_touch < 0 or not 0.0 <= params.accessory_overlap <= 1.0:
            raise UsageError("select.accessory_touch must be >= 0 and select.accessory_overlap in [0, 1]")
        self._accessories = set(params.accessories or [])
        self._keep_mask_cache: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def from_config(cls, config: Any) -> "Selector":
        return cls(make_params(SelectParams, config.data.get("select", {}), where="select"))

    def identity(self) -> dict[str, Any]:
        """Part of the refine cache key: a different choice of whom to remove is a different mask."""
        ident = params_to_dict(self.params)
        if self.params.keep_mask:
            ident["keep_mask"] = hashlib.sha256(Path(self.params.keep_mask).read_bytes()).hexdigest()
        if not self.params.with_accessories:  # irrelevant then; keep old cache keys valid
            for k in ("accessories", "accessory_touch", "accessory_overlap"):
                ident.pop(k, None)
        if not self.params.exclude_sources:
            ident.pop("exclude_grow", None)
        return ident

    def _keep_region(self, shape: tuple[int, int]) -> np.ndarray | None:
        if not self.params.keep_mask:
            return None
        if shape not in self._keep_mask_cache:
            from remove_people.pipeline.mask_reader import read_mask

            self._keep_mask_cache[shape] = read_mask(Path(self.params.keep_mask), shape) > 0
        return self._keep_mask_cache[shape]

    def kept_persons(self, persons: list[Instance], shape: tuple[int, int]) -> set[int]:
        """Indices into ``persons`` of those to keep."""
        p = self.params
        frame = float(shape[0] * shape[1])
        keep: set[int] = set()
        for idx, inst in enumerate(persons):
            frac = inst.area / frame
            if frac < p.min_person_area or frac > p.max_person_area or inst.score < p.min_conf:
                keep.add(idx)
        if p.keep is not None and persons:
            by_area = sorted(range(len(persons)), key=lambda i: (-persons[i].area, i))
            if p.keep == "largest":
                keep.add(by_area[0])
            elif p.keep == "center":
                cy, cx = shape[0] / 2, shape[1] / 2

                def dist(i: int) -> float:
                    # Centroid of the mask, not the box: a raised arm should not move a person.
                    ys, xs = np.nonzero(persons[i].mask)
                    return (float(xs.mean()) - cx) ** 2 + (float(ys.mean()) - cy) ** 2 if len(xs) else float("inf")

                keep.add(min(range(len(persons)), key=dist))
            else:
                keep.update(by_area[: int(p.keep)])
        region = self._keep_region(shape)
        if region is not None:
            keep.update(i for i, inst in enumerate(persons) if (inst.mask & region).any())
        return keep

    def owners(self, objects: list[Instance], persons: list[Instance]) -> list[int | None]:
        """For each object, the index of the person it is attached to (most attached pixels), or None."""
        p = self.params
        if not objects or not persons:
            return [None] * len(objects)
        k = 2 * p.accessory_touch + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        reach = [cv2.dilate(q.mask.astype(np.uint8), kernel).astype(bool) if p.accessory_touch else q.mask for q in persons]
        out: list[int | None] = []
        for obj in objects:
            area = max(1, obj.area)
            rows, cols = obj.window()  # counted inside the object's box, not over the whole frame
            m = obj.mask[rows, cols]
            fracs = [float(np.count_nonzero(m & r[rows, cols])) / area for r in reach]
            best = int(np.argmax(fracs))
            attached = fracs[best] > 0 and fracs[best] >= p.accessory_overlap
            out.append(best if attached else None)
        return out

    def select(
        self, instances: list[Instance], shape: tuple[int, int], item: Any = None
    ) -> tuple[list[Instance], np.ndarray | None]:
        """(instances to remove, protect mask of kept persons and their accessories, or None)."""
        persons = [i for i in instances if i.is_person]
        keep = self.kept_persons(persons, shape)
        remove = [inst for i, inst in enumerate(persons) if i not in keep]
        protected = [persons[i] for i in sorted(keep)]
        if self.params.with_accessories:
            objects = [i for i in instances if not i.is_person and i.label in self._accessories]
            for obj, owner in zip(objects, self.owners(objects, persons)):
                if owner is None:
                    continue  # attached to nobody: not ours to touch
                (protected if owner in keep else remove).append(obj)
        protect = None
        if protected:
            protect = np.zeros(shape, dtype=bool)
            for inst in protected:
                protect |= inst.mask
        return remove, protect

    def source_exclusion(self, instances: list[Instance], remove: list[Instance], hole: np.ndarray) -> np.ndarray | None:
        """Pixels no inpainter may copy into a hole: every person (and what a kept one carries)
        that stays in the photo, grown by ``exclude_grow``; uint8, 255 = never a source.

        ``None`` when nothing is excluded (everyone is removed, or ``exclude_sources`` is off).
        Why here: the selection knows who stays, and the hole (refined mask) is never a source
        anyway, so only the people left behind need marking.
        """
        if not self.params.exclude_sources:
            return None
        removed = {id(i) for i in remove}
        stay = [i for i in instances if id(i) not in removed and (i.is_person or i.label in self._accessories)]
        if not self.params.with_accessories:
            stay = [i for i in stay if i.is_person]
        if not stay:
            return None
        out = np.zeros(hole.shape, dtype=np.uint8)
        for inst in stay:
            out[inst.mask] = 255
        g = self.params.exclude_grow
        if g:
            out = cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
        out[hole > 0] = 0
        return out if out.any() else None
