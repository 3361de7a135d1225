"""Writers of 16-bit PNG and TIFF files, which Pillow cannot write in colour.

Why hand-written PNG: a deterministic, minimal writer (one IDAT, filter 0) keeps outputs
byte-identical run after run, with iCCP, pHYs and eXIf chunks carrying the metadata; TIFF goes
through tifffile (imported on first use: few photos are 16-bit), which keeps the ICC profile.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np


def _png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)


def png16(pix: np.ndarray, *, icc: bytes | None, exif: bytes | None, dpi: tuple[float, float] | None) -> bytes:
    """A minimal, deterministic 16-bit PNG writer (Pillow cannot write 16-bit colour).

    Gray (H, W), gray+alpha (H, W, 2), RGB (H, W, 3) or RGBA (H, W, 4) uint16;
    iCCP, pHYs and eXIf chunks carry the metadata.
    """
    h, w = pix.shape[:2]
    channels = 1 if pix.ndim == 2 else pix.shape[2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    out = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))]
    if icc:
        out.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc, 9)))
    if dpi:
        ppm = [int(round(d / 0.0254)) for d in dpi]
        out.append(_png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    if exif:
        out.append(_png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    rows = pix.astype(">u2").reshape(h, w * channels).view(np.uint8).reshape(h, w * channels * 2)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 on every row
    out.append(_png_chunk(b"IDAT", zlib.compress(raw, 6)))
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def tiff16(pix: np.ndarray, *, icc: bytes | None) -> bytes:
    """16-bit TIFF (deflate) via tifffile, which keeps the ICC profile (a declared dependency)."""
    import tifffile

    bio = io.BytesIO()
    kwargs: dict[str, Any] = {"compression": "zlib", "software": None, "metadata": None}
    if pix.ndim == 3 and pix.shape[2] in (2, 4):
        kwargs["extrasamples"] = ["unassalpha"]
    if pix.ndim == 3:
        kwargs["photometric"] = "minisblack" if pix.shape[2] == 2 else "rgb"
    else:
        kwargs["photometric"] = "minisblack"
    if icc:
        kwargs["iccprofile"] = icc
    tifffile.imwrite(bio, pix, **kwargs)
    return bio.getvalue()
