"""The removal score against ground truth: are the annotated persons really gone from the result?

Why against ground truth: a detector asked again about its own results cannot see the
persons it missed in the first place, and those are the main failure (a face at the
frame edge, a back in a crowd). With COCO annotations the truth is known per person,
so the score counts, for every non-crowd ground-truth (GT) person, how much of it was
*repainted*: changed in the result. Nothing here depends on which detector, mask or
inpainter made the result; any tool's lossless output can be scored.

The figures (pooled over the images; ``docs/evaluation.md`` has the protocol):

- **persons removed**: of the GT persons covering at least ``MIN_FRAME_SHARE`` (1 %)
  of the frame, the share with at least ``REMOVED_SHARE`` (95 %) of their own pixels
  repainted; also per size band (``SIZE_BANDS``: share of the frame).
- **pixel coverage**: repainted GT-person pixels / all GT-person pixels (union of the
  non-crowd persons; every size counts here).
- **extra area**: repainted pixels farther than ``EXTRA_DISTANCE_PX`` (15 px) from every
  GT person (crowd regions count as persons) and from every object a GT person holds,
  per GT-person pixel: the price of recall. Held = a COCO object of an accessory class
  (``select.ACCESSORY_COCO_IDS``: bags, bats, rackets, skis, cups, ...) touching a GT
  person by the select stage's own rule; taking those with their person is the point of
  ``--with-accessories``, not waste. The same figure counting them as waste is reported
  too (``extra_area_persons_only``).
- **held objects removed**: of the held objects, the share with at least 95 % repainted;
  **objects nobody holds removed**: of the other accessory-class objects, the share with
  at least half repainted (what ``--with-accessories`` must not take).
- **residual**: photos where a check detector (conf 0.25) finds a person lying at least
  half inside the repainted region (a ghost, a leftover, a figure painted in) or half
  on a GT person (somebody left standing). Its denominator is the photos where that
  can happen: those with a GT person or with anything repainted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

#: A GT person counts for "persons removed" when it covers at least this share of the frame.
MIN_FRAME_SHARE = 0.01
#: ... and it is removed when at least this share of its own pixels was repainted.
REMOVED_SHARE = 0.95
#: Repainted pixels farther than this from every GT person are "extra".
EXTRA_DISTANCE_PX = 15
#: A check detection counts as a person left when at least this share of its mask lies in
#: the repainted region or on GT-person pixels.
RESIDUAL_INSIDE = 0.5
#: An accessory-class object is held when at least this share of its pixels lies within
#: ``HELD_TOUCH_PX`` of a GT person (the select stage's defaults: accessory_overlap, accessory_touch).
HELD_OVERLAP = 0.01
HELD_TOUCH_PX = 3
#: An object nobody holds counts as taken when at least this share of it was repainted.
FREE_TAKEN_SHARE = 0.5
#: Size bands of the persons that count, as (name, lowest share of the frame, highest share).
#: Chosen so each band holds enough persons on the 59 val2017 photos to mean something
#: (49 / 30 / 7 of the 86 persons over 1 %): small are distant figures, large are close-ups.
SIZE_BANDS: tuple[tuple[str, float, float], ...] = (("small", 0.01, 0.05), ("medium", 0.05, 0.20), ("large", 0.20, 1.01))


def size_band(frame_share: float) -> str | None:
    """The band of a person covering ``frame_share`` of the frame (``None`` below ``MIN_FRAME_SHARE``)."""
    for name, lo, hi in SIZE_BANDS:
        if lo <= frame_share < hi:
            return name
    return None


@dataclass
class GroundTruth:
    """One image's annotated persons: a bool mask per non-crowd person, the crowd regions' union,
    and the accessory-class objects as (class name, mask, held by a person)."""

    persons: list[np.ndarray]
    crowd: np.ndarray | None = None
    objects: list[tuple[str, np.ndarray, bool]] = field(default_factory=list)

    def held(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, bool)
        for _, m, is_held in self.objects:
            if is_held:
                out |= m
        return out

    @property
    def shape(self) -> tuple[int, int] | None:
        if self.persons:
            return self.persons[0].shape  # type: ignore[return-value]
        return None if self.crowd is None else self.crowd.shape  # type: ignore[return-value]

    def union(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, bool)
        for m in self.persons:
            out |= m
        return out


def coco_ground_truth(coco: Any, image_id: int, shape: tuple[int, int], category_id: int = 1) -> GroundTruth:
    """The persons of one COCO image (polygons or RLE), as masks of ``shape``; crowds kept apart;
    the objects of the accessory classes (matched by category name), each marked held or not."""
    from remove_people.stages.select import ACCESSORY_COCO_IDS

    persons: list[np.ndarray] = []
    crowd = np.zeros(shape, bool)
    objects: list[tuple[str, np.ndarray]] = []
    names = {int(c["id"]): str(c.get("name", "")) for c in coco.dataset.get("categories", [])}
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id], iscrowd=None)):
        is_person = ann.get("category_id") == category_id
        name = names.get(int(ann.get("category_id", -1)), "")
        if not is_person and (name not in ACCESSORY_COCO_IDS or ann.get("iscrowd")):
            continue
        m = coco.annToMask(ann).astype(bool)
        if m.shape != shape:
            raise ValueError(f"annotation {ann.get('id')} is {m.shape[1]}x{m.shape[0]}, its image {shape[1]}x{shape[0]}")
        if not is_person:
            if m.any():
                objects.append((name, m))
        elif ann.get("iscrowd"):
            crowd |= m
        elif m.any():
            persons.append(m)
    gt = GroundTruth(persons, crowd if crowd.any() else None)
    if objects:
        k = 2 * HELD_TOUCH_PX + 1
        reach = cv2.dilate(gt.union(shape).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool)
        gt.objects = [(name, m, bool((m & reach).sum() >= max(1.0, HELD_OVERLAP * m.sum()))) for name, m in objects]
    return gt


def repainted_pixels(original: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Pixels whose value changed (any channel): what a lossless result repainted."""
    if original.shape != result.shape:
        raise ValueError(f"result is {result.shape[1]}x{result.shape[0]}, original {original.shape[1]}x{original.shape[0]}")
    diff = original != result
    return diff.any(axis=2) if diff.ndim == 3 else diff


def far_from_persons(gt: GroundTruth, shape: tuple[int, int], distance: int = EXTRA_DISTANCE_PX, held: bool = True) -> np.ndarray:
    """Pixels farther than ``distance`` from every GT person (crowd regions included) and, with
    ``held``, from every object a person holds."""
    near = gt.union(shape)
    if gt.crowd is not None:
        near = near | gt.crowd
    if held:
        near = near | gt.held(shape)
    if not near.any():
        return np.ones(shape, bool)
    # Distance of each non-person pixel to the nearest person pixel (exact Euclidean, 0 on persons).
    dist = cv2.distanceTransform((~near).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist > distance


@dataclass
class ImageScore:
    """One image's counts; the pooled figures are sums of these."""

    person_shares: list[float]  # repainted share of each non-crowd GT person, in annotation order
    frame_shares: list[float]  # each person's area / frame area
    gt_pixels: int  # union of the non-crowd persons
    covered_pixels: int  # of those, repainted
    extra_pixels: int  # repainted, farther than EXTRA_DISTANCE_PX from every person and held object
    repainted: int  # all repainted pixels
    frame_pixels: int
    extra_pixels_persons_only: int = 0  # the same, held objects counted as waste
    held_shares: list[float] = field(default_factory=list)  # repainted share of each held object
    free_shares: list[float] = field(default_factory=list)  # ... of each accessory-class object nobody holds
    residual: bool | None = None  # None: not checked
    residual_conf: float = 0.0  # the most confident person left (0 when none)

    @property
    def counted(self) -> list[int]:
        """Indices of the persons that count for "persons removed" (at least 1 % of the frame)."""
        return [i for i, f in enumerate(self.frame_shares) if f >= MIN_FRAME_SHARE]

    @property
    def missed(self) -> int:
        """Counted persons with less than ``REMOVED_SHARE`` of their pixels repainted."""
        return sum(1 for i in self.counted if self.person_shares[i] < REMOVED_SHARE)

    @property
    def coverage(self) -> float | None:
        return self.covered_pixels / self.gt_pixels if self.gt_pixels else None

    @property
    def could_have_residual(self) -> bool:
        return bool(self.frame_shares) or self.repainted > 0

    def badness(self) -> tuple[float, ...]:
        """Sort key, worst first: a person left, then missed persons, then unrepainted person pixels as a share of the frame."""
        left = (self.gt_pixels - self.covered_pixels) / max(1, self.frame_pixels)
        return (-float(bool(self.residual)), -float(self.missed), -left, -self.extra_pixels / max(1, self.frame_pixels))

    def to_dict(self) -> dict[str, Any]:
        return {
            "persons": len(self.person_shares),
            "persons_counted": len(self.counted),
            "persons_missed": self.missed,
            "person_repainted_shares": [round(s, 4) for s in self.person_shares],
            "person_frame_shares": [round(f, 5) for f in self.frame_shares],
            "pixel_coverage": None if self.coverage is None else round(self.coverage, 4),
            "gt_pixels": self.gt_pixels,
            "extra_pixels": self.extra_pixels,
            "extra_pixels_persons_only": self.extra_pixels_persons_only,
            "held_objects_repainted_shares": [round(v, 4) for v in self.held_shares],
            "free_objects_repainted_shares": [round(v, 4) for v in self.free_shares],
            "repainted_pixels": self.repainted,
            "residual": self.residual,
            "residual_conf": round(self.residual_conf, 4),
        }


def score_image(repainted: np.ndarray, gt: GroundTruth) -> ImageScore:
    """Counts for one image from its repainted region (bool, H x W) and its ground truth."""
    repainted = np.asarray(repainted, bool)
    shape = repainted.shape
    frame = float(repainted.size)
    shares, fracs = [], []
    for m in gt.persons:
        area = int(m.sum())
        shares.append(float((m & repainted).sum()) / area)
        fracs.append(area / frame)
    union = gt.union(shape)
    extra = int((repainted & far_from_persons(gt, shape)).sum())
    any_held = any(h for _, _, h in gt.objects)
    return ImageScore(
        person_shares=shares,
        frame_shares=fracs,
        gt_pixels=int(union.sum()),
        covered_pixels=int((union & repainted).sum()),
        extra_pixels=extra,
        repainted=int(repainted.sum()),
        frame_pixels=int(repainted.size),
        extra_pixels_persons_only=int((repainted & far_from_persons(gt, shape, held=False)).sum()) if any_held else extra,
        held_shares=[float((m & repainted).sum()) / int(m.sum()) for _, m, h in gt.objects if h],
        free_shares=[float((m & repainted).sum()) / int(m.sum()) for _, m, h in gt.objects if not h],
    )


def residual_conf(instances: list[Any], repainted: np.ndarray, gt: GroundTruth, inside: float = RESIDUAL_INSIDE) -> float:
    """The highest confidence of a person (from a check detector on the result) still there, 0 if none.

    A detection is a person still there when at least ``inside`` of its mask lies in the
    repainted region or on GT-person pixels. The caller runs the check detector at its
    threshold (0.25), so any returned value above 0 makes the photo residual.
    """
    persons = gt.union(repainted.shape)
    where = repainted | persons
    best = 0.0
    for inst in instances:
        if not getattr(inst, "is_person", True) or inst.area == 0:
            continue
        if (inst.mask & where).sum() >= inside * inst.area:
            best = max(best, float(inst.score))
    return best


@dataclass
class RemovalTally:
    """Pooled figures over images, added one ``ImageScore`` at a time."""

    images: dict[str, ImageScore] = field(default_factory=dict)

    def add(self, name: str, score: ImageScore) -> None:
        self.images[name] = score

    def summary(self) -> dict[str, Any]:
        scores = list(self.images.values())
        counted = [(s.person_shares[i], s.frame_shares[i]) for s in scores for i in s.counted]
        bands: dict[str, dict[str, Any]] = {}
        for name, lo, hi in SIZE_BANDS:
            inb = [sh for sh, f in counted if lo <= f < hi]
            removed = sum(1 for sh in inb if sh >= REMOVED_SHARE)
            bands[name] = {"persons": len(inb), "removed": removed, "share": removed / len(inb) if inb else None,
                           "frame_share": [lo, min(hi, 1.0)]}
        removed = sum(1 for sh, _ in counted if sh >= REMOVED_SHARE)
        gt = sum(s.gt_pixels for s in scores)
        held = [v for s in scores for v in s.held_shares]
        free = [v for s in scores for v in s.free_shares]
        checked = [s for s in scores if s.residual is not None and s.could_have_residual]
        left = sum(1 for s in checked if s.residual)
        return {
            "images": len(scores),
            "images_with_persons": sum(1 for s in scores if s.person_shares),
            "persons": sum(len(s.person_shares) for s in scores),
            "persons_counted": len(counted),
            "persons_removed": removed / len(counted) if counted else None,
            "persons_removed_count": removed,
            "by_size": bands,
            "pixel_coverage": sum(s.covered_pixels for s in scores) / gt if gt else None,
            "extra_area": sum(s.extra_pixels for s in scores) / gt if gt else None,
            "extra_area_persons_only": sum(s.extra_pixels_persons_only for s in scores) / gt if gt else None,
            "held_objects": len(held),
            "held_objects_removed": sum(1 for v in held if v >= REMOVED_SHARE) / len(held) if held else None,
            "held_objects_removed_count": sum(1 for v in held if v >= REMOVED_SHARE),
            "free_objects": len(free),
            "free_objects_removed": sum(1 for v in free if v >= FREE_TAKEN_SHARE) / len(free) if free else None,
            "free_objects_removed_count": sum(1 for v in free if v >= FREE_TAKEN_SHARE),
            "residual": left / len(checked) if checked else None,
            "residual_images": left,
            "residual_checked": len(checked),
            "definitions": {
                "min_frame_share": MIN_FRAME_SHARE, "removed_share": REMOVED_SHARE,
                "extra_distance_px": EXTRA_DISTANCE_PX, "residual_inside": RESIDUAL_INSIDE,
                "held_touch_px": HELD_TOUCH_PX, "held_overlap": HELD_OVERLAP, "free_taken_share": FREE_TAKEN_SHARE,
            },
        }

    def worst(self, n: int) -> list[str]:
        """Names of the ``n`` worst images (a person left, then missed persons, then unrepainted person area).

        Images with nothing wrong (no person left, none missed, every person pixel and nothing
        else repainted) are never listed.
        """
        flawed = [k for k, s in self.images.items() if any(v != 0 for v in s.badness())]
        return sorted(flawed, key=lambda k: (self.images[k].badness(), k))[:n]
