"""What a detector returns: one ``Instance`` per found object, with a full-resolution mask.

Why full resolution: every later stage (refine, inpaint, the "pixels outside the
mask are unchanged" promise) works in the photo's own pixel grid.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np

from remove_people.stages.base import Stage

PERSON = "person"


@dataclass
class Instance:
    """One detected object. ``mask`` is bool (H, W) in the image's pixel grid."""

    mask: np.ndarray
    score: float = 1.0
    label: str = PERSON
    class_id: int = 0
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.box is None:
            ys, xs = np.nonzero(self.mask)
            self.box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)) if len(xs) else (0.0, 0.0, 0.0, 0.0)

    def window(self, margin: int = 0) -> tuple[slice, slice]:
        """Rows and columns of the box grown by ``margin`` pixels, clipped to the frame, that hold the
        whole mask (the whole frame when the box does not hold it).

        Why: masks are full-frame, and a person covers a small part of it; work per instance
        (counting, morphology) done inside this window gives the same result much faster.
        """
        h, w = self.mask.shape
        x0, y0, x1, y1 = self.box or (0.0, 0.0, float(w), float(h))
        rows = slice(max(0, int(np.floor(y0)) - margin), min(h, int(np.ceil(y1)) + 1 + margin))
        cols = slice(max(0, int(np.floor(x0)) - margin), min(w, int(np.ceil(x1)) + 1 + margin))
        if rows.start >= rows.stop or cols.start >= cols.stop or np.count_nonzero(self.mask[rows, cols]) != self.area:
            return slice(0, h), slice(0, w)
        return rows, cols

    @cached_property
    def area(self) -> int:
        """Mask pixels; counted once (the merge and the selection ask for it per pair). Masks are
        never changed in place after detection: a stage that changes one makes a new ``Instance``."""
        return int(np.count_nonzero(self.mask))

    @property
    def is_person(self) -> bool:
        return self.label == PERSON


@dataclass
class Frame:
    """What a detector sees of one input: the upright RGB pixels, and where they came from."""

    rgb: np.ndarray
    path: Path
    rel: str  # path relative to the input root, with forward slashes
    extra: dict = field(default_factory=dict)


class Detector(Stage):
    """Base of detectors: ``detect`` takes a batch of frames and returns instances per frame."""

    #: False for detectors whose output depends on files other than the image (e.g. mask
    #: folders), so the pipeline recomputes them instead of trusting a content-keyed cache.
    cacheable: ClassVar[bool] = True

    @abstractmethod
    def detect(self, frames: list[Frame]) -> list[list[Instance]]:
        """Instances for each frame, in order; an empty list for a frame with nobody in it."""
