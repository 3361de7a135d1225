"""Person-shaped holes on person-free photos, as in LaMa's object-mask protocol.

Why person shapes: the holes this product fills are where people stood, so a
benchmark with strokes or boxes would measure the wrong thing. COCO person
silhouettes are moved, scaled (to a drawn share of the frame) and sometimes
mirrored onto a photo that has no person in it, so the true pixels under the hole
are known. Each hole is a pure function of ``(seed, image name)``: the numbers
reproduce, and adding an image to the set does not change the others' holes.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from remove_people.training.masks import PersonMasks, mask_rng


class PersonHoles:
    """Draws one person-shaped hole mask (uint8, 255 = hole) per image name."""

    def __init__(
        self,
        annotations: Path,
        seed: int = 0,
        ratio_range: tuple[float, float] = (0.05, 0.25),
        max_persons: int = 2,
        min_area: int = 1500,
    ) -> None:
        self.shapes = PersonMasks(annotations, min_area=min_area)
        self.seed = int(seed)
        self.ratio_range = (float(ratio_range[0]), float(ratio_range[1]))
        self.max_persons = int(max_persons)

    def hole_for(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        """The hole for image ``name`` of size ``shape`` (H, W); never empty."""
        rng = mask_rng(self.seed, zlib.crc32(name.encode("utf-8")))
        for _ in range(8):
            mask = self.shapes.sample(shape, rng, self.ratio_range, self.max_persons)
            if mask.any():
                return mask
        raise ValueError(f"{name}: could not place a person-shaped hole on a {shape[1]}x{shape[0]} image")
