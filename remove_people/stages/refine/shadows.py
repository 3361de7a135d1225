"""Classical shadow extension: grow a person's mask into the cast shadow attached to their feet.

Why classical: a cast shadow darkens the ground it falls on without changing its hue
much, it touches the person where they meet the ground, and it does not reach further
than a few body heights. Those three facts are enough for a region growing that needs
no model and no training data:

1. seeds: background pixels along the lower outline of the person (the ground contact);
2. candidates: pixels darker than the lit ground nearby (luminance ratio) whose chromaticity
   (r, g, b normalised by their sum) stays close to the ground's, and that are not on a
   strong edge (an object boundary, not a soft shadow edge);
3. the shadow: the candidate regions connected to the seeds, within ``extent`` person
   heights of the contact, with small texture holes closed.

Its failure modes are predictable and documented in docs/beyond.md: dark ground next to
the feet (asphalt, water, dark clothing of another person) reads as shadow, and a shadow
on a surface of another colour (a wall) is not followed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class ShadowParams:
    """extent: the furthest a shadow may reach from the ground contact, in person heights.
    contact: the lower fraction of the person's box height whose outline counts as ground contact.
    darkening: least relative darkening (1 - L / L_ground) of a shadow pixel; at most max_darkening.
    chroma: largest distance of a shadow pixel's chromaticity from the lit ground's.
    edge: a blurred-luminance gradient above this fraction of the ground luminance per pixel stops growth.
    blur: Gaussian sigma applied before measuring (evens out ground texture)."""

    extent: float = 1.0
    contact: float = 0.12
    darkening: float = 0.12
    max_darkening: float = 0.85
    chroma: float = 0.05
    edge: float = 0.12
    blur: float = 2.0


def _ellipse(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _window(box: tuple[float, float, float, float], reach: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    r = int(np.ceil(reach)) + 4
    return max(0, int(y0) - r), max(0, int(x0) - r), min(shape[0], int(np.ceil(y1)) + r), min(shape[1], int(np.ceil(x1)) + r)


def shadow_mask(
    rgb: np.ndarray,
    person: np.ndarray,
    params: ShadowParams | None = None,
    box: tuple[float, float, float, float] | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """The cast shadow attached to ``person`` (bool mask), as a bool mask that excludes the person.

    ``exclude`` pixels (kept persons, other removed persons) are never part of the shadow and
    never used as lit-ground reference.
    """
    p = params or ShadowParams()
    shape = rgb.shape[:2]
    out = np.zeros(shape, dtype=bool)
    ys, xs = np.nonzero(person)
    if len(ys) == 0:
        return out
    if box is None:
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    height = max(1.0, box[3] - box[1])
    reach = p.extent * height
    wy0, wx0, wy1, wx1 = _window(box, reach, shape)
    img = rgb[wy0:wy1, wx0:wx1].astype(np.float32)
    pm = person[wy0:wy1, wx0:wx1]
    ex = exclude[wy0:wy1, wx0:wx1] if exclude is not None else np.zeros_like(pm)
    if p.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), p.blur)
    lum = img.sum(axis=2) / 3.0 + 1e-3
    chrom = img / (img.sum(axis=2, keepdims=True) + 1e-3)

    # 1. Seeds: ground pixels just outside the lower outline of the person.
    rows = np.arange(wy0, wy1)[:, None]
    low = rows >= (box[3] - p.contact * height)
    ring = cv2.dilate(pm.astype(np.uint8), _ellipse(2)).astype(bool) & ~pm & ~ex
    seeds = ring & low
    if not seeds.any():
        return out

    # 2. Lit-ground reference: the brighter half of the ground around the lower body.
    near = cv2.dilate(pm.astype(np.uint8), _ellipse(max(3, int(0.25 * height)))).astype(bool) & ~pm & ~ex
    ground = near & (rows >= box[3] - 0.5 * height)
    if ground.sum() < 20:
        return out
    g_lum = lum[ground]
    lit = ground & (lum >= np.median(g_lum))
    l_ref = float(np.median(lum[lit]))
    c_ref = np.median(chrom[lit], axis=0)

    ratio = lum / l_ref
    dark = (ratio <= 1.0 - p.darkening) & (ratio >= 1.0 - p.max_darkening)
    hue_ok = np.linalg.norm(chrom - c_ref, axis=2) <= p.chroma
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    calm = np.hypot(gx, gy) / l_ref <= p.edge
    # 3. Within reach of the contact, then connected to it.
    dist = cv2.distanceTransform((~seeds).astype(np.uint8), cv2.DIST_L2, 5)
    cand = dark & hue_ok & calm & (dist <= reach) & ~pm & ~ex
    # Seeds on lit ground (a shadow cast sideways) must not start a region; those in shade do.
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    if n <= 1:
        return out
    touching = np.unique(labels[cv2.dilate(seeds.astype(np.uint8), _ellipse(1)).astype(bool) & cand])
    touching = touching[touching > 0]
    region = np.isin(labels, touching)
    if region.any():
        # Texture and the strong-edge test leave pinholes and a thin rim: close them.
        region = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, _ellipse(3)).astype(bool)
        region &= (dist <= reach) & ~pm & ~ex
    out[wy0:wy1, wx0:wx1] = region
    return out
