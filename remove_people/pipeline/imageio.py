"""Reading and writing the pipeline's images and masks, safely and faithfully.

Why this module exists (issue 2 item 8 and 10, issue 10 item 6):

* **Faithful output.** A person removing someone from a holiday photo expects
  the rest of the file untouched: same format, same JPEG quality (we reuse the
  source's quantisation tables and chroma subsampling), EXIF kept (orientation
  reset to 1 because the pixels we write are already upright), ICC profile kept,
  alpha kept, and 16-bit sources keep their exact 16-bit values wherever nothing
  was changed. Output is byte-deterministic, so the runner's cache and resume
  logic can compare files.
* **Hostile input.** Every way a file can be wrong becomes one
  :class:`~remove_people.errors.InputError` with a one-line reason that says what
  is wrong and what to do, so the runner can report it and go on. Image
  dimensions are checked from the header *before* any pixel is decoded, so a
  tiny file that declares 100000x100000 pixels costs neither memory nor time.

The pixel limit is our own (``max_pixels``), not Pillow's process-global
``Image.MAX_IMAGE_PIXELS``, so different callers can use different limits.
"""

from __future__ import annotations

import io
import sys
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from remove_people.errors import InputError, UsageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "FORMAT_SUFFIX",
    "LoadedImage",
    "read_image",
    "encode_image",
    "read_mask",
    "normalize_format",
]

#: Default pixel limit (width x height), Pillow's own default (about 13,377 x 13,377,
#: i.e. ~179 megapixels; decoding that as RGB needs ~540 MB). Larger images are
#: refused before decoding; ``--max-pixels`` raises the limit.
DEFAULT_MAX_PIXELS: int = 178_956_970

#: Suffixes (lowercase) of the files the pipeline treats as images.
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"})

#: Pillow format name -> the suffixes that belong to it (first one is the canonical output suffix).
FORMAT_SUFFIX: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "TIFF": (".tif", ".tiff"),
    "BMP": (".bmp",),
}
SUPPORTED_FORMATS = tuple(FORMAT_SUFFIX)
_SUPPORTED_TEXT = "JPEG, PNG, WebP, TIFF or BMP"

_FORMAT_ALIASES = {
    "jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP",
    "tif": "TIFF", "tiff": "TIFF", "bmp": "BMP",
}

#: Quality for JPEG/WebP output when the source gives no better hint.
DEFAULT_JPEG_QUALITY = 92
DEFAULT_WEBP_QUALITY = 90

_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_LOSSLESS_TIFF_COMPRESSIONS = {"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits"}

# Guards the rare temporary change of Pillow's global bomb limit (see _open_header).
_PIL_GLOBAL_LOCK = threading.Lock()


@dataclass
class LoadedImage:
    """A decoded input plus everything the writer needs to write it back faithfully.

    ``rgb`` is upright (EXIF orientation applied) and always (H, W, 3) uint8, so
    every stage sees one representation; the other fields let :func:`encode_image`
    restore what that representation loses (alpha, 16-bit values, grayscale,
    metadata, JPEG quality).
    """

    path: Path
    data: bytes  #: the original file bytes (hashing; copy-through when nothing changes)
    rgb: np.ndarray  #: (H, W, 3) uint8, upright
    alpha: np.ndarray | None  #: (H, W) uint8 if the input had alpha (8-bit view of it)
    format: str  #: Pillow format name: JPEG, PNG, WEBP, TIFF, BMP
    mode: str = "RGB"  #: Pillow mode of the source ("RGB", "L", "P", "CMYK", "I;16", "RGB;16" for 16-bit colour, ...)
    orientation: int = 1  #: EXIF orientation of the source (already applied to ``rgb``)
    exif: bytes | None = None  #: EXIF block ("Exif\\0\\0" + TIFF), orientation reset to 1; None if absent/malformed
    icc_profile: bytes | None = None  #: the source ICC profile (None for CMYK sources: pixels are converted to sRGB)
    is_gray: bool = False  #: source was single-channel (written back as grayscale where the format allows)
    bit_depth: int = 8  #: 8 or 16
    high: np.ndarray | None = None  #: 16-bit sources: upright uint16 (H, W) gray or (H, W, 3) RGB
    high_alpha: np.ndarray | None = None  #: 16-bit sources with alpha: upright uint16 (H, W)
    jpeg_qtables: list[list[int]] | None = None  #: source quantisation tables (JPEG)
    jpeg_subsampling: int | None = None  #: Pillow subsampling code 0=4:4:4, 1=4:2:2, 2=4:2:0 (JPEG)
    jpeg_progressive: bool = False
    webp_lossless: bool | None = None  #: WebP: True if the source was lossless
    webp_quality: int | None = None  #: WebP lossy: estimated quality of the source
    tiff_compression: str | None = None  #: TIFF: source compression name (Pillow's)
    dpi: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the upright image."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the upright image, the shape masks must have."""
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])


# --------------------------------------------------------------------------- helpers


def _one_line(text: object, limit: int = 160) -> str:
    """Exception text squeezed onto one line (the runner prints one line per file)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def normalize_format(fmt: str) -> str:
    """'jpg'/'JPEG'/'.tif' -> Pillow's format name; unknown names are a usage error."""
    key = fmt.strip().lower().lstrip(".")
    try:
        return _FORMAT_ALIASES[key]
    except KeyError:
        raise UsageError(
            f"unknown output format {fmt!r}; choose one of: jpeg, png, webp, tiff, bmp"
        ) from None


#: The most bytes one pixel takes in a supported file (16-bit RGBA, uncompressed), and room
#: for metadata (ICC profiles, EXIF, XMP, text chunks): no valid file within the pixel guard
#: is bigger than ``max_file_bytes``, so a bigger one is refused before it is read whole.
_MAX_BYTES_PER_PIXEL = 8
_METADATA_SLACK_BYTES = 64 << 20


def max_file_bytes(max_pixels: int) -> int:
    """The byte bound of an image or mask file under the pixel guard ``max_pixels``."""
    return int(max_pixels) * _MAX_BYTES_PER_PIXEL + _METADATA_SLACK_BYTES


def _read_bytes(path: Path, what: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
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


def _open_header(data: bytes, path: Path, max_pixels: int, what: str) -> Image.Image:
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
            path, f"not an image, or a corrupt one: no {_SUPPORTED_TEXT} header found; re-export or re-copy the file"
        ) from None
    except MemoryError:
        raise InputError(path, f"not enough memory to read the {what} header") from None
    except Exception as exc:  # noqa: BLE001 - Pillow plugins raise many types on bad headers
        raise InputError(
            path, f"corrupt {what}: its header cannot be read ({_one_line(exc)}); re-export or re-copy the file"
        ) from None

    if im.format not in SUPPORTED_FORMATS and im.format != "MPO":  # MPO: a camera JPEG with extra images
        raise InputError(
            path, f"unsupported {what} format {im.format}; supported: {_SUPPORTED_TEXT} (convert it first)"
        )
    width, height = im.size
    if width <= 0 or height <= 0:
        raise InputError(path, f"corrupt {what}: its header declares a size of {width}x{height}")
    if width * height > max_pixels:
        raise InputError(path, _bomb_reason(width, height, max_pixels, what))
    return im


def _decode(im: Image.Image, path: Path, what: str) -> None:
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
            path, f"truncated or corrupt {what} ({_one_line(exc)}); re-export or re-copy the file"
        ) from None


def _get_orientation_and_exif(im: Image.Image) -> tuple[int, bytes | None]:
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


def _exif_for_tiff(raw: bytes) -> bytes | None:
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


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
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


def _icc_colorspace(icc: bytes | None) -> bytes | None:
    """The ICC header's data colour space ('RGB ', 'GRAY', 'CMYK'), or None."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20]


def _sixteen_bit_color(im: Image.Image, data: bytes) -> bool:
    """True if the file is 16-bit colour, which Pillow silently truncates to 8 bits."""
    if im.format == "PNG":
        return len(data) > 26 and data[24] == 16 and data[25] in (2, 4, 6)
    if im.format == "TIFF":
        try:
            bps = im.tag_v2.get(258)
        except Exception:  # noqa: BLE001
            return False
        if isinstance(bps, int):
            bps = (bps,)
        return bool(bps) and len(bps) >= 2 and all(int(b) == 16 for b in bps)
    return False


def _decode_16bit_color(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """(uint16 RGB or gray, uint16 alpha or None, is_gray) via OpenCV, which keeps all 16 bits."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        raise InputError(path, "truncated or corrupt 16-bit image; re-export or re-copy the file")
    if arr.ndim == 2:
        return arr, None, True
    if arr.shape[2] == 2:  # gray + alpha (some builds)
        return arr[..., 0].copy(), arr[..., 1].copy(), True
    if arr.shape[2] == 4:
        rgb = arr[..., [2, 1, 0]]
        alpha = arr[..., 3].copy()
    else:
        rgb = arr[..., [2, 1, 0]]
        alpha = None
    rgb = np.ascontiguousarray(rgb)
    return rgb, alpha, False


def _to8(a16: np.ndarray) -> np.ndarray:
    """16-bit -> 8-bit with rounding (the inverse of x257)."""
    return ((a16.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _webp_info(data: bytes) -> tuple[bool | None, int | None]:
    """(lossless?, estimated quality) from the RIFF chunks of a WebP file."""
    if len(data) < 16 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None, None
    pos, lossy_chunk, lossless = 12, None, False
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if tag == b"VP8L":
            lossless = True
        elif tag == b"VP8 ":
            lossy_chunk = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    if lossy_chunk is not None:
        return False, _vp8_quality_estimate(lossy_chunk)
    if lossless:
        return True, None
    return None, None


def _vp8_quality_estimate(chunk: bytes) -> int | None:
    """Estimate the libwebp ``quality`` that produced a VP8 (lossy) bitstream.

    Reads the base quantiser index from the frame header (boolean-coded) and
    inverts libwebp's quality -> quantiser mapping. An estimate: libwebp also
    modulates per segment, but re-encoding with this quality lands close to the
    source's file size and look.
    """
    try:
        if len(chunk) < 11 or chunk[3:6] != b"\x9d\x01\x2a":
            return None
        bits = _BoolDecoder(chunk[10:])
        bits.literal(1)  # colour space
        bits.literal(1)  # clamping type
        if bits.literal(1):  # segmentation enabled
            update_map = bits.literal(1)
            if bits.literal(1):  # update segment feature data
                bits.literal(1)  # abs/delta
                for _ in range(4):  # quantiser
                    if bits.literal(1):
                        bits.literal(7)
                        bits.literal(1)
                for _ in range(4):  # loop filter
                    if bits.literal(1):
                        bits.literal(6)
                        bits.literal(1)
            if update_map:
                for _ in range(3):
                    if bits.literal(1):
                        bits.literal(8)
        bits.literal(1)  # filter type
        bits.literal(6)  # loop filter level
        bits.literal(3)  # sharpness
        if bits.literal(1):  # loop filter adj enable
            if bits.literal(1):  # mode ref lf delta update
                for _ in range(8):
                    if bits.literal(1):
                        bits.literal(6)
                        bits.literal(1)
        bits.literal(2)  # log2 nbr of dct partitions
        q = bits.literal(7)  # y_ac_qi
    except (IndexError, ValueError):
        return None
    # The header's index is segment 0's quantiser, which libwebp (default SNS) sets
    # from the quality independently of the content; measured with libwebp via
    # Pillow (quality 0..100 step 10 on COCO photos), inverted by interpolation.
    qi = np.array([0, 12, 27, 39, 45, 52, 59, 68, 78, 92, 127], dtype=np.float64)
    quality = np.array([100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0], dtype=np.float64)
    return int(round(float(np.interp(q, qi, quality))))


class _BoolDecoder:
    """The VP8 boolean entropy decoder (RFC 6386 section 7), enough for header literals."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 2
        self.value = (data[0] << 8) | data[1]
        self.range = 255
        self.bit_count = 0

    def bool(self, prob: int = 128) -> int:
        split = 1 + (((self.range - 1) * prob) >> 8)
        bigsplit = split << 8
        if self.value >= bigsplit:
            ret = 1
            self.range -= split
            self.value -= bigsplit
        else:
            ret = 0
            self.range = split
        while self.range < 128:
            self.value <<= 1
            self.range <<= 1
            self.bit_count += 1
            if self.bit_count == 8:
                self.bit_count = 0
                self.value |= self.data[self.pos] if self.pos < len(self.data) else 0
                self.pos += 1
        return ret

    def literal(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bool(128)
        return v


# --------------------------------------------------------------------------- reading


def read_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, data: bytes | None = None) -> LoadedImage:
    """Read and decode one image file into an upright (H, W, 3) uint8 array plus write-back info.

    ``data`` lets the caller pass bytes it already read (e.g. to hash them first)
    so the file is read once. Raises :class:`InputError` with a one-line reason for
    every kind of bad file (see the module docstring); a malformed EXIF block is
    ignored rather than fatal.
    """
    path = Path(path)
    if data is None:
        data = _read_bytes(path, "image", max_pixels)
    im = _open_header(data, path, max_pixels, "image")
    fmt = "JPEG" if im.format == "MPO" else im.format  # an MPO's first image is a plain JPEG
    assert fmt is not None
    frames_note = _extra_frames_note(im)
    # Decode before touching EXIF: for PNG, getexif() loads the pixels itself (eXIf may
    # follow IDAT) and would swallow a decoding error as "malformed EXIF".
    _decode(im, path, "image")
    orientation, exif = _get_orientation_and_exif(im)
    icc = im.info.get("icc_profile") or None
    loaded = LoadedImage(path=path, data=data, rgb=np.zeros((1, 1, 3), np.uint8), alpha=None, format=fmt,
                         mode=im.mode, orientation=orientation, exif=exif, icc_profile=icc)
    if frames_note:
        loaded.extra["warning"] = frames_note
    dpi = im.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        try:
            loaded.dpi = (float(dpi[0]), float(dpi[1]))
        except (TypeError, ValueError):
            pass

    if fmt == "JPEG":
        try:
            from PIL import JpegImagePlugin

            q = getattr(im, "quantization", None) or {}
            loaded.jpeg_qtables = [list(q[k]) for k in sorted(q)] or None
            ss = JpegImagePlugin.get_sampling(im)
            loaded.jpeg_subsampling = ss if ss in (0, 1, 2) else None
            loaded.jpeg_progressive = bool(im.info.get("progressive") or im.info.get("progression"))
        except Exception:  # noqa: BLE001 - quality hints are optional
            pass
    elif fmt == "WEBP":
        loaded.webp_lossless, loaded.webp_quality = _webp_info(data)
    elif fmt == "TIFF":
        comp = im.info.get("compression")
        loaded.tiff_compression = comp if isinstance(comp, str) else None

    if _sixteen_bit_color(im, data):
        high, high_alpha, is_gray = _decode_16bit_color(data, path)
        high = _apply_orientation(high, orientation)
        high_alpha = _apply_orientation(high_alpha, orientation) if high_alpha is not None else None
        loaded.mode = "LA;16" if is_gray else ("RGBA;16" if high_alpha is not None else "RGB;16")
        loaded.bit_depth, loaded.high, loaded.high_alpha, loaded.is_gray = 16, high, high_alpha, is_gray
        g8 = _to8(high)
        loaded.rgb = np.repeat(g8[..., None], 3, axis=2) if is_gray else g8
        loaded.alpha = _to8(high_alpha) if high_alpha is not None else None
        return loaded

    try:
        rgb, alpha, extra = _pil_to_arrays(im, loaded)
    except InputError:
        raise
    except MemoryError:
        raise InputError(path, "not enough memory to convert this image; free memory or lower --max-pixels") from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot convert image mode {im.mode} ({_one_line(exc)})") from None
    loaded.rgb = _apply_orientation(rgb, orientation)
    loaded.alpha = _apply_orientation(alpha, orientation) if alpha is not None else None
    if loaded.high is not None:
        loaded.high = _apply_orientation(loaded.high, orientation)
    return loaded


def _extra_frames_note(im: Image.Image) -> str | None:
    """A warning for a file holding more than one picture (APNG, animated WebP, multi-page TIFF,
    MPO), of which only the first is processed and written: the others must not vanish unsaid."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = int(getattr(im, "n_frames", 1) or 1)
            if n > 1:
                im.seek(0)
    except Exception:  # noqa: BLE001 - a broken frame table: the first frame is still read (or refused) below
        return None
    if n <= 1:
        return None
    kind = {"TIFF": "pages", "MPO": "images (MPO)"}.get(str(im.format), "frames (animated)")
    return f"has {n} {kind}; only the first is processed (a result with people removed holds that one alone)"


def _pil_to_arrays(im: Image.Image, loaded: LoadedImage) -> tuple[np.ndarray, np.ndarray | None, None]:
    """Convert any Pillow mode to (RGB uint8, alpha uint8 | None); records gray/16-bit/ICC facts on ``loaded``."""
    mode = im.mode
    has_trns = "transparency" in im.info
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im)
        if mode == "I" and a.size and int(a.max()) <= 255 and int(a.min()) >= 0:
            g8 = a.astype(np.uint8)
        else:
            a16 = np.clip(a, 0, 65535).astype(np.uint16)
            loaded.high, loaded.bit_depth = a16, 16
            g8 = _to8(a16)
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None, None
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        top = 1.0 if a.size and float(np.nanmax(a)) <= 1.0 else 255.0
        g8 = np.clip(np.nan_to_num(a) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None, None
    if mode in ("1", "L") and not has_trns:
        g8 = np.asarray(im.convert("L"))
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None, None
    if mode in ("LA", "La") or (mode in ("1", "L") and has_trns):
        la = np.asarray(im.convert("LA"))
        loaded.is_gray = True
        return np.repeat(la[..., :1], 3, axis=2), np.ascontiguousarray(la[..., 1]), None
    if mode == "CMYK":
        icc = loaded.icc_profile
        rgb_im = None
        if _icc_colorspace(icc) == b"CMYK":
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))  # type: ignore[arg-type]
                dst = ImageCms.createProfile("sRGB")
                rgb_im = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            except Exception:  # noqa: BLE001 - broken profile: fall back to the naive conversion
                rgb_im = None
        if rgb_im is None:
            rgb_im = im.convert("RGB")
        # The pixels are now sRGB; a CMYK profile would mislabel them.
        loaded.icc_profile = None if _icc_colorspace(icc) == b"CMYK" else icc
        return np.asarray(rgb_im), None, None
    if mode in ("RGBA", "RGBa", "PA") or (mode in ("P", "RGB") and has_trns) or (
        mode == "P" and im.palette is not None and im.palette.mode == "RGBA"
    ):
        rgba = np.asarray(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3]), None
    if mode == "P" and im.palette is not None and im.palette.mode == "L":
        g8 = np.asarray(im.convert("L"))
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None, None
    return np.asarray(im.convert("RGB")), None, None


def read_mask(
    path: Path,
    shape: tuple[int, int] | None = None,
    *,
    invert: bool = False,
    threshold: int = 127,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    data: bytes | None = None,
) -> np.ndarray:
    """Read a hole mask as uint8 (H, W), 255 = hole, 0 = keep.

    Any mode works: L, 1, P, RGB (luminance), RGBA/LA (the alpha channel when it is
    the only signal, e.g. strokes painted on a transparent layer; else luminance),
    16-bit (scaled to 8 bits). The EXIF orientation is applied, as for images. A
    mask whose size differs from ``shape`` (H, W) is resized nearest-neighbour.
    Then values > ``threshold`` are holes; ``invert`` first flips the values, for
    masks that mark holes black. Unreadable masks raise :class:`InputError`.
    """
    import cv2

    path = Path(path)
    if data is None:
        data = _read_bytes(path, "mask", max_pixels)
    im = _open_header(data, path, max_pixels, "mask")
    _decode(im, path, "mask")
    orientation, _ = _get_orientation_and_exif(im)
    try:
        values = _mask_values(im)
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot interpret mask mode {im.mode} ({_one_line(exc)})") from None
    values = _apply_orientation(values, orientation)
    if shape is not None:
        h, w = int(shape[0]), int(shape[1])
        if values.shape != (h, w):
            values = cv2.resize(values, (w, h), interpolation=cv2.INTER_NEAREST)
    if invert:
        values = 255 - values
    return np.where(values > threshold, 255, 0).astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luminance, rounded; exact for gray pixels (R = G = B)."""
    y = rgb[..., 0].astype(np.float32) * 0.299 + rgb[..., 1].astype(np.float32) * 0.587
    y += rgb[..., 2].astype(np.float32) * 0.114
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def _mask_values(im: Image.Image) -> np.ndarray:
    """One 8-bit plane per pixel carrying the mask signal (see :func:`read_mask`)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im)
        if a.size and int(a.max()) <= 255:
            return np.clip(a, 0, 255).astype(np.uint8)
        return _to8(np.clip(a, 0, 65535).astype(np.uint16))
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32))
        scale = 255.0 if a.size and float(a.max()) <= 1.0 else 1.0
        return np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)
    has_alpha = mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in im.info or (
        mode == "P" and im.palette is not None and im.palette.mode == "RGBA"
    )
    if not has_alpha:
        if mode in ("1", "L"):
            return np.asarray(im.convert("L")).copy()
        return _luma(np.asarray(im.convert("RGB")))
    rgba = np.asarray(im.convert("RGBA"))
    alpha = rgba[..., 3]
    lum = _luma(rgba[..., :3])
    if alpha.min() == alpha.max():
        return lum
    opaque = alpha > 0
    # Alpha is "the only signal" if the colour is constant everywhere, or at least
    # over the painted (non-transparent) pixels (e.g. red strokes on a clear layer).
    if lum.min() == lum.max() or (opaque.any() and lum[opaque].min() == lum[opaque].max()):
        return alpha.copy()
    return lum


# --------------------------------------------------------------------------- writing


def _suffix_for(fmt: str, source: LoadedImage) -> str:
    """Keep the source's own suffix (".JPG", ".jpeg") when the format is unchanged, so
    outputs mirror input names; else the canonical suffix of the new format."""
    suf = source.path.suffix
    if fmt == source.format and suf.lower() in FORMAT_SUFFIX[fmt]:
        return suf
    return FORMAT_SUFFIX[fmt][0]


def encode_image(
    result_rgb: np.ndarray,
    source: LoadedImage,
    *,
    changed: np.ndarray | None = None,
    format: str | None = None,  # noqa: A002 - the runner's keyword
    quality: int | None = None,
) -> tuple[bytes, str]:
    """Encode ``result_rgb`` (upright (H, W, 3) uint8) as a file like ``source``.

    Returns ``(file bytes, suffix)``. Defaults keep the source's format and
    quality (JPEG: the source's quantisation tables and subsampling; WebP: lossless
    if the source was, else its estimated quality; PNG/TIFF/BMP: lossless), its
    EXIF (orientation 1) and ICC profile, its alpha, and its grayscale-ness.
    For 16-bit sources written as PNG/TIFF, pixels where ``changed`` is False keep
    their exact 16-bit values and changed ones become ``result * 257``; if
    ``changed`` is None it is taken as ``result_rgb != source.rgb``.
    ``format`` (jpeg, png, webp, tiff, bmp) and ``quality`` (1..100) override.
    The bytes depend only on the arguments (deterministic).
    """
    fmt = normalize_format(format) if format else source.format
    if quality is not None and not 1 <= int(quality) <= 100:
        raise UsageError(f"--quality must be between 1 and 100, got {quality}")
    result_rgb = np.asarray(result_rgb)
    if result_rgb.shape != source.rgb.shape or result_rgb.dtype != np.uint8:
        raise ValueError(
            f"result must be uint8 {source.rgb.shape}, got {result_rgb.dtype} {result_rgb.shape}"
        )
    if changed is not None:
        changed = np.asarray(changed, dtype=bool)
        if changed.shape != source.shape:
            raise ValueError(f"changed must have shape {source.shape}, got {changed.shape}")

    keep_alpha = source.alpha is not None and fmt in ("PNG", "WEBP", "TIFF", "BMP")
    gray = source.is_gray and fmt != "WEBP"
    icc = source.icc_profile
    want_space = b"GRAY" if gray else b"RGB "
    if _icc_colorspace(icc) != want_space:
        icc = None
    exif = source.exif if fmt != "BMP" else None
    if exif and fmt == "TIFF":
        exif = _exif_for_tiff(exif)

    if source.bit_depth == 16 and source.high is not None and fmt in ("PNG", "TIFF"):
        data = _encode_16bit(result_rgb, source, changed, fmt, gray, keep_alpha, icc, exif)
        return data, _suffix_for(fmt, source)

    if gray:
        pix = _luma(result_rgb)
        mode = "L"
    else:
        pix = np.ascontiguousarray(result_rgb)
        mode = "RGB"
    if keep_alpha:
        assert source.alpha is not None
        if gray:
            pix = np.dstack([pix, source.alpha])
            mode = "LA"
        else:
            pix = np.dstack([pix, source.alpha])
            mode = "RGBA"
        if fmt == "BMP" and mode == "LA":
            pix = np.dstack([np.repeat(pix[..., :1], 3, axis=2), pix[..., 1]])
            mode = "RGBA"
    im = Image.fromarray(np.ascontiguousarray(pix), mode=mode)

    params: dict[str, Any] = {}
    if icc:
        params["icc_profile"] = icc
    if exif:
        params["exif"] = exif
    if source.dpi and fmt in ("JPEG", "PNG", "TIFF", "BMP"):
        params["dpi"] = source.dpi

    if fmt == "JPEG":
        if quality is None and source.format == "JPEG" and source.jpeg_qtables:
            params["qtables"] = source.jpeg_qtables[: (1 if mode == "L" else 4)]
            if source.jpeg_subsampling is not None and mode != "L":
                params["subsampling"] = source.jpeg_subsampling
        else:
            params["quality"] = int(quality) if quality is not None else DEFAULT_JPEG_QUALITY
            if source.format == "JPEG" and source.jpeg_subsampling is not None and mode != "L":
                params["subsampling"] = source.jpeg_subsampling
        if source.jpeg_progressive and source.format == "JPEG":
            params["progressive"] = True
    elif fmt == "PNG":
        params["compress_level"] = 6
    elif fmt == "WEBP":
        params.update(_webp_params(source, quality))
    elif fmt == "TIFF":
        comp = source.tiff_compression if source.tiff_compression in _LOSSLESS_TIFF_COMPRESSIONS else "tiff_lzw"
        params["compression"] = comp
    out = io.BytesIO()
    try:
        im.save(out, format=fmt, **params)
    except Exception as exc:  # noqa: BLE001 - encoders raise OSError, ValueError, RuntimeError...
        if "qtables" not in params and "exif" not in params:
            raise
        # A source table set or EXIF block this encoder rejects: fall back to plain settings.
        params.pop("qtables", None)
        params.pop("exif", None)
        if fmt == "JPEG":
            params.setdefault("quality", int(quality) if quality is not None else DEFAULT_JPEG_QUALITY)
        out = io.BytesIO()
        im.save(out, format=fmt, **params)
        del exc
    return out.getvalue(), _suffix_for(fmt, source)


def _webp_params(source: LoadedImage, quality: int | None) -> dict[str, Any]:
    """WebP settings: explicit quality -> lossy; else lossless for lossless sources
    (WebP-lossless, PNG, TIFF, BMP), the source's estimated quality for lossy WebP,
    and a high default for JPEG sources."""
    if quality is not None:
        return {"quality": int(quality), "method": 4, "exact": True}
    if source.format == "WEBP":
        if source.webp_lossless:
            return {"lossless": True, "quality": 100, "method": 4, "exact": True}
        return {"quality": source.webp_quality or DEFAULT_WEBP_QUALITY, "method": 4, "exact": True}
    if source.format in ("PNG", "TIFF", "BMP"):
        return {"lossless": True, "quality": 100, "method": 4, "exact": True}
    return {"quality": DEFAULT_WEBP_QUALITY, "method": 4, "exact": True}


def _encode_16bit(
    result_rgb: np.ndarray,
    source: LoadedImage,
    changed: np.ndarray | None,
    fmt: str,
    gray: bool,
    keep_alpha: bool,
    icc: bytes | None,
    exif: bytes | None,
) -> bytes:
    """16-bit output: unchanged pixels keep their exact source values, changed ones result x257."""
    assert source.high is not None
    if changed is None:
        changed = np.any(result_rgb != source.rgb, axis=-1)
    if gray:
        new16 = _luma(result_rgb).astype(np.uint16) * 257
        high = source.high if source.high.ndim == 2 else source.high[..., 0]
        pix = np.where(changed, new16, high)
    else:
        new16 = result_rgb.astype(np.uint16) * 257
        high = source.high if source.high.ndim == 3 else np.repeat(source.high[..., None], 3, axis=2)
        pix = np.where(changed[..., None], new16, high)
    if keep_alpha:
        a16 = source.high_alpha if source.high_alpha is not None else source.alpha.astype(np.uint16) * 257  # type: ignore[union-attr]
        pix = np.dstack([pix, a16])
    pix = np.ascontiguousarray(pix.astype(np.uint16))
    if fmt == "PNG":
        return _png16(pix, icc=icc, exif=exif, dpi=source.dpi)
    return _tiff16(pix, icc=icc)


def _png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)


def _png16(pix: np.ndarray, *, icc: bytes | None, exif: bytes | None, dpi: tuple[float, float] | None) -> bytes:
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


def _tiff16(pix: np.ndarray, *, icc: bytes | None) -> bytes:
    """16-bit TIFF (deflate) via tifffile when present (keeps the ICC profile), else OpenCV."""
    try:
        import tifffile
    except ImportError:  # pragma: no cover - tifffile ships with scikit-image
        import cv2

        arr = pix if pix.ndim == 2 else pix[..., [2, 1, 0, 3][: pix.shape[2]]] if pix.shape[2] >= 3 else pix
        ok, buf = cv2.imencode(".tif", arr)
        if not ok:
            raise OSError("OpenCV could not encode a 16-bit TIFF")
        return buf.tobytes()
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
