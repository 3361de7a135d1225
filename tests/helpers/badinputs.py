"""A small corpus of bad (and hostile-but-valid) image files, generated on demand.

Why generated, not checked in: the files are tiny and their exact bytes matter
(a declared size, a cut point), so code documents how each one is broken. The
image-I/O tests and the runner's tests both use it: each bad file must give an
``InputError`` whose message contains the expected phrase, and the valid-but-odd
files must load.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["make_bad_inputs", "make_odd_valid_inputs", "png_with_declared_size", "jpeg_with_declared_size"]


def _png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)


def png_with_declared_size(width: int, height: int) -> bytes:
    """A ~100-byte PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _small_jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    bio = io.BytesIO()
    Image.fromarray(a).save(bio, "JPEG", quality=90)
    return bio.getvalue()


def jpeg_with_declared_size(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF0 marker is patched to claim ``width`` x ``height``."""
    data = bytearray(_small_jpeg())
    i = data.find(b"\xff\xc0")
    assert i > 0, "baseline SOF0 marker expected"
    struct.pack_into(">HH", data, i + 5, height, width)
    return bytes(data)


def make_bad_inputs(folder: Path | str) -> dict[str, str]:
    """Write each bad case into ``folder``; return file name -> phrase its error must contain.

    Cases (issue 2 item 10, issue 10 item 6): zero-byte, truncated, corrupt,
    text named .jpg, unsupported format under an image suffix, over the pixel
    limit (huge declared size in a tiny file, PNG and JPEG), and an unreadable
    file (only when the permission bits actually stop this process, i.e. not root).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, str] = {}

    (folder / "empty.jpg").write_bytes(b"")
    cases["empty.jpg"] = "empty file"

    jpeg = _small_jpeg(256, 192, seed=1)
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    cases["truncated.jpg"] = "truncated or corrupt"

    bio = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(bio, "PNG")
    png = bytearray(bio.getvalue())
    i = png.find(b"IDAT")
    png[i + 8 : i + 40] = b"\x00" * 32  # garble compressed pixel data (CRC now wrong too)
    (folder / "corrupt.png").write_bytes(bytes(png))
    cases["corrupt.png"] = "corrupt"

    (folder / "notes.jpg").write_text("These are my holiday notes, not a picture.\nDay 1: beach.\n", encoding="utf-8")
    cases["notes.jpg"] = "not an image"

    (folder / "garbage.png").write_bytes(bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8)))
    cases["garbage.png"] = "not an image"

    bio = io.BytesIO()
    Image.new("P", (8, 8)).save(bio, "GIF")
    (folder / "really_a_gif.png").write_bytes(bio.getvalue())
    cases["really_a_gif.png"] = "unsupported image format GIF"

    (folder / "bomb.png").write_bytes(png_with_declared_size(100_000, 100_000))
    cases["bomb.png"] = "--max-pixels"

    (folder / "bomb.jpg").write_bytes(jpeg_with_declared_size(65_000, 65_000))
    cases["bomb.jpg"] = "--max-pixels"

    locked = folder / "locked.jpg"
    locked.write_bytes(_small_jpeg(seed=4))
    os.chmod(locked, 0)
    try:
        with open(locked, "rb"):
            readable = True
    except PermissionError:
        readable = False
    if readable:  # root ignores permission bits: the case cannot be made here
        os.chmod(locked, 0o644)
        locked.unlink()
    else:
        cases["locked.jpg"] = "permission denied"
    return cases


def make_odd_valid_inputs(folder: Path | str) -> dict[str, tuple[int, int]]:
    """Valid files that hostile-input code must still load: file name -> expected (H, W).

    Malformed EXIF (loads, EXIF ignored), 1x1, 100000x1 and 1x100000 images.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[int, int]] = {}

    jpeg = bytearray(_small_jpeg(40, 30, seed=5))
    # An APP1 Exif segment whose IFD0 offset points far outside the block.
    bad_tiff = b"MM\x00\x2a" + struct.pack(">I", 0x7FFFFFF0) + b"\x00" * 16
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(bad_tiff)) + b"Exif\x00\x00" + bad_tiff
    (folder / "bad_exif.jpg").write_bytes(bytes(jpeg[:2]) + app1 + bytes(jpeg[2:]))
    out["bad_exif.jpg"] = (30, 40)

    # An Exif block with an IFD entry count that runs past the end.
    bad_tiff2 = b"II\x2a\x00" + struct.pack("<I", 8) + struct.pack("<H", 500) + b"\x12\x01\x03\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(bad_tiff2)) + b"Exif\x00\x00" + bad_tiff2
    (folder / "bad_exif2.jpg").write_bytes(bytes(jpeg[:2]) + app1 + bytes(jpeg[2:]))
    out["bad_exif2.jpg"] = (30, 40)

    Image.new("RGB", (1, 1), (10, 20, 30)).save(folder / "one_pixel.png")
    out["one_pixel.png"] = (1, 1)
    Image.new("RGB", (100_000, 1), (200, 100, 50)).save(folder / "wide.png")
    out["wide.png"] = (1, 100_000)
    Image.new("L", (1, 100_000), 77).save(folder / "tall.png")
    out["tall.png"] = (100_000, 1)
    return out
