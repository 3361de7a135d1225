"""PatchMatch inpainting through the ``pypatchmatch`` package.

Why this library: it ships a prebuilt native PatchMatch with a settable seed, so
results are texture-preserving (unlike OpenCV's diffusion fills) and
reproducible, with no weights to fetch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from remove_people.settings import param
from remove_people.stages.inpaint.base import CropParams, Inpainter


@dataclass
class PatchMatchParams(CropParams):
    """patch_size: radius of compared patches (larger follows bigger structure, much slower).
    seed: the randomized search's seed; equal inputs and seed give equal results.
    max_hole_pixels: shrink a window whose hole has more pixels than this before filling
    (``None``: never); PatchMatch's time follows the hole's area, so this caps the time per person.
    """

    max_side: int | None = param(768, lo=16, hi=65536)  # PatchMatch's cost grows with the window
    patch_size: int = param(3, lo=1, hi=31)
    seed: int = param(0, lo=0, hi=2**31 - 1)
    max_hole_pixels: int | None = param(None, lo=1, hi=2**32)


class PatchMatchInpainter(Inpainter):
    name = "pypatchmatch"
    summary = "PatchMatch (Barnes 2009) via pypatchmatch: single-threaded reference for ours (patchmatch), seeded."
    Params: ClassVar[type] = PatchMatchParams
    #: ``fill`` takes ``excludes``, passed to pypatchmatch as its ``global_mask``.
    uses_exclude: ClassVar[bool] = True

    def window_scale(self, h: int, w: int, hole_pixels: int) -> float:
        """``max_side``, and also the hole budget: the area scale is ``max_hole_pixels / hole_pixels``."""
        scale = super().window_scale(h, w, hole_pixels)
        budget = self.params.max_hole_pixels
        if budget and hole_pixels > budget:
            scale = min(scale, math.sqrt(budget / hole_pixels))
        return scale

    def fill(
        self, images: list[np.ndarray], holes: list[np.ndarray], excludes: list[np.ndarray] | None = None
    ) -> list[np.ndarray]:
        from patchmatch import patch_match

        out = []
        for i, (img, hole) in enumerate(zip(images, holes)):
            # pypatchmatch's global_mask: pixels neither filled nor used as a source. A hole pixel
            # must still be filled, so the hole is taken out of it.
            excl = None
            if excludes is not None and excludes[i] is not None and np.any(excludes[i]):
                excl = np.where((excludes[i] > 0) & (hole == 0), 255, 0).astype(np.uint8)
            # The seed is global in the native library: set it before every call so each
            # crop's result depends only on its own pixels, not on what ran before.
            patch_match.set_random_seed(self.params.seed)
            out.append(patch_match.inpaint(img, mask=hole, global_mask=excl, patch_size=self.params.patch_size))
        return out
