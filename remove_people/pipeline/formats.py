"""The image formats the pipeline reads and writes: suffixes, names, default qualities, size bounds.

Why one table: the input scanner, the output plan, the evaluation's result look-up and the
encoder all ask "is this an image, and what suffix does a format get?"; answered once here,
a new format is added in one place.
"""

from __future__ import annotations

from remove_people.errors import UsageError

#: Default pixel limit (width x height), Pillow's own default (about 13,377 x 13,377,
#: i.e. ~179 megapixels; decoding that as RGB needs ~540 MB). Larger images are
#: refused before decoding; ``--max-pixels`` raises the limit.
DEFAULT_MAX_PIXELS: int = 178_956_970

#: Suffixes (lowercase) of the files the pipeline treats as images, in the order result files are looked up.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Pillow format name -> the suffixes that belong to it (first one is the canonical output suffix).
FORMAT_SUFFIX: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "TIFF": (".tif", ".tiff"),
    "BMP": (".bmp",),
}
SUPPORTED_FORMATS = tuple(FORMAT_SUFFIX)
SUPPORTED_TEXT = "JPEG, PNG, WebP, TIFF or BMP"

_FORMAT_ALIASES = {
    "jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP",
    "tif": "TIFF", "tiff": "TIFF", "bmp": "BMP",
}

#: Quality for JPEG/WebP output when the source gives no better hint.
DEFAULT_JPEG_QUALITY = 92
DEFAULT_WEBP_QUALITY = 90

LOSSLESS_TIFF_COMPRESSIONS = {"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits"}


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

