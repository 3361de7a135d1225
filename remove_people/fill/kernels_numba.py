"""The fill's inner loops on the CPU: numba, one thread per slice of the pixels.

Why numba: the search evaluates about 20 candidate patches for each of 10^4-10^6
pixels per pass, with an early exit once a partial distance exceeds the best; in numba
that is a plain loop, compiled once (cached on disk), split over every core with
``prange``. The same algorithm in vectorized torch must compute each candidate in
full and materialise patch tensors, which on a CPU is several times slower (see
BENCHMARKS.md); torch runs it where it pays, on a GPU (``kernels_torch``).

Every pass is Jacobi-style: it reads the previous NNF and writes a new one, and each
pixel's random numbers hash its own index, so results do not depend on the thread
count. Arithmetic is integer throughout, so ``kernels_torch`` gives the same bytes.
"""

from __future__ import annotations

import os
import sys
import threading

import numba
import numpy as np

from remove_people.fill.rng import mix32


def _jit(**options: object):  # noqa: ANN202
    """``numba.njit`` with an on-disk cache, so only the first process ever compiles (~15-25 s here).

    Where: numba's own choice, beside this file if it is writable, else the user's cache folder
    (``~/.cache/numba``), or ``NUMBA_CACHE_DIR`` when set. If none is writable, numba refuses
    ``cache=True`` at decoration; then each process compiles once instead of failing.
    """

    def deco(fn):  # noqa: ANN001, ANN202
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(cache=False, **options)(fn)

    return deco


#: How long (spin iterations) a GNU OpenMP thread waits busily at the end of a pass before it sleeps.
#: Why so short: libgomp's default (300,000, a few ms) made each fill's hundreds of short passes cost
#: 3x the time when another process held the second core (a fill 1.24 s instead of 0.39 s); with
#: 1,000 a waiting thread sleeps after tens of microseconds, yet is still awake for the next pass of
#: a fill on a quiet machine (BENCHMARKS.md, "CPU use during one fill").
GOMP_SPINCOUNT = "1000"


def _gomp_loaded() -> bool:
    """Whether a GNU OpenMP runtime is already in this process (torch brings one): it read its settings then."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            return "libgomp" in fh.read()
    except OSError:
        return True  # cannot tell: assume it is, and keep the safe choice


def _choose_threading_layer() -> None:
    """Run parallel passes on OpenMP where its waiting is bounded, else on numba's workqueue pool.

    Why OpenMP: the calling thread works in each pass and a woken thread starts within
    microseconds, so one fill of the 40 % hole runs at 1.6-1.8 cores, in 0.20-0.23 s against
    0.25-0.29 s on the workqueue pool, which hands every pass to sleeping threads (twice) while
    the caller waits (1.4 cores). Why only with a short spin: see ``GOMP_SPINCOUNT``; the spin
    is read once, when libgomp loads. So OpenMP is chosen only on Linux (GNU OpenMP), and only
    while libgomp is not loaded yet (then ``GOMP_SPINCOUNT`` is set here, unless the user set it
    or ``OMP_WAIT_POLICY``) or when the user set one of those before it loaded. Otherwise, and
    wherever OpenMP cannot load, numba's workqueue pool runs the passes: the same bytes, only
    slower. Nothing changes once numba has started a pool, or when ``NUMBA_THREADING_LAYER`` is set.
    """
    from numba.np.ufunc import parallel

    if parallel._is_initialized or numba.config.THREADING_LAYER != "default":
        return
    user_set = "GOMP_SPINCOUNT" in os.environ or "OMP_WAIT_POLICY" in os.environ
    if sys.platform.startswith("linux") and (user_set or not _gomp_loaded()):
        os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
    else:
        numba.config.THREADING_LAYER = "workqueue"


_choose_threading_layer()
#: numba's pool must not be entered from two threads at once (workqueue cannot; OpenMP gains
#: nothing from it): fills in one process take turns.
_POOL_LOCK = threading.Lock()
_mix32 = _jit(inline="always")(mix32)
_BIG = np.int64(1) << 60


@_jit(inline="always")
def _patch_distance(feat, wgt, shole, hpen, y, x, sy, sx, r, cap):  # noqa: ANN001 - numba signature
    """Weighted SSD of the features (RGB) between the target patch at (y, x) and the source patch at (sy, sx).

    A source pixel in the hole costs ``hpen`` instead of its colour difference (its colour is
    only a guess). Stops once the sum reaches ``cap`` (the result is then >= cap, which is all
    the caller needs).
    """
    h, w = wgt.shape
    d = np.int64(0)
    for dy in range(-r, r + 1):
        ty = y + dy
        if ty < 0 or ty >= h:
            continue
        for dx in range(-r, r + 1):
            tx = x + dx
            if tx < 0 or tx >= w:
                continue
            wt = wgt[ty, tx]
            if wt == 0:
                continue
            if shole[sy + dy, sx + dx]:
                d += wt * hpen
                continue
            e = np.int64(0)
            for c in range(feat.shape[2]):
                diff = np.int64(feat[ty, tx, c]) - np.int64(feat[sy + dy, sx + dx, c])
                e += diff * diff
            d += wt * e
        if d >= cap:
            return d
    return d


@_jit(parallel=True)
def distances(feat, wgt, shole, hpen, ty, tx, nnf, r):  # noqa: ANN001
    """The full distance of every target to its current match."""
    n = ty.shape[0]
    out = np.empty(n, np.int64)
    for i in numba.prange(n):
        out[i] = _patch_distance(feat, wgt, shole, hpen, ty[i], tx[i], nnf[i, 0], nnf[i, 1], r, _BIG)
    return out


@_jit(parallel=True)
def search(feat, wgt, shole, hpen, ty, tx, tidx, valid, nnf_in, dist_in, r, jumps, radii, salt):  # noqa: ANN001
    """One PatchMatch pass: propagation from the 4 neighbours at each jump, then a random search.

    Candidates are tried in a fixed order and kept only when strictly better, so the result
    equals an argmin over them with ties going to the earlier one (what ``kernels_torch`` does).
    """
    n = ty.shape[0]
    h, w = valid.shape
    nnf_out = np.empty_like(nnf_in)
    dist_out = np.empty_like(dist_in)
    for i in numba.prange(n):
        y, x = ty[i], tx[i]
        by, bx, bd = nnf_in[i, 0], nnf_in[i, 1], dist_in[i]
        for j in jumps:
            for k in range(4):
                ny, nx = y, x
                if k == 0:
                    ny = y - j
                elif k == 1:
                    ny = y + j
                elif k == 2:
                    nx = x - j
                else:
                    nx = x + j
                if ny < 0 or ny >= h or nx < 0 or nx >= w:
                    continue
                t = tidx[ny, nx]
                if t < 0:
                    continue
                cy = nnf_in[t, 0] + (y - ny)
                cx = nnf_in[t, 1] + (x - nx)
                if cy < 0 or cy >= h or cx < 0 or cx >= w or not valid[cy, cx] or (cy == by and cx == bx):
                    continue  # (the current match again: its distance is bd, never strictly better)
                d = _patch_distance(feat, wgt, shole, hpen, y, x, cy, cx, r, bd)
                if d < bd:
                    by, bx, bd = cy, cx, d
        for s in range(radii.shape[0]):
            rad = radii[s]
            key = (np.int64(i) * 64 + s) & 0xFFFFFFFF
            hy = _mix32(key ^ salt)
            hx = _mix32(hy ^ 0x5BD1E995)
            cy = by + hy % (2 * rad + 1) - rad
            cx = bx + hx % (2 * rad + 1) - rad
            if cy < 0 or cy >= h or cx < 0 or cx >= w or not valid[cy, cx]:
                continue
            d = _patch_distance(feat, wgt, shole, hpen, y, x, cy, cx, r, bd)
            if d < bd:
                by, bx, bd = cy, cx, d
        nnf_out[i, 0] = by
        nnf_out[i, 1] = bx
        dist_out[i] = bd
    return nnf_out, dist_out


@_jit(parallel=True)
def vote(img, shole, hy, hx, tidx, nnf, tw, r):  # noqa: ANN001
    """Each hole pixel: the weighted mean of what every overlapping target patch's match puts there
    (Wexler et al.'s coherence vote), in integers, rounded half up. Source pixels in the hole
    (guesses themselves) do not vote."""
    m = hy.shape[0]
    h, w = tidx.shape
    out = np.empty((m, 3), np.uint8)
    for p in numba.prange(m):
        y, x = hy[p], hx[p]
        a0 = np.int64(0)
        a1 = np.int64(0)
        a2 = np.int64(0)
        ws = np.int64(0)
        for dy in range(-r, r + 1):
            cy = y - dy
            if cy < 0 or cy >= h:
                continue
            for dx in range(-r, r + 1):
                cx = x - dx
                if cx < 0 or cx >= w:
                    continue
                t = tidx[cy, cx]
                if t < 0:
                    continue
                wt = np.int64(tw[t])
                sy = nnf[t, 0] + dy
                sx = nnf[t, 1] + dx
                if shole[sy, sx]:
                    continue
                a0 += wt * img[sy, sx, 0]
                a1 += wt * img[sy, sx, 1]
                a2 += wt * img[sy, sx, 2]
                ws += wt
        if ws > 0:
            half = ws // 2
            out[p, 0] = (a0 + half) // ws
            out[p, 1] = (a1 + half) // ws
            out[p, 2] = (a2 + half) // ws
        else:
            out[p, 0] = img[y, x, 0]
            out[p, 1] = img[y, x, 1]
            out[p, 2] = img[y, x, 2]
    return out


def set_threads(n: int) -> None:
    """Use ``n`` threads (at most numba's pool) for the following passes of this thread."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


class NumbaKernels:
    """The ``Kernels`` protocol of ``fill.py`` on the CPU."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    def _threads(self) -> None:
        if self.threads:
            set_threads(self.threads)

    def distances(self, feat, wgt, shole, hpen, ty, tx, nnf, r):  # noqa: ANN001, ANN201, D102
        with _POOL_LOCK:
            self._threads()
            return distances(feat, wgt, shole, hpen, ty, tx, nnf, r)

    def search(self, feat, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt):  # noqa: ANN001, ANN201, D102
        with _POOL_LOCK:
            self._threads()
            return search(feat, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt)

    def vote(self, img, shole, hy, hx, tidx, nnf, tw, r):  # noqa: ANN001, ANN201, D102
        with _POOL_LOCK:
            self._threads()
            return vote(img, shole, hy, hx, tidx, nnf, tw, r)
