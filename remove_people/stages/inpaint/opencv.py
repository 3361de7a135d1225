"""OpenCV's two classical inpainters, Telea (fast marching) and Navier-Stokes.

Why keep them: they need no weights, run anywhere, are deterministic, and are the
floor every learned inpainter is measured against in ``eval inpaint``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from remove_people.settings import param
from remove_people.stages.inpaint.base import CropParams, Inpainter


@dataclass
class OpenCVParams(CropParams):
    """radius: the neighbourhood, in pixels, that each filled pixel is computed from."""

    radius: int = param(5, lo=1, hi=256)


class _OpenCVInpainter(Inpainter):
    Params: ClassVar[type] = OpenCVParams
    flag: ClassVar[int]

    def fill(self, images: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
        return [cv2.inpaint(img, hole, float(self.params.radius), self.flag) for img, hole in zip(images, holes)]


class TeleaInpainter(_OpenCVInpainter):
    name = "telea"
    summary = "OpenCV fast-marching inpainting (Telea 2004): weight-free, fast, smooth fills."
    flag = cv2.INPAINT_TELEA


class NavierStokesInpainter(_OpenCVInpainter):
    name = "ns"
    summary = "OpenCV Navier-Stokes inpainting (Bertalmio 2001): weight-free, follows isophotes."
    flag = cv2.INPAINT_NS
