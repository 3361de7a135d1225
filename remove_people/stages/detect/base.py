"""What a detector returns: one ``Instance`` per found object, with a full-resolution mask.

Why full resolution: every later stage (refine, inpaint, the "pixels outside the
mask are unchanged" promise) works in the photo's own pixel grid.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
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

    @property
    def area(self) -> int:
        return int(self.mask.sum())

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
