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

from remove_people.fill.pyramid import Level, build_pyramid, random_valid, target_centres, upsample_nnf, valid_sources
from remove_people.fill.rng import stream_key


@dataclass(frozen=True)
class FillSettings:
    """How a fill searches and votes (the plugin's params map onto these; the defaults are the measured best,
    BENCHMARKS.md "Our PatchMatch: the levers").

    patch_radius: radius of the compared patches at the finest level ((2r+1)^2 pixels).
    coarse_patch_radius: radius at the coarser levels (``None``: the same).
    seed: the random search's seed.
    min_side: build coarser levels while a hole is left and both sides stay at least this long.
    em_iters: vote rounds at the finest level; each coarser level adds ``em_per_level`` (at most ``em_max``).
    search_iters: PatchMatch passes before each vote at the finest level; coarser levels add one each (at most 4).
    known_weight: weight of a known pixel against a hole pixel in the patch distance: matches keep
    to what borders the hole rather than to the fill's own guess.
    vote_sigma: vote weight exp(-d / (vote_sigma * 75th percentile of d)); larger is a flatter mean.
    jumps: propagation distances (1 = the 4 neighbours; larger ones spread matches faster).
    local_search: random-search radius cap at the ``local_levels`` finest levels (None: the whole frame);
    the coarse levels have placed every match already, the fine ones only refine it.
    source_hole_share: a source patch may have at most this share of its pixels in the hole.
    source_hole_cost: what a source pixel in the hole adds to the distance (in squared RGB units).
    """

    patch_radius: int = 2
    coarse_patch_radius: int | None = 2
    seed: int = 0
    min_side: int = 8
    em_iters: int = 2
    em_per_level: int = 2
    em_max: int = 8
    search_iters: int = 1
    known_weight: int = 5
    vote_sigma: float = 1.0
    jumps: tuple[int, ...] = (1,)
    local_search: int | None = 16
    local_levels: int = 2
    source_hole_share: float = 0.5
    source_hole_cost: int = 3 * 255 * 255

    def radius(self, level: int) -> int:
        return self.patch_radius if level == 0 or self.coarse_patch_radius is None else self.coarse_patch_radius

    def em_rounds(self, level: int) -> int:
        return min(self.em_max, self.em_iters + self.em_per_level * level)

    def search_rounds(self, level: int) -> int:
        return min(4, self.search_iters + level)


class Kernels(Protocol):
    """The inner loops: numba on a CPU (``kernels_numba``), torch elsewhere (``kernels_torch``); same results."""

    def distances(self, feat, wgt, shole, hpen, ty, tx, nnf, r): ...  # noqa: ANN001, ANN201, D102
    def search(self, feat, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt): ...  # noqa: ANN001, ANN201, D102
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


def _usable_radius(level: Level, radius: int, max_hole_share: float) -> tuple[int, np.ndarray] | None:
    """The largest radius <= ``radius`` with at least one source patch at this level, and those sources; or None."""
    for r in range(radius, 0, -1):
        valid = valid_sources(level.hole, level.exclude, r, max_hole_share)
        if valid.any():
            return r, valid
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
    usable = [_usable_radius(lv, s.radius(i), s.source_hole_share) for i, lv in enumerate(levels)]
    if usable[0] is None:
        return fallback_fill(image, hole, exclude)
    while usable[-1] is None:  # coarse levels with no clean patch at all are skipped
        levels.pop()
        usable.pop()

    prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (tidx, nnf, estimate) of the coarser level
    for li in range(len(levels) - 1, -1, -1):
        lv, (r, valid) = levels[li], usable[li]  # type: ignore[misc]
        h, w = lv.shape
        img = lv.image.copy()
        targets = target_centres(lv.hole, r)
        ty, tx = (a.astype(np.int32) for a in np.nonzero(targets))
        tidx = np.full((h, w), -1, np.int32)
        tidx[ty, tx] = np.arange(len(ty), dtype=np.int32)
        shole = lv.hole.astype(np.uint8)
        hy, hx = (a.astype(np.int32) for a in np.nonzero(lv.hole))
        wgt = np.where(lv.hole, 1, np.where(lv.exclude, 0, s.known_weight)).astype(np.int32)
        hpen = int(s.source_hole_cost)
        salt0 = stream_key(s.seed, li, 0)
        if prev is None:
            # Coarsest level: a smooth guess from the known, non-excluded border, and random matches.
            img[hy, hx] = fallback_fill(img, lv.hole, lv.exclude)[hy, hx]
            nnf = random_valid(np.argwhere(valid).astype(np.int32), ty.astype(np.int64) * w + tx, salt0).astype(np.int32)
        else:
            ptidx, pnnf, pest = prev
            ph, pw = pest.shape[:2]
            up = cv2.resize(pest, (2 * pw, 2 * ph), interpolation=cv2.INTER_LINEAR)[:h, :w]
            img[hy, hx] = up[hy, hx]
            nnf = upsample_nnf(ptidx, pnnf, ty, tx, valid)
            # A first vote from the doubled matches, equal weights: a sharp start instead of a blurred one.
            img[hy, hx] = kernels.vote(img, shole, hy, hx, tidx, nnf, np.ones(len(ty), np.int64), r)
        search_radii = _search_radii(h, w, s.local_search if li < s.local_levels else None)
        jumps = np.asarray(s.jumps, np.int32)
        for e in range(s.em_rounds(li)):
            dist = kernels.distances(img, wgt, shole, hpen, ty, tx, nnf, r)
            for p in range(s.search_rounds(li)):
                salt = stream_key(s.seed, li, 1 + e * 8 + p)
                nnf, dist = kernels.search(img, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, search_radii, salt)
            tw = vote_weights(dist, s.vote_sigma)
            img[hy, hx] = kernels.vote(img, shole, hy, hx, tidx, nnf, tw, r)
        prev = (tidx, nnf, img)
    out = image.copy()
    out[hole] = prev[2][hole]
    return out


def _search_radii(h: int, w: int, cap: int | None) -> np.ndarray:
    """Random-search radii: the frame's longer side (or ``cap``), halving down to 1 (Barnes et al.)."""
    radii = []
    rad = max(h, w) if cap is None else min(max(h, w), cap)
    while rad >= 1:
        radii.append(rad)
        rad //= 2
    return np.asarray(radii, np.int64)
