"""Refiner ``morphology`` (default) and ``none``.

Why these steps, in this order: specks are dropped first (so they are not grown
into visible holes), enclosed background gaps are filled (an arm on a hip leaves
an island that would otherwise keep a sliver of the person's outline), small gaps
are closed, then each person is dilated by a radius that grows with its size
(a halo scales with the person), the contour is smoothed, and finally protected
pixels (kept persons) are carved out. With ``shadows`` on, each removed person's
mask first grows into its attached cast shadow (``shadows.py``), before dilation, so
the shadow's soft edge is swallowed by the same halo as the person's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from remove_people.settings import param
from remove_people.stages.base import NoParams
from remove_people.stages.detect.base import Instance
from remove_people.stages.refine.base import Refiner, union
from remove_people.stages.refine.shadows import ShadowParams, shadow_mask

#: The shadow step's defaults live in ``ShadowParams``; the refiner's settings show them under its names.
_SHADOW = ShadowParams()


@dataclass
class MorphologyParams:
    """dilate: ellipse radius in pixels. dilate_frac: extra radius as a fraction of each
    person's box height. fill_holes: fill enclosed gaps. close: closing radius.
    smooth: contour smoothing radius. min_area: drop blobs smaller than this (pixels).
    Any of them 0/false switches that step off.
    shadows: grow each removed person into the cast shadow attached to their feet (off by
    default: see docs/beyond.md for where it helps and where it fails). shadow_extent (person
    heights), shadow_darkening, shadow_chroma, shadow_edge: as ``ShadowParams`` extent,
    darkening, chroma, edge."""

    dilate: int = param(5, lo=0, hi=512)
    dilate_frac: float = param(0.02, lo=0.0, hi=1.0)
    fill_holes: bool = True
    close: int = param(5, lo=0, hi=512)
    smooth: int = param(3, lo=0, hi=512)
    min_area: int = param(64, lo=0, hi=2**32)
    shadows: bool = False
    shadow_extent: float = param(_SHADOW.extent, lo=0.0, hi=10.0)
    shadow_darkening: float = param(_SHADOW.darkening, lo=0.0, hi=1.0)
    shadow_chroma: float = param(_SHADOW.chroma, lo=0.0, hi=1.0)
    shadow_edge: float = param(_SHADOW.edge, lo=0.0, hi=10.0)


def ellipse(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def drop_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros(mask.shape, dtype=np.uint8)
    cv2.drawContours(out, contours, -1, 1, thickness=cv2.FILLED)
    return out.astype(bool) | mask


class MorphologyRefiner(Refiner):
    name = "morphology"
    summary = "Classical clean-up: drop specks, fill holes, close gaps, size-aware dilation, smoothing."
    Params: ClassVar[type] = MorphologyParams

    def refine(self, rgb: np.ndarray, instances: list[Instance], protect: np.ndarray | None = None) -> np.ndarray:
        p = self.params
        shape = rgb.shape[:2]
        out = np.zeros(shape, dtype=bool)
        shadow_params = self._shadow_params() if p.shadows else None
        for inst in instances:
            x0, y0, x1, y1 = inst.box or (0, 0, 0, 0)
            radius = int(round(p.dilate + p.dilate_frac * max(0.0, y1 - y0)))
            # Each instance is worked on inside its box, grown by what the closing and the dilation
            # can reach (a closing looks 2 * close past the mask): the same pixels as on the whole
            # frame, at a fraction of the cost. Shadows look at the whole photo.
            win = (slice(None), slice(None)) if shadow_params is not None else inst.window(2 * p.close + radius + 2)
            m = inst.mask[win]
            if p.min_area > 0:
                m = drop_specks(m, p.min_area)
            if not m.any():
                continue
            if p.fill_holes:
                m = fill_holes(m)
            if p.close > 0:
                m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, ellipse(p.close)).astype(bool)
            if shadow_params is not None and inst.is_person:
                m = m | self._shadow(rgb, m, inst, instances, protect, shadow_params)
            if radius > 0:
                m = cv2.dilate(m.astype(np.uint8), ellipse(radius)).astype(bool)
            out[win] |= m
        if p.smooth > 0 and out.any():
            k = 2 * p.smooth + 1
            # Union with the blurred mask: smoothing may round off corners outward, never inward.
            out |= cv2.GaussianBlur(out.astype(np.float32), (k, k), 0) > 0.5
        if protect is not None:
            out &= ~protect
        return out.astype(np.uint8) * 255

    def _shadow_params(self) -> ShadowParams:
        p = self.params
        return ShadowParams(extent=p.shadow_extent, darkening=p.shadow_darkening, chroma=p.shadow_chroma, edge=p.shadow_edge)

    @staticmethod
    def _shadow(
        rgb: np.ndarray, m: np.ndarray, inst: Instance, instances: list[Instance], protect: np.ndarray | None, sp: ShadowParams
    ) -> np.ndarray:
        """The shadow attached to one person; other instances and protected pixels are never shadow."""
        exclude = np.zeros(m.shape, dtype=bool) if protect is None else protect.copy()
        for other in instances:
            if other is not inst:
                exclude |= other.mask
        return shadow_mask(rgb, m, sp, box=inst.box, exclude=exclude)


class PassThroughRefiner(Refiner):
    name = "none"
    summary = "No refinement: the union of the detector's masks, as they are."
    Params: ClassVar[type] = NoParams

    def refine(self, rgb: np.ndarray, instances: list[Instance], protect: np.ndarray | None = None) -> np.ndarray:
        out = union(instances, rgb.shape[:2])
        if protect is not None:
            out &= ~protect
        return out.astype(np.uint8) * 255
