"""The image pyramid of a fill: masked downsampling, source validity, and NNF upsampling.

Why masked downsampling: a coarse pixel's colour is the mean of the *known* fine
pixels under it only, so a hole's old content (the removed person) never leaks into
the coarse levels where the fill's layout is decided. A coarse pixel is a hole only
when every fine pixel under it is; a coarse pixel is excluded as a source when *any*
fine pixel under it is, so the exclusion is conservative at every scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from remove_people.fill.rng import mix32_np


@dataclass
class Level:
    """One scale of the fill.

    image: RGB uint8 (h, w, 3); hole pixels hold the current estimate.
    hole: bool (h, w), pixels to fill.
    exclude: bool (h, w), pixels that may never be copied (and are ignored in patch distances).
    """

    image: np.ndarray
    hole: np.ndarray
    exclude: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.hole.shape  # type: ignore[return-value]


#: The 6-tap binomial kernel (1 5 10 10 5 1)/32 of the masked downsampling, as PatchMatch inpainting uses.
_KERNEL = np.array([1, 5, 10, 10, 5, 1], np.float32) / 32.0


def downsample(level: Level) -> Level:
    """Half the size (rounded up), averaging only known, non-excluded pixels under a 6x6 binomial kernel.

    A coarse pixel is a hole only when no such pixel lies under its kernel, so a hole shrinks
    by about one coarse pixel per side and level: the coarse levels see the hole's surroundings
    reach in and fix the fill's layout (sky above, ground below) before any detail is copied.
    It is excluded when any fine pixel of its 2x2 block is.
    """
    h, w = level.shape
    known = (~level.hole & ~level.exclude).astype(np.float32)
    img = np.multiply(level.image, known[..., None], dtype=np.float32)
    # Taps at -2..+3 around each even pixel (anchor 2 of 6), centred between 2Y and 2Y+1; keep every second.
    kx, ky = _KERNEL.reshape(1, -1), _KERNEL.reshape(-1, 1)
    num = cv2.sepFilter2D(img, -1, kx, ky, anchor=(2, 2), borderType=cv2.BORDER_CONSTANT)
    den = cv2.sepFilter2D(known, -1, kx, ky, anchor=(2, 2), borderType=cv2.BORDER_CONSTANT)
    num, den = num[::2, ::2], den[::2, ::2]
    hh, ww = den.shape
    empty = den <= 1e-6  # no known pixel under the kernel
    hole = empty & _any_2x2(level.hole, hh, ww)
    exclude = np.zeros_like(hole)
    if level.exclude.any():
        exclude = _any_2x2(level.exclude, hh, ww) & ~hole
    colour = num / np.maximum(den, 1e-6)[..., None]
    colour[empty] = 0.0
    return Level(np.clip(np.rint(colour), 0, 255).astype(np.uint8), hole, exclude)


def _any_2x2(mask: np.ndarray, hh: int, ww: int) -> np.ndarray:
    """Whether any pixel of each 2x2 block is set (the last row/column repeated to even sizes)."""
    h, w = mask.shape
    m = np.pad(mask, ((0, hh * 2 - h), (0, ww * 2 - w)), mode="edge")
    return m[0::2, 0::2] | m[1::2, 0::2] | m[0::2, 1::2] | m[1::2, 1::2]


def build_pyramid(level: Level, min_side: int) -> list[Level]:
    """Levels from fine (index 0) to coarse: halve while a hole is left and both sides stay >= ``min_side``."""
    levels = [level]
    while True:
        h, w = levels[-1].shape
        if min((h + 1) // 2, (w + 1) // 2) < min_side:
            break
        nxt = downsample(levels[-1])
        if not nxt.hole.any():
            break
        levels.append(nxt)
    return levels


def _box_counts(mask: np.ndarray, radius: int) -> np.ndarray:
    """For each patch centre whose patch lies inside the frame: how many ``mask`` pixels the patch holds."""
    k = 2 * radius + 1
    integral = cv2.integral(mask.astype(np.uint8))  # (h+1, w+1), int32
    return integral[k:, k:] - integral[:-k, k:] - integral[k:, :-k] + integral[:-k, :-k]


def valid_sources(hole: np.ndarray, exclude: np.ndarray, radius: int, max_hole_share: float) -> np.ndarray:
    """Patch centres a match may point at: the whole ``(2r+1)^2`` patch inside the frame, no
    excluded pixel in it, its centre known, and at most ``max_hole_share`` of it in the hole.

    Why allow some hole pixels: at coarse scales few patches are wholly clean (a 7x7 patch on a
    32-pixel-wide level), and forbidding them leaves only the largest flat area (the sky) as a
    source. Hole pixels of a source patch cost a penalty in the distance and never vote.
    """
    h, w = hole.shape
    k = 2 * radius + 1
    valid = np.zeros((h, w), bool)
    if h < k or w < k:
        return valid
    inner = (slice(radius, h - radius), slice(radius, w - radius))
    ok = _box_counts(exclude, radius) == 0
    ok &= _box_counts(hole, radius) <= int(max_hole_share * k * k)
    valid[inner] = ok & ~hole[inner]
    return valid


def target_centres(hole: np.ndarray, radius: int) -> np.ndarray:
    """Patch centres whose patch overlaps the hole: the hole dilated by the patch radius (square)."""
    k = 2 * radius + 1
    return cv2.dilate(hole.astype(np.uint8), np.ones((k, k), np.uint8)) > 0


def random_valid(valid_yx: np.ndarray, keys: np.ndarray, salt: int) -> np.ndarray:
    """A valid source for each key, picked by a counter-based hash (same keys and salt: same picks)."""
    h = mix32_np((keys.astype(np.int64) ^ salt) & 0xFFFFFFFF)
    return valid_yx[h % len(valid_yx)]


def nearest_valid(valid: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """For the pixels (``ys``, ``xs``): the (y, x) of the nearest valid source centre (L2), as (n, 2) int32.

    Only the asked-for pixels are looked up, not the whole level (the targets whose doubled
    match is no valid source).
    """
    _, labels = cv2.distanceTransformWithLabels(
        (~valid).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # DIST_LABEL_PIXEL numbers the zero pixels (the valid ones) 1.. in row-major order.
    flat = np.flatnonzero(valid)
    at = flat[np.clip(labels[ys, xs] - 1, 0, len(flat) - 1)]
    return np.stack(np.divmod(at, valid.shape[1]), axis=1).astype(np.int32)


def upsample_nnf(
    coarse_targets: np.ndarray, coarse_nnf: np.ndarray, fine_ty: np.ndarray, fine_tx: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """Each fine target takes its coarse parent's match, doubled and shifted by its position in the 2x2 block.

    A target whose parent was no target (the coarse hole is smaller), or whose upsampled match
    is not a valid source at this scale, takes the valid source nearest to where it would point
    (its own position when it has no parent): a spatially coherent start, not a random one.
    """
    ch, cw = coarse_targets.shape
    py, px = np.minimum(fine_ty // 2, ch - 1), np.minimum(fine_tx // 2, cw - 1)
    parent = coarse_targets[py, px]
    has = parent >= 0
    sy = np.where(has, coarse_nnf[np.maximum(parent, 0), 0] * 2 + (fine_ty & 1), fine_ty)
    sx = np.where(has, coarse_nnf[np.maximum(parent, 0), 1] * 2 + (fine_tx & 1), fine_tx)
    h, w = valid.shape
    sy, sx = np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)
    ok = valid[sy, sx]
    out = np.stack([sy, sx], axis=1).astype(np.int32)
    bad = ~ok
    if bad.any():
        out[bad] = nearest_valid(valid, sy[bad], sx[bad])
    return out
