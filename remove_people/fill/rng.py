"""A counter-based random number: a 32-bit hash of (seed, level, iteration, pixel, step).

Why counter-based and not a generator: a fill splits its pixels over threads (numba)
or over a GPU, and a shared generator would make each result depend on which thread
drew first. A hash of the pixel's own coordinates gives every pixel the same numbers
whatever the thread count or device, so equal inputs and seed give equal bytes.

One formula serves numpy arrays, torch tensors and (jitted) numba scalars: only
``^ >> * &`` on non-negative int64, and the multipliers are below 2**31, so no product
of a 32-bit value overflows int64 on any of them.
"""

from __future__ import annotations

from typing import Any

MASK32 = 0xFFFFFFFF
_M1 = 0x7FEB352D
_M2 = 0x5BD1E995


def mix32(x: Any) -> Any:
    """Avalanche a non-negative value below 2**32 into another (Wellons' two-multiply mixer, 31-bit multipliers)."""
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32
    x = x ^ (x >> 16)
    return x


def mix32_np(x: Any) -> Any:
    """``mix32`` on a numpy int64 array (kept as a name so call sites say which kind they pass)."""
    return mix32(x)


def stream_key(seed: int, level: int, iteration: int) -> int:
    """The salt of one search pass: distinct for every (seed, level, iteration)."""
    return int(mix32((mix32(seed & MASK32) ^ (level * 1009 + iteration * 7919 + 1)) & MASK32))
