"""Gradient-domain (Poisson) blending of a fill into its border, in a band inside the hole.

Why a band: a fill copied from elsewhere in the photo can meet the hole's edge with a small
step in brightness or colour (another light, another shade of the wall). Solving Poisson's
equation on the pixels within ``band`` of the edge keeps the fill's own gradients there, but
takes the edge values from the photo, so the step spreads out over the band; deeper pixels,
and every pixel outside the hole, stay as they are (Pérez et al. 2003, on a band).
"""

from __future__ import annotations

import cv2
import numpy as np


def poisson_band(filled: np.ndarray, hole: np.ndarray, band: int, match: np.ndarray | None = None) -> np.ndarray:
    """``filled`` (RGB uint8, hole already filled) with the hole's outer ``band`` pixels re-solved.

    match: (h, w, 2) the centre of each hole pixel's source patch: the difference across the
    edge is then what the source has between that pixel and its neighbour; ``None`` asks for
    no step at all across the edge.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    if band <= 0 or not hole.any() or hole.all():
        return filled
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    unknown = hole & (depth <= band)
    ys, xs = np.nonzero(unknown)
    n = len(ys)
    if n == 0:
        return filled
    h, w = hole.shape
    index = np.full((h, w), -1, np.int64)
    index[ys, xs] = np.arange(n)
    f = filled.astype(np.float64)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.zeros(n)]
    rhs = np.zeros((n, 3))
    diag = np.zeros(n)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = ys + dy, xs + dx
        inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        p = np.flatnonzero(inside)
        qy, qx = qy[p], qx[p]
        diag[p] += 1
        # The guidance: the fill's own difference inside the hole, the source's across the edge.
        known = ~hole[qy, qx]
        grad = f[ys[p], xs[p]] - f[qy, qx]
        edge = p[known]
        if match is None:
            grad[known] = 0.0
        else:  # the source pixel beside p's source, in the same direction as q beside p
            sy = np.clip(match[ys[edge], xs[edge], 0] + dy, 0, h - 1)
            sx = np.clip(match[ys[edge], xs[edge], 1] + dx, 0, w - 1)
            grad[known] = f[ys[edge], xs[edge]] - f[sy, sx]
        rhs[p] += grad
        q = index[qy, qx]
        free = q >= 0
        rows.append(p[free])
        cols.append(q[free])
        vals.append(-np.ones(int(free.sum())))
        fixed = ~free  # a known pixel, or a hole pixel deeper than the band: its value is given
        rhs[p[fixed]] += f[qy[fixed], qx[fixed]]
    vals[0] = diag
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsc()
    sol = spsolve(a, rhs)
    out = filled.copy()
    out[ys, xs] = np.clip(np.rint(sol), 0, 255).astype(np.uint8)
    return out
