"""EXIF orientation: read it, make pixels upright, and carry the EXIF block over with orientation 1.

Why patch rather than re-serialise: the pixels we write are already upright, so the output's
orientation must say 1, while maker notes, GPS and sub-IFD offsets must stay valid; a TIFF's own
tags become EXIF for outputs of other formats. Malformed EXIF never makes a photo unreadable.
"""

from __future__ import annotations

import struct
import warnings

import numpy as np
from PIL import Image


def orientation_and_exif(im: Image.Image) -> tuple[int, bytes | None]:
    """(EXIF orientation 1..8, EXIF bytes with orientation reset) - (1, None) on malformed EXIF.

    Malformed EXIF must not make the image unreadable: we ignore it and go on.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns "Corrupt EXIF data"; we just ignore it
            exif = im.getexif()
            orientation = exif.get(0x0112, 1)
    except Exception:  # noqa: BLE001 - malformed EXIF: ignore it
        return 1, None
    try:
        orientation = int(orientation)
    except (TypeError, ValueError):
        orientation = 1
    if orientation not in range(1, 9):
        orientation = 1

    if im.format == "TIFF":
        raw = _tiff_exif_bytes(exif)
    else:
        raw = im.info.get("exif")
        if isinstance(raw, bytes) and raw:
            if not raw.startswith(b"Exif\x00\x00"):
                raw = b"Exif\x00\x00" + raw
            raw = _reset_orientation(raw)
        else:
            raw = None
    return orientation, raw


# Baseline TIFF tags worth carrying from a TIFF's own IFD0 into an output's EXIF
# (layout tags such as StripOffsets must not be copied: they describe the old file).
_TIFF_EXIF_TAGS = (270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 33432)


def _tiff_exif_bytes(exif: Image.Exif) -> bytes | None:
    try:
        out = Image.Exif()
        for tag in _TIFF_EXIF_TAGS:
            if tag in exif:
                out[tag] = exif[tag]
        if 0x0112 in out:
            out[0x0112] = 1
        if not len(out):
            return None
        data = out.tobytes()
        return data if data.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + data
    except Exception:  # noqa: BLE001
        return None


def exif_for_tiff(raw: bytes) -> bytes | None:
    """EXIF for a TIFF output: IFD0 descriptive tags only (libtiff cannot take a foreign
    Exif sub-IFD pointer, and layout tags belong to the new file)."""
    try:
        exif = Image.Exif()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exif.load(raw)
        return _tiff_exif_bytes(exif)
    except Exception:  # noqa: BLE001
        return None


def _reset_orientation(raw: bytes) -> bytes | None:
    """Set the IFD0 Orientation entry to 1 in place, keeping every other EXIF byte as is.

    Patching in place (rather than re-serialising with Pillow) keeps maker notes,
    GPS and sub-IFD offsets valid. Returns None if the block is not parseable
    (malformed EXIF is dropped rather than copied into the output).
    """
    buf = bytearray(raw)
    base = 6  # after "Exif\0\0"
    try:
        order = bytes(buf[base : base + 2])
        if order == b"II":
            end = "<"
        elif order == b"MM":
            end = ">"
        else:
            return None
        (magic,) = struct.unpack_from(end + "H", buf, base + 2)
        if magic != 42:
            return None
        (ifd0,) = struct.unpack_from(end + "I", buf, base + 4)
        pos = base + ifd0
        (count,) = struct.unpack_from(end + "H", buf, pos)
        if pos + 2 + 12 * count > len(buf):
            return None
        for i in range(count):
            entry = pos + 2 + 12 * i
            tag, typ, n = struct.unpack_from(end + "HHI", buf, entry)
            if tag == 0x0112:
                if typ == 3 and n == 1:
                    struct.pack_into(end + "H", buf, entry + 8, 1)
                elif typ in (4, 9) and n == 1:  # LONG/SLONG written by odd software
                    struct.pack_into(end + "I", buf, entry + 8, 1)
                break
    except struct.error:
        return None
    return bytes(buf)


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Make the array upright for an EXIF orientation (same result as ``ImageOps.exif_transpose``)."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.swapaxes(0, 1)
    elif orientation == 6:
        a = np.rot90(a, -1)
    elif orientation == 7:
        a = a.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        a = np.rot90(a, 1)
    return np.ascontiguousarray(a)

