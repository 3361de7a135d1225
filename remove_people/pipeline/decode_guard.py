"""Opening an image or mask file without trusting it: the size bound, the header, the bomb guard, decoding.

Why (issue 2 item 10, issue 10 item 6): every way a file can be wrong becomes one
:class:`~remove_people.errors.InputError` with a one-line reason that says what is wrong and
what to do, so the runner can report it and go on. Image dimensions are checked from the
header *before* any pixel is decoded, so a tiny file that declares 100000x100000 pixels costs
neither memory nor time. The pixel limit is our own (``max_pixels``), not Pillow's
process-global ``Image.MAX_IMAGE_PIXELS``, so different callers can use different limits.
"""

from __future__ import annotations

import io
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from remove_people.errors import InputError, one_line
from remove_people.pipeline.formats import DEFAULT_MAX_PIXELS, SUPPORTED_FORMATS, SUPPORTED_TEXT, max_file_bytes

# Guards the rare temporary change of Pillow's global bomb limit (see open_header).
_PIL_GLOBAL_LOCK = threading.Lock()


def read_file_bytes(path: Path, what: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The file's bytes: a regular file only, opened without blocking, read up to the size bound
    (see ``pipeline/safe_read.py``); every problem is a one-line InputError."""
    from remove_people.pipeline.safe_read import read_regular

    return read_regular(path, what, max_file_bytes(max_pixels), too_big="if you trust this file, raise --max-pixels")


def _looks_like_text(data: bytes) -> bool:
    """Heuristic for 'a text file named .jpg': the first KiB decodes as mostly printable UTF-8."""
    head = data[:1024]
    try:
        s = head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the 1 KiB boundary
        try:
            s = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    if not s:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in s)
    return printable / len(s) > 0.95


def _bomb_reason(width: int | None, height: int | None, max_pixels: int, what: str) -> str:
    dims = f"{width}x{height} = {width * height:,} pixels" if width and height else "too many pixels"
    return (
        f"{what} is {dims}, over the limit of {max_pixels:,} pixels "
        f"(a guard against decompression bombs); if you trust this file, raise it with --max-pixels"
    )


def _pil_open(fp: Any) -> Image.Image:
    """Pillow's own ``Image.open``, even after ``import ultralytics``.

    Why: ultralytics replaces ``PIL.Image.open`` process-wide with a wrapper that, on an
    unidentified file, tries to install and register a HEIF plugin (a network call, and a
    ``No module named 'pi_heif'`` error instead of our clear "not an image" message).
    """
    opener = Image.open
    module = sys.modules.get(getattr(opener, "__module__", "") or "")
    if module is not None and module.__name__.startswith("ultralytics"):
        opener = getattr(module, "_image_open", opener)
    return opener(fp)


def open_header(data: bytes, path: Path, max_pixels: int, what: str) -> Image.Image:
    """``Image.open`` (lazy: reads the header only) plus our own size check.

    Pillow's own bomb check inside ``Image.open`` uses a process-global limit and
    only raises above twice it; we check ``im.size`` against ``max_pixels`` here,
    before any decoding, so memory and time stay bounded.
    """
    if len(data) == 0:
        raise InputError(path, f"empty file (0 bytes); the {what} was not saved or copied completely")

    def _open() -> Image.Image:
        # Warnings off while reading the header: our own size check replaces the bomb
        # warning, and Pillow's "Corrupt EXIF data" warning must not become an error
        # under `-W error` (malformed EXIF is ignored, not fatal).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _pil_open(io.BytesIO(data))

    try:
        try:
            im = _open()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's process-global guard fired (more than 2x its own limit). Read the
            # header again with that guard off (under a lock; the open is lazy, so this is
            # cheap and bounded): our own check below then reports the real dimensions,
            # or lets the file through if the caller raised max_pixels that far.
            with _PIL_GLOBAL_LOCK:
                saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None
                try:
                    im = _open()
                finally:
                    Image.MAX_IMAGE_PIXELS = saved
    except InputError:
        raise
    except UnidentifiedImageError:
        if _looks_like_text(data):
            raise InputError(
                path, f"not an image: the file contains text, not {what} data (misnamed or not an image file?)"
            ) from None
        raise InputError(
            path, f"not an image, or a corrupt one: no {SUPPORTED_TEXT} header found; re-export or re-copy the file"
        ) from None
    except MemoryError:
        raise InputError(path, f"not enough memory to read the {what} header") from None
    except Exception as exc:  # noqa: BLE001 - Pillow plugins raise many types on bad headers
        raise InputError(
            path, f"corrupt {what}: its header cannot be read ({one_line(exc)}); re-export or re-copy the file"
        ) from None

    if im.format not in SUPPORTED_FORMATS and im.format != "MPO":  # MPO: a camera JPEG with extra images
        raise InputError(
            path, f"unsupported {what} format {im.format}; supported: {SUPPORTED_TEXT} (convert it first)"
        )
    width, height = im.size
    if width <= 0 or height <= 0:
        raise InputError(path, f"corrupt {what}: its header declares a size of {width}x{height}")
    if width * height > max_pixels:
        raise InputError(path, _bomb_reason(width, height, max_pixels, what))
    return im


def decode_pixels(im: Image.Image, path: Path, what: str) -> None:
    """``im.load()`` with decoder failures turned into InputError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
    except MemoryError:
        w, h = im.size
        raise InputError(
            path, f"not enough memory to decode this {w}x{h} {what}; free memory or lower --max-pixels"
        ) from None
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, ValueError, SyntaxError, struct.error...
        raise InputError(
            path, f"truncated or corrupt {what} ({one_line(exc)}); re-export or re-copy the file"
        ) from None

