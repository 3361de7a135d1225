"""The fill's inner loops in vectorized torch: the GPU path (also runs, slowly, on a CPU).

Why a second implementation: numba cannot run on a GPU, and a GPU turns a fill of a
large hole into milliseconds. Each function computes exactly what its twin in
``kernels_numba`` computes, in the same integer arithmetic and candidate order, so a
fill gives the same bytes on either (the tests compare them on the CPU). Where numba
loops over one pixel's candidates with an early exit, this evaluates one candidate
for every pixel at once, in chunks of pixels to bound memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from remove_people.fill.rng import MASK32, mix32

#: Targets (or hole pixels) handled per chunk: bounds the (chunk, patch, 3) tensors to ~40 MB at 7x7.
CHUNK = 1 << 16
_NEVER = 1 << 62


class TorchKernels:
    """The ``Kernels`` protocol of ``fill.py`` on a torch device (``cuda``, ``cuda:N`` or ``cpu``)."""

    def __init__(self, device: str = "cuda") -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)

    # -- helpers ----------------------------------------------------------------------------

    def _t(self, a: np.ndarray, dtype: Any = None) -> Any:
        t = self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
        return t if dtype is None else t.to(dtype)

    def _offsets(self, r: int) -> tuple[Any, Any]:
        torch = self.torch
        d = torch.arange(-r, r + 1, device=self.device, dtype=torch.int64)
        dy, dx = torch.meshgrid(d, d, indexing="ij")  # row-major, as numba's nested loops
        return dy.reshape(-1), dx.reshape(-1)

    def _target_patches(self, img: Any, wgt: Any, ty: Any, tx: Any, dy: Any, dx: Any, h: int, w: int) -> tuple[Any, Any]:
        """Features (n, P, C) and weights (n, P) of the target patches; pixels outside the frame weigh 0."""
        yy, xx = ty[:, None] + dy[None, :], tx[:, None] + dx[None, :]
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        flat = yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)
        return img[flat], wgt[flat] * inside

    def _distance(self, tcol: Any, twt: Any, img: Any, shole: Any, hpen: int, sy: Any, sx: Any, dy: Any, dx: Any, w: int) -> Any:
        """Distance of each target patch to the source patch at (sy, sx) (all inside the frame)."""
        flat = (sy[:, None] + dy[None, :]) * w + (sx[:, None] + dx[None, :])
        diff = tcol - img[flat]
        err = (diff * diff).sum(-1)
        err = self.torch.where(shole[flat], hpen, err)
        return (twt * err).sum(1)

    # -- the protocol --------------------------------------------------------------------------

    def distances(self, feat, wgt, shole, hpen, ty, tx, nnf, r):  # noqa: ANN001, ANN201, D102
        torch = self.torch
        h, w = wgt.shape
        gi, gw, gh = self._t(feat.reshape(h * w, -1), torch.int64), self._t(wgt.reshape(-1), torch.int64), self._t(shole.reshape(-1), torch.bool)
        gty, gtx, gnnf = self._t(ty, torch.int64), self._t(tx, torch.int64), self._t(nnf, torch.int64)
        dy, dx = self._offsets(r)
        out = torch.empty(len(ty), dtype=torch.int64, device=self.device)
        for a in range(0, len(ty), CHUNK):
            b = min(len(ty), a + CHUNK)
            tcol, twt = self._target_patches(gi, gw, gty[a:b], gtx[a:b], dy, dx, h, w)
            out[a:b] = self._distance(tcol, twt, gi, gh, hpen, gnnf[a:b, 0], gnnf[a:b, 1], dy, dx, w)
        return out.cpu().numpy()

    def search(self, feat, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt):  # noqa: ANN001, ANN201, D102
        torch = self.torch
        h, w = wgt.shape
        gi, gw, gh = self._t(feat.reshape(h * w, -1), torch.int64), self._t(wgt.reshape(-1), torch.int64), self._t(shole.reshape(-1), torch.bool)
        gty, gtx = self._t(ty, torch.int64), self._t(tx, torch.int64)
        gtidx, gvalid = self._t(tidx.reshape(-1), torch.int64), self._t(valid.reshape(-1), torch.bool)
        nnf_in, dist_in = self._t(nnf, torch.int64), self._t(dist, torch.int64)
        dy, dx = self._offsets(r)
        nnf_out, dist_out = nnf_in.clone(), dist_in.clone()
        steps = [(int(j) * sy, int(j) * sx) for j in jumps for sy, sx in ((-1, 0), (1, 0), (0, -1), (0, 1))]
        for a in range(0, len(ty), CHUNK):
            b = min(len(ty), a + CHUNK)
            y, x = gty[a:b], gtx[a:b]
            by, bx, bd = nnf_in[a:b, 0].clone(), nnf_in[a:b, 1].clone(), dist_in[a:b].clone()
            tcol, twt = self._target_patches(gi, gw, y, x, dy, dx, h, w)

            def consider(cy: Any, cx: Any, ok: Any) -> None:
                ok = ok & (cy >= 0) & (cy < h) & (cx >= 0) & (cx < w)
                cyc, cxc = cy.clamp(0, h - 1), cx.clamp(0, w - 1)
                ok = ok & gvalid[cyc * w + cxc] & ~((cyc == by) & (cxc == bx))
                idx = ok.nonzero().squeeze(1)
                if len(idx) == 0:
                    return
                d = self._distance(tcol[idx], twt[idx], gi, gh, hpen, cyc[idx], cxc[idx], dy, dx, w)
                better = d < bd[idx]
                sel = idx[better]
                by[sel], bx[sel], bd[sel] = cyc[sel], cxc[sel], d[better]

            for oy, ox in steps:
                ny, nx = y + oy, x + ox
                inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
                t = torch.where(inside, gtidx[ny.clamp(0, h - 1) * w + nx.clamp(0, w - 1)], -1)
                tt = t.clamp(min=0)
                consider(nnf_in[tt, 0] - oy, nnf_in[tt, 1] - ox, t >= 0)
            i = torch.arange(a, b, device=self.device, dtype=torch.int64)
            for s, rad in enumerate(int(v) for v in radii):
                hy = mix32(((i * 64 + s) & MASK32) ^ int(salt))
                hx = mix32(hy ^ 0x5BD1E995)
                consider(by + hy % (2 * rad + 1) - rad, bx + hx % (2 * rad + 1) - rad, torch.ones_like(i, dtype=torch.bool))
            nnf_out[a:b, 0], nnf_out[a:b, 1], dist_out[a:b] = by, bx, bd
        return nnf_out.to(torch.int32).cpu().numpy(), dist_out.cpu().numpy()

    def vote(self, img, shole, hy, hx, tidx, nnf, tw, r):  # noqa: ANN001, ANN201, D102
        torch = self.torch
        h, w = tidx.shape
        gi, gh = self._t(img.reshape(-1, 3), torch.int64), self._t(shole.reshape(-1), torch.bool)
        gtidx, gnnf, gtw = self._t(tidx.reshape(-1), torch.int64), self._t(nnf, torch.int64), self._t(tw, torch.int64)
        out = np.empty((len(hy), 3), np.uint8)
        dys, dxs = self._offsets(r)
        for a in range(0, len(hy), CHUNK):
            b = min(len(hy), a + CHUNK)
            y, x = self._t(hy[a:b], torch.int64), self._t(hx[a:b], torch.int64)
            acc = torch.zeros((b - a, 3), dtype=torch.int64, device=self.device)
            ws = torch.zeros(b - a, dtype=torch.int64, device=self.device)
            for dy, dx in zip(dys.tolist(), dxs.tolist()):
                cy, cx = y - dy, x - dx
                inside = (cy >= 0) & (cy < h) & (cx >= 0) & (cx < w)
                t = torch.where(inside, gtidx[cy.clamp(0, h - 1) * w + cx.clamp(0, w - 1)], -1)
                tt = t.clamp(min=0)
                src = (gnnf[tt, 0] + dy).clamp(0, h - 1) * w + (gnnf[tt, 1] + dx).clamp(0, w - 1)
                wt = torch.where((t >= 0) & ~gh[src], gtw[tt], 0)
                acc += wt[:, None] * gi[src]
                ws += wt
            keep = gi[y * w + x]
            res = torch.where((ws > 0)[:, None], torch.div(acc + (ws // 2)[:, None], ws.clamp(min=1)[:, None], rounding_mode="floor"), keep)
            out[a:b] = res.to(torch.uint8).cpu().numpy()
        return out
