"""The seam a paste-back can leave: the band around a hole's edge, and a hole corrupted as a tight mask leaves it.

Why here: ``benchmarks/feather.py`` measures whether feathering hides the seam and
``tests/stages/test_feather.py`` checks the same on one scene; both need the band that is
scored and the same corrupted input (on ``data/scenes`` the pixels under a hole are the
ground truth, so handing the untouched photo to the inpainter would let feathering copy
the answer).
"""

from __future__ import annotations

import cv2
import numpy as np

CLOTHES = np.array([60, 70, 120], np.uint8)  # the stand-in for what the hole hid


def corrupt(rgb: np.ndarray, hole: np.ndarray, ring: int) -> np.ndarray:
    """Paint the hole, except its outer ``ring`` pixels, with a foreign colour."""
    inside = (hole > 0).astype(np.uint8)
    core = cv2.distanceTransform(inside, cv2.DIST_L2, 5) > ring if ring > 0 else inside.astype(bool)
    out = rgb.copy()
    out[core] = CLOTHES
    return out


def edge_band(hole: np.ndarray, width: int) -> np.ndarray:
    """The pixels within ``width`` of the hole's edge, on both sides (bool)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    h = (hole > 0).astype(np.uint8)
    return cv2.dilate(h, k).astype(bool) & ~cv2.erode(h, k).astype(bool)
