"""Hole masks for training and evaluating inpainters: lines-and-circles, and person shapes.

Every mask is uint8 (size, size) with **255 = hole** (the project's file convention);
training converts to 1 = valid for the network. Every generator takes a
``numpy.random.Generator``, so a mask is a pure function of its seed:
:func:`mask_rng` derives one generator per ``(seed, *keys)`` (e.g. seed, epoch, index),
which makes the training masks independent of worker count and order, and a resumed
run sees the same masks as an uninterrupted one.

- ``lines_circles_mask``: Liu et al.'s recipe, as the source project drew it with OpenCV:
  lines (random-walk strokes), circles and ellipses of random thickness, added until a hole
  ratio drawn from ``ratio_range`` is reached (Liu et al. report six bins from 1 % to 60 %).
- ``PersonMasks``: person silhouettes from COCO person annotations (pycocotools), since
  persons are the holes this product fills: 1–3 people, each moved, scaled to a drawn share
  of the frame, possibly mirrored and cut by the frame's edge, then dilated a little as the
  pipeline's refine stage does.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

KINDS = ("lines-circles", "persons")
DEFAULT_RATIO_RANGE = (0.01, 0.6)
PERSON_RATIO_RANGE = (0.02, 0.5)


def mask_rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator for ``(seed, *keys)``."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *[int(k) & 0xFFFFFFFF for k in keys]])


def hole_ratio(mask: np.ndarray) -> float:
    return float((mask > 0).mean())


def lines_circles_mask(
    size: int | tuple[int, int],
    rng: np.random.Generator,
    ratio_range: tuple[float, float] = DEFAULT_RATIO_RANGE,
    max_shapes: int = 400,
) -> np.ndarray:
    """Random strokes, circles and ellipses until the hole ratio reaches a drawn target."""
    h, w = (size, size) if isinstance(size, int) else size
    side = min(h, w)
    target = rng.uniform(*ratio_range)
    mask = np.zeros((h, w), np.uint8)
    for _ in range(max_shapes):
        kind = rng.choice(3, p=[0.6, 0.25, 0.15])
        thickness = int(rng.integers(max(1, side // 64), max(2, side // 10) + 1))
        if kind == 0:  # a stroke: a short random walk of line segments
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            angle = rng.uniform(0, 2 * math.pi)
            for _ in range(int(rng.integers(1, 6))):
                angle += rng.uniform(-math.pi / 2, math.pi / 2)
                length = rng.uniform(side / 16, side / 3)
                nx = int(np.clip(x + length * math.cos(angle), 0, w - 1))
                ny = int(np.clip(y + length * math.sin(angle), 0, h - 1))
                cv2.line(mask, (x, y), (nx, ny), 255, thickness, cv2.LINE_AA)
                x, y = nx, ny
        elif kind == 1:  # a circle, filled or a ring
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            r = int(rng.integers(max(2, side // 40), max(3, side // 8) + 1))
            cv2.circle(mask, c, r, 255, -1 if rng.random() < 0.5 else thickness, cv2.LINE_AA)
        else:  # an ellipse arc
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(2, max(3, side // 5))), int(rng.integers(2, max(3, side // 5))))
            a0 = float(rng.uniform(0, 360))
            cv2.ellipse(mask, c, axes, float(rng.uniform(0, 180)), a0, a0 + float(rng.uniform(90, 360)),
                        255, thickness, cv2.LINE_AA)
        if hole_ratio(mask) >= target:
            break
    return np.where(mask > 0, 255, 0).astype(np.uint8)


class PersonMasks:
    """Person silhouettes from COCO instance annotations, placed at random into square frames.

    ``annotations``: a COCO ``instances.json``. Only non-crowd person annotations with at
    least ``min_area`` pixels are used; each is decoded once (pycocotools) and kept cropped
    to its box, so sampling costs a resize and a paste.
    """

    def __init__(self, annotations: str | os.PathLike[str], min_area: int = 600) -> None:
        from pycocotools.coco import COCO

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco = COCO(str(annotations))
        ids = coco.getAnnIds(catIds=coco.getCatIds(catNms=["person"]), iscrowd=False)
        shapes: list[np.ndarray] = []
        for ann in sorted(coco.loadAnns(ids), key=lambda a: a["id"]):
            if ann.get("area", 0) < min_area:
                continue
            m = coco.annToMask(ann)
            ys, xs = np.nonzero(m)
            if ys.size == 0:
                continue
            shapes.append(np.ascontiguousarray(m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] * 255))
        if not shapes:
            raise ValueError(f"no person annotations of at least {min_area} px in {annotations}")
        self.shapes = shapes

    def __len__(self) -> int:
        return len(self.shapes)

    def sample(
        self,
        size: int | tuple[int, int],
        rng: np.random.Generator,
        ratio_range: tuple[float, float] = PERSON_RATIO_RANGE,
        max_persons: int = 3,
    ) -> np.ndarray:
        h, w = (size, size) if isinstance(size, int) else size
        mask = np.zeros((h, w), np.uint8)
        total = rng.uniform(*ratio_range)
        n = int(rng.integers(1, max_persons + 1))
        shares = rng.dirichlet(np.ones(n)) * total
        for share in shares:
            shape = self.shapes[int(rng.integers(len(self.shapes)))]
            area = float((shape > 0).sum())
            scale = math.sqrt(max(share, 0.002) * h * w / area)
            scale = min(scale, 1.3 * h / shape.shape[0], 1.3 * w / shape.shape[1])
            sh, sw = max(2, round(shape.shape[0] * scale)), max(2, round(shape.shape[1] * scale))
            person = cv2.resize(shape, (sw, sh), interpolation=cv2.INTER_LINEAR)
            if rng.random() < 0.5:
                person = person[:, ::-1]
            # Top-left corner: anywhere that keeps at least half of each side in the frame.
            y0 = int(rng.integers(-sh // 2, max(-sh // 2 + 1, h - sh // 2)))
            x0 = int(rng.integers(-sw // 2, max(-sw // 2 + 1, w - sw // 2)))
            ys, xs = slice(max(0, y0), min(h, y0 + sh)), slice(max(0, x0), min(w, x0 + sw))
            part = person[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
            mask[ys, xs] = np.maximum(mask[ys, xs], part)
        grow = int(rng.integers(0, max(1, min(h, w) // 64) + 1))
        if grow:
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        return np.where(mask > 127, 255, 0).astype(np.uint8)


def default_person_annotations() -> Path:
    """The shared folder's COCO person annotations (``shared_data.coco_person_annotations``)."""
    from remove_people.shared_data import coco_person_annotations

    return coco_person_annotations()


class MaskMixer:
    """Draws a training mask: persons with probability ``p_persons``, else lines-and-circles."""

    def __init__(self, persons: PersonMasks | None, p_persons: float = 0.5,
                 ratio_range: Sequence[float] = DEFAULT_RATIO_RANGE) -> None:
        self.persons = persons
        self.p_persons = p_persons if persons is not None else 0.0
        self.ratio_range = (float(ratio_range[0]), float(ratio_range[1]))

    def __call__(self, size: int | tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        if self.persons is not None and rng.random() < self.p_persons:
            lo, hi = self.ratio_range
            return self.persons.sample(size, rng, (max(lo, 0.02), min(hi, 0.5)))
        return lines_circles_mask(size, rng, self.ratio_range)


def write_png_atomic(path: Path, mask: np.ndarray) -> None:
    """Write a PNG atomically (``pipeline/atomic.py``): a killed run leaves no half-written mask."""
    from remove_people.pipeline.atomic import atomic_write_bytes
    from remove_people.pipeline.encode import opencv_encode

    atomic_write_bytes(path, opencv_encode(".png", mask))


def generate_masks(
    kind: str,
    n: int,
    size: int,
    out: str | os.PathLike[str],
    seed: int = 0,
    annotations: str | os.PathLike[str] | None = None,
    ratio_range: tuple[float, float] | None = None,
) -> list[Path]:
    """Write ``n`` masks ``{kind}_{i:06d}.png`` (255 = hole); mask i depends only on (seed, kind, i)."""
    if kind not in KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; valid: {', '.join(KINDS)}")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    persons = PersonMasks(annotations or default_person_annotations()) if kind == "persons" else None
    kind_key = KINDS.index(kind)
    paths = []
    for i in range(n):
        rng = mask_rng(seed, kind_key, i)
        if persons is not None:
            m = persons.sample(size, rng, ratio_range or PERSON_RATIO_RANGE)
        else:
            m = lines_circles_mask(size, rng, ratio_range or DEFAULT_RATIO_RANGE)
        p = out_dir / f"{kind}_{i:06d}.png"
        write_png_atomic(p, m)
        paths.append(p)
    return paths
