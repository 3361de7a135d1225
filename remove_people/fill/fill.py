"""Multi-scale PatchMatch fill (Wexler et al. 2007 with Barnes et al.'s PatchMatch search).

From the coarsest level up: match every patch that overlaps the hole to a patch of the
photo (PatchMatch: propagation and random search), then repaint each hole pixel as the
weighted mean of what the overlapping matches put there (the coherence vote), a few
times; then double the matches and the estimate to the next finer level.

Guarantees, whatever the backend or thread count: only hole pixels change; no pixel of
``exclude`` (or of the hole) is ever part of a copied patch; equal inputs and seed
give equal bytes (integer arithmetic, counter-based random numbers, Jacobi passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from remove_people.fill.pyramid import Level, build_pyramid, nearest_valid, random_valid, target_centres, upsample_nnf, valid_sources
from remove_people.fill.rng import stream_key


@dataclass(frozen=True)
class FillSettings:
    """How a fill searches and votes (the plugin's params map onto these).

    patch_radius: radius of the compared patches at the finest level ((2r+1)^2 pixels).
    coarse_patch_radius: radius at the coarser levels (``None``: the same).
    seed: the random search's seed.
    min_side: build coarser levels while a hole is left and both sides stay at least this long.
    em_iters: vote rounds at the finest level; each coarser level adds ``em_per_level`` (at most ``em_max``).
    search_iters: PatchMatch passes before each vote at the finest level; coarser levels add one each (at most 4).
    known_weight: weight of a known pixel against a hole pixel in the patch distance.
    vote_sigma: vote weight exp(-d / (vote_sigma * 75th percentile of d)); larger is a flatter mean.
    jumps: propagation distances (1 = the 4 neighbours; larger ones spread matches faster).
    local_search: random-search radius cap at the ``local_levels`` finest levels (None: the whole frame);
    the coarse levels have placed every match already, the fine ones only refine it.
    gradient_weight: weight of the luminance gradients beside RGB in the patch distance (0: RGB only).
    occurrence_cost: cost of overusing a source, in 75th-percentile distances per multiple of its fair share (0: off).
    blend_band: re-solve the hole's outer pixels up to this depth in the gradient domain (0: off).
    blend_source_edge: in that band, keep the source's step across the edge (else none).
    final_copy: the last round at full resolution copies each pixel's own match instead of voting.
    distance_cost: a source's distance grows by this per pixel it lies from the hole (0: no preference).
    source_hole_share: a source patch may have at most this share of its pixels in the hole.
    source_hole_cost: what a source pixel in the hole adds to the distance (in squared RGB units).
    """

    patch_radius: int = 3
    coarse_patch_radius: int | None = None
    seed: int = 0
    min_side: int = 8
    em_iters: int = 2
    em_per_level: int = 2
    em_max: int = 8
    search_iters: int = 1
    known_weight: int = 1
    vote_sigma: float = 1.0
    jumps: tuple[int, ...] = (1,)
    source_hole_share: float = 0.5
    local_search: int | None = None
    final_copy: bool = False
    blend_band: int = 0
    blend_source_edge: bool = True
    gradient_weight: float = 0.0
    occurrence_cost: float = 0.0
    distance_cost: float = 0.0
    local_levels: int = 2
    source_hole_cost: int = 3 * 255 * 255

    def radius(self, level: int) -> int:
        return self.patch_radius if level == 0 or self.coarse_patch_radius is None else self.coarse_patch_radius

    def em_rounds(self, level: int) -> int:
        return min(self.em_max, self.em_iters + self.em_per_level * level)

    def search_rounds(self, level: int) -> int:
        return min(4, self.search_iters + level)


class Kernels(Protocol):
    """The inner loops: numba on a CPU (``kernels_numba``), torch elsewhere (``kernels_torch``); same results."""

    def distances(self, feat, wgt, spen, shole, hpen, ty, tx, nnf, r): ...  # noqa: ANN001, ANN201, D102
    def search(self, feat, wgt, spen, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt): ...  # noqa: ANN001, ANN201, D102
    def vote(self, img, shole, hy, hx, tidx, nnf, tw, r): ...  # noqa: ANN001, ANN201, D102


def vote_weights(dist: np.ndarray, sigma: float) -> np.ndarray:
    """Integer vote weights, in [1, 65535], falling with a match's distance (Wexler's similarity)."""
    if dist.size == 0:
        return np.ones(0, np.int64)
    scale = max(float(np.percentile(dist, 75)), 1.0) * sigma
    return np.maximum(1, np.rint(65535.0 * np.exp(-dist / scale))).astype(np.int64)


def fallback_fill(image: np.ndarray, hole: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """When no clean patch exists at all (tiny crops): diffuse from known, non-excluded pixels only."""
    unknown = hole | exclude
    out = image.copy()
    if unknown.all():
        out[hole] = 127
        return out
    filled = cv2.inpaint(image, unknown.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    out[hole] = filled[hole]
    return out


def _usable_radius(level: Level, radius: int, max_hole_share: float) -> int | None:
    """The largest radius <= ``radius`` with at least one source patch at this level, or None."""
    for r in range(radius, 0, -1):
        if valid_sources(level.hole, level.exclude, r, max_hole_share).any():
            return r
    return None


def patch_fill(
    image: np.ndarray, hole: np.ndarray, exclude: np.ndarray | None, settings: FillSettings, kernels: Kernels
) -> np.ndarray:
    """Fill ``hole`` (bool or 255 = fill) of ``image`` (RGB uint8), never copying from ``exclude``.

    Returns the RGB uint8 image with only hole pixels changed.
    """
    hole = np.asarray(hole) > 0
    exclude = np.zeros_like(hole) if exclude is None else (np.asarray(exclude) > 0) & ~hole
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if not hole.any():
        return image.copy()
    s = settings
    start = Level(np.where(hole[..., None], 0, image).astype(np.uint8), hole, exclude)
    levels = build_pyramid(start, max(4, s.min_side))
    radii = [_usable_radius(lv, s.radius(i), s.source_hole_share) for i, lv in enumerate(levels)]
    if radii[0] is None:
        return fallback_fill(image, hole, exclude)
    while radii[-1] is None:  # coarse levels with no clean patch at all are skipped
        levels.pop()
        radii.pop()

    prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (tidx, nnf, estimate) of the coarser level
    for li in range(len(levels) - 1, -1, -1):
        lv, r = levels[li], radii[li]
        assert r is not None
        h, w = lv.shape
        img = lv.image.copy()
        targets = target_centres(lv.hole, r)
        ty, tx = (a.astype(np.int32) for a in np.nonzero(targets))
        tidx = np.full((h, w), -1, np.int32)
        tidx[ty, tx] = np.arange(len(ty), dtype=np.int32)
        valid = valid_sources(lv.hole, lv.exclude, r, s.source_hole_share)
        shole = lv.hole.astype(np.uint8)
        valid_yx = np.argwhere(valid).astype(np.int32)
        hy, hx = (a.astype(np.int32) for a in np.nonzero(lv.hole))
        wgt = np.where(lv.hole, 1, np.where(lv.exclude, 0, s.known_weight)).astype(np.int32)
        spen = _source_penalty(lv.hole, s.distance_cost)
        hpen = int(s.source_hole_cost)
        salt0 = stream_key(s.seed, li, 0)
        if prev is None:
            # Coarsest level: a smooth guess from the known, non-excluded border, and random matches.
            guess = fallback_fill(img, lv.hole, lv.exclude)
            img[lv.hole] = guess[lv.hole]
            nnf = random_valid(valid_yx, ty.astype(np.int64) * w + tx, salt0).astype(np.int32)
        else:
            ptidx, pnnf, pest = prev
            ph, pw = pest.shape[:2]
            up = cv2.resize(pest, (2 * pw, 2 * ph), interpolation=cv2.INTER_LINEAR)[:h, :w]
            img[lv.hole] = up[lv.hole]
            nnf = upsample_nnf(ptidx, pnnf, ty, tx, valid, nearest_valid(valid))
            # A first vote from the doubled matches, equal weights: a sharp start instead of a blurred one.
            img[hy, hx] = kernels.vote(img, shole, hy, hx, tidx, nnf, np.ones(len(ty), np.int64), r)
        search_radii = _search_radii(h, w, s.local_search if li < s.local_levels else None)
        jumps = np.asarray(s.jumps, np.int32)
        for e in range(s.em_rounds(li)):
            feat = features(img, s.gradient_weight)
            pen = spen
            if s.occurrence_cost > 0 and e > 0:
                pen = spen + occurrence_penalty(nnf, (h, w), r, len(valid_yx), dist, s.occurrence_cost)
            dist = kernels.distances(feat, wgt, pen, shole, hpen, ty, tx, nnf, r)
            for p in range(s.search_rounds(li)):
                salt = stream_key(s.seed, li, 1 + e * 8 + p)
                nnf, dist = kernels.search(feat, wgt, pen, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, search_radii, salt)
            tw = vote_weights(dist, s.vote_sigma)
            if li == 0 and e == s.em_rounds(0) - 1 and s.final_copy:
                # Nearest-patch copy: each hole pixel takes the centre of its own match (sharp, may seam).
                m = tidx[hy, hx]
                img[hy, hx] = img[nnf[m, 0], nnf[m, 1]]
            else:
                img[hy, hx] = kernels.vote(img, shole, hy, hx, tidx, nnf, tw, r)
        prev = (tidx, nnf, img)
    out = image.copy()
    out[hole] = prev[2][hole]
    if s.blend_band > 0:
        from remove_people.fill.blend import poisson_band

        tidx, nnf = prev[0], prev[1]
        match = np.zeros((*hole.shape, 2), np.int64)
        match[hole] = nnf[tidx[hole]]
        out = poisson_band(out, hole, s.blend_band, match if s.blend_source_edge else None)
    return out


def features(img: np.ndarray, gradient_weight: float) -> np.ndarray:
    """What patches are compared on: RGB, plus the luminance gradients times ``gradient_weight`` (0: RGB only).

    Why gradients: two patches of equal mean colour, one flat and one crossed by an edge, differ
    little in RGB SSD once blurred by the vote; the gradient channels make an edge that runs
    into the hole keep its direction (the structure lever). Integers, so every backend agrees.
    """
    if gradient_weight <= 0:
        return img.astype(np.int16)
    lum = img.astype(np.int32) @ np.array([77, 150, 29], np.int32)  # 256 x luminance
    gy = np.zeros_like(lum)
    gx = np.zeros_like(lum)
    gy[1:-1] = lum[2:] - lum[:-2]
    gx[:, 1:-1] = lum[:, 2:] - lum[:, :-2]
    scale = gradient_weight / 512.0  # central difference of 256 x luminance, to luminance units
    grads = np.clip(np.rint(np.stack([gy, gx], axis=2) * scale), -32767, 32767)
    return np.concatenate([img.astype(np.int16), grads.astype(np.int16)], axis=2)


def occurrence_penalty(nnf: np.ndarray, shape: tuple[int, int], r: int, sources: int, dist: np.ndarray, cost: float) -> np.ndarray:
    """A cost on sources already used more than their share (Kaspar et al. 2015's occurrence map).

    Why: a salient thing beside the hole (a towel, a giraffe's neck, a sign) is the best match for
    many targets at once, and copying it many times is the duplication users see. Each source
    pays ``cost`` x (75th-percentile distance) for every multiple of its fair share of use.
    """
    h, w = shape
    k = 2 * r + 1
    used = np.bincount(nnf[:, 0].astype(np.int64) * w + nnf[:, 1], minlength=h * w).reshape(h, w).astype(np.float32)
    cover = cv2.boxFilter(used, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    # One coherent copy covers each used source pixel k*k times; more than that (or than the
    # average use when the hole outnumbers the sources) is a second copy of the same thing.
    fair = k * k * max(1.0, len(nnf) / max(1, sources))
    scale = max(float(np.percentile(dist, 75)), 1.0) if dist.size else 1.0
    return np.rint(cost * scale * np.maximum(0.0, cover / fair - 1.0)).astype(np.int32)


def _source_penalty(hole: np.ndarray, cost: float) -> np.ndarray:
    """What a source adds to the distance for lying far from the hole: ``cost`` per pixel of distance (0: off)."""
    h, w = hole.shape
    if cost <= 0:
        return np.zeros((h, w), np.int32)
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    return np.rint(dist * cost).astype(np.int32)


def _search_radii(h: int, w: int, cap: int | None) -> np.ndarray:
    """Random-search radii: the frame's longer side (or ``cap``), halving down to 1 (Barnes et al.)."""
    radii = []
    rad = max(h, w) if cap is None else min(max(h, w), cap)
    while rad >= 1:
        radii.append(rad)
        rad //= 2
    return np.asarray(radii, np.int64)
