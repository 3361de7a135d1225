"""The inpainter base class: the hole convention, crop-around-hole, scaling, padding, paste-back.

Why here and not in each plugin (as IOPaint's ``InpaintModel`` does): every
inpainter must promise the same thing, that pixels outside the hole come back
bit-identical, and the costly part of a photo is rarely the hole. The base class
cuts a context window around each group of holes, optionally scales it so a
network sees its training scale, pads it to the network's multiple, hands the
batch of crops to ``fill``, and pastes back only hole pixels, rounded. A
concrete inpainter implements ``fill`` on small, already-prepared arrays.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from remove_people.devices import resolve_device
from remove_people.settings import param
from remove_people.stages.base import Stage


@dataclass
class CropParams:
    """How the base class cuts the image around holes (shared by every inpainter).

    strategy: ``crop`` (a context window around each group of holes) or ``full`` (the whole image).
    margin: context around a hole's bounding box, as a fraction of the box's longer side.
    min_margin: the least context, in pixels.
    max_side: scale a window down so its longer side is at most this (``None``: never scale).
    feather: width in pixels of the blend ramp inside the hole's edge (0: hard paste).
    """

    strategy: str = param("crop", choices=("crop", "full"))
    margin: float = param(0.5, lo=0.0, hi=10.0)
    min_margin: int = param(32, lo=0, hi=4096)
    max_side: int | None = param(None, lo=16, hi=65536)
    feather: int = param(0, lo=0, hi=1024)


@dataclass(frozen=True)
class Region:
    """A window ``[y0:y1, x0:x1]`` of the image that is filled in one piece."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


@dataclass
class Crop:
    """One window ready for ``fill``: pixels, hole (255 = fill), the scale applied, and
    (for inpainters that copy from the photo) the pixels that must not be sources."""

    image: np.ndarray
    hole: np.ndarray
    scale: float
    exclude: np.ndarray | None = None


def _scale_binary(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 0/255 mask so that any pixel it partly covers stays set."""
    return np.where(cv2.resize(mask, size, interpolation=cv2.INTER_AREA) > 0, 255, 0).astype(np.uint8)


def as_hole_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Normalise a mask to the hole convention: uint8, (H, W), 255 = fill, 0 = keep."""
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m.max(axis=2)
    if m.shape != shape:
        raise ValueError(f"mask shape {m.shape} does not match image shape {shape}")
    # Bool and 0/1 masks count any non-zero value; 8-bit masks are thresholded at 127.
    threshold = 0 if (m.dtype == bool or m.max(initial=0) <= 1) else 127
    return np.where(m > threshold, 255, 0).astype(np.uint8)


def hole_regions(mask: np.ndarray, margin: float, min_margin: int) -> list[Region]:
    """Disjoint windows that together contain every hole pixel, each with context around it.

    Each connected hole gets its bounding box grown by ``max(min_margin, margin * longer side)``;
    windows that overlap are merged until none do, so every hole pixel lies in exactly one window.
    """
    h, w = mask.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    boxes: list[list[int]] = []
    for i in range(1, n):
        x, y, bw, bh = stats[i, :4]
        m = max(min_margin, int(math.ceil(margin * max(bw, bh))))
        boxes.append([max(0, y - m), max(0, x - m), min(h, y + bh + m), min(w, x + bw + m)])
    merged = True
    while merged:
        merged = False
        out: list[list[int]] = []
        for b in boxes:
            for o in out:
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    o[0], o[1], o[2], o[3] = min(o[0], b[0]), min(o[1], b[1]), max(o[2], b[2]), max(o[3], b[3])
                    merged = True
                    break
            else:
                out.append(list(b))
        boxes = out
    return [Region(*b) for b in sorted(boxes)]


def feather_alpha(hole: np.ndarray, width: int) -> np.ndarray:
    """Blend weight in [0, 1]: 1 deep inside the hole, ramping to >0 at its edge, 0 outside.

    Why inside only: the promise is that nothing outside the refined mask changes, so the
    ramp lives in the dilated ring of the mask, never beyond it.
    """
    inside = (hole > 0).astype(np.uint8)
    if width <= 0:
        return inside.astype(np.float32)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    return np.clip(dist / float(width), 0.0, 1.0).astype(np.float32) * inside


def blend_into_hole(original: np.ndarray, fill: np.ndarray, hole: np.ndarray, feather: int) -> np.ndarray:
    """``original`` with its hole pixels replaced by ``fill``, blended over a ``feather``-pixel ramp
    inside the hole's edge (:func:`feather_alpha`) and rounded; pixels outside the hole are untouched.

    The paste-back of every inpainter; ``benchmarks/feather.py`` re-pastes one fill with it.
    """
    inside = hole > 0
    if feather <= 0:  # no ramp: the fill itself, rounded (the same bytes as the blend below, without its full-window float pass)
        out = original.copy()
        picked = fill[inside]
        out[inside] = picked if picked.dtype == np.uint8 else np.clip(np.rint(picked.astype(np.float32)), 0, 255).astype(np.uint8)
        return out
    alpha = feather_alpha(hole, feather)[..., None]
    blended = np.clip(np.rint(alpha * fill.astype(np.float32) + (1.0 - alpha) * original.astype(np.float32)), 0, 255)
    out = original.copy()
    out[inside] = blended.astype(np.uint8)[inside]
    return out


class Inpainter(Stage):
    """Base of every inpainter plugin.

    Subclasses set ``pad_multiple`` (the network's size multiple) and implement
    ``fill``. They never see the whole photo unless the ``full`` strategy is chosen.
    """

    Params: ClassVar[type] = CropParams
    #: Crops handed to ``fill`` have heights and widths that are multiples of this.
    pad_multiple: ClassVar[int] = 1
    #: Whether ``fill`` gets several crops at once (networks) or one at a time.
    batch_crops: ClassVar[bool] = False
    #: About how much memory one inpainting worker process of this plugin needs, in MB
    #: (``run.inpaint_workers: auto`` starts no more workers than half the free memory holds).
    worker_memory_mb: ClassVar[int] = 200
    #: Whether ``fill`` copies pixels from elsewhere in the photo (PatchMatch, attention) and so
    #: takes ``excludes``: per crop, uint8 (h, w), 255 = a pixel that must never be a source.
    #: Why: a person the user keeps, or one the detector missed or was unsure of, must not be
    #: cloned into the hole left by someone removed. Plugins that leave this False get
    #: ``fill(images, holes)`` as before, so third-party plugins need no change.
    uses_exclude: ClassVar[bool] = False

    @abstractmethod
    def fill(self, images: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
        """Fill the holes of each crop.

        images: RGB uint8 (h, w, 3), h and w multiples of ``pad_multiple``.
        holes: uint8 (h, w), 255 = fill. Returns RGB arrays of the same shapes, uint8 or
        float in [0, 255]; only their hole pixels are used.
        A plugin with ``uses_exclude`` also takes ``excludes=`` (one uint8 (h, w) per crop,
        255 = never copy from here) whenever the photo has persons that stay.
        """

    def uses_accelerator(self) -> bool:
        """Whether ``fill`` runs on a GPU (then the runner adds no CPU worker processes).

        Plugins with a ``device`` param answer from it; weight-free ones run on the CPU.
        """
        device = getattr(self.params, "device", None)
        return isinstance(device, str) and resolve_device(device).startswith("cuda")

    # -- the shared strategy -------------------------------------------------------------

    def inpaint(self, image: np.ndarray, mask: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """Fill ``mask`` (255 = hole) in ``image`` (RGB uint8); pixels outside the mask are returned unchanged.

        ``exclude`` (same size, non-zero = never copy from here) marks persons that stay in the
        photo; inpainters that copy from the photo (``uses_exclude``) take no source from it.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}")
        hole = as_hole_mask(mask, image.shape[:2])
        if not hole.any():
            return image.copy()
        if exclude is not None:
            exclude = np.where(as_hole_mask(exclude, image.shape[:2]) > 0, 255, 0).astype(np.uint8)
            exclude[hole > 0] = 0  # hole pixels are never sources anyway
            if not exclude.any() or not self.uses_exclude:
                exclude = None
        p = self.params
        if p.strategy == "full":
            regions = [Region(0, 0, image.shape[0], image.shape[1])]
        elif p.strategy == "crop":
            regions = hole_regions(hole, p.margin, p.min_margin)
        else:
            raise ValueError(f"unknown inpaint strategy {p.strategy!r}; valid: crop, full")

        prepared = [self._prepare(image, hole, r, exclude) for r in regions]
        crops = [c.image for c in prepared]
        crop_holes = [c.hole for c in prepared]
        if exclude is not None:
            crop_excludes = [c.exclude for c in prepared]
            if self.batch_crops:
                filled = self.fill(crops, crop_holes, excludes=crop_excludes)  # type: ignore[call-arg]
            else:
                filled = [self.fill([c], [m], excludes=[e])[0] for c, m, e in zip(crops, crop_holes, crop_excludes)]  # type: ignore[call-arg]
        elif self.batch_crops:
            filled = self.fill(crops, crop_holes)
        else:
            filled = [self.fill([c], [m])[0] for c, m in zip(crops, crop_holes)]

        result = image.copy()
        for region, crop, out in zip(regions, prepared, filled):
            self._paste(result, image, hole, region, np.asarray(out), crop.scale)
        return result

    def _prepare(self, image: np.ndarray, hole: np.ndarray, r: Region, exclude: np.ndarray | None = None) -> "Crop":
        """Cut, scale down if needed, and pad one window (and its exclusion mask, the same way)."""
        crop = image[r.y0 : r.y1, r.x0 : r.x1]
        crop_hole = hole[r.y0 : r.y1, r.x0 : r.x1]
        crop_ex = exclude[r.y0 : r.y1, r.x0 : r.x1] if exclude is not None else None
        h, w = crop.shape[:2]
        scale = self.window_scale(h, w, int(np.count_nonzero(crop_hole))) if self.params.strategy == "crop" else 1.0
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            # Any partially covered pixel stays a hole (or excluded): scaling must never shrink either.
            crop_hole = _scale_binary(crop_hole, size)
            crop_ex = _scale_binary(crop_ex, size) if crop_ex is not None else None
        k = self.pad_multiple
        ph, pw = (-crop.shape[0]) % k, (-crop.shape[1]) % k
        if ph or pw:
            mode = cv2.BORDER_REFLECT_101 if min(crop.shape[:2]) > 1 else cv2.BORDER_REPLICATE
            crop = cv2.copyMakeBorder(crop, 0, ph, 0, pw, mode)
            # The hole is mirrored with the image: padding it with 0 would hand the network
            # a mirrored copy of the very person being removed as known context.
            crop_hole = cv2.copyMakeBorder(crop_hole, 0, ph, 0, pw, mode)
            if crop_ex is not None:  # the padding mirrors the image, so it mirrors what is excluded too
                crop_ex = cv2.copyMakeBorder(crop_ex, 0, ph, 0, pw, mode)
        return Crop(
            np.ascontiguousarray(crop),
            np.ascontiguousarray(crop_hole),
            scale,
            np.ascontiguousarray(crop_ex) if crop_ex is not None else None,
        )

    def window_scale(self, h: int, w: int, hole_pixels: int) -> float:
        """How much to shrink an ``h`` x ``w`` window before ``fill`` (1.0: not at all).

        The base rule is ``max_side``: networks should see about their training scale.
        A plugin whose cost follows something else overrides this (PatchMatch: the hole).
        """
        max_side = self.params.max_side
        return min(1.0, max_side / max(h, w)) if max_side else 1.0

    def _paste(
        self, result: np.ndarray, image: np.ndarray, hole: np.ndarray, r: Region, out: np.ndarray, scale: float
    ) -> None:
        """Undo padding and scaling, then write back only the hole pixels of window ``r``, rounded."""
        h, w = r.shape
        if scale != 1.0:
            sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
            out = cv2.resize(out[:sh, :sw].astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        region_hole = hole[r.y0 : r.y1, r.x0 : r.x1]
        blended = blend_into_hole(image[r.y0 : r.y1, r.x0 : r.x1], out[:h, :w], region_hole, self.params.feather)
        inside = region_hole > 0
        result[r.y0 : r.y1, r.x0 : r.x1][inside] = blended[inside]
