"""``encode_image``: a result written like its source: format, quality, metadata, alpha, 16 bits.

Why (issue 2 item 8): a person removing someone from a holiday photo expects the rest of the
file untouched: same format, same JPEG quality (the source's quantisation tables and chroma
subsampling), EXIF kept (orientation reset to 1, the pixels are upright), ICC profile kept,
alpha kept, and 16-bit sources keep their exact 16-bit values wherever nothing changed. The
bytes depend only on the arguments, so the runner's cache and resume logic can compare files.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from remove_people.errors import UsageError
from remove_people.pipeline.formats import (
    DEFAULT_JPEG_QUALITY,
    DEFAULT_WEBP_QUALITY,
    FORMAT_SUFFIX,
    LOSSLESS_TIFF_COMPRESSIONS,
    normalize_format,
)
from remove_people.pipeline.loaded_image import LoadedImage
from remove_people.pipeline.orientation import exif_for_tiff
from remove_people.pipeline.pixel_modes import icc_colorspace, luma
from remove_people.pipeline.png_tiff_16bit import png16, tiff16


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
    if icc_colorspace(icc) != want_space:
        icc = None
    exif = source.exif if fmt != "BMP" else None
    if exif and fmt == "TIFF":
        exif = exif_for_tiff(exif)

    if source.bit_depth == 16 and source.high is not None and fmt in ("PNG", "TIFF"):
        data = _encode_16bit(result_rgb, source, changed, fmt, gray, keep_alpha, icc, exif)
        return data, _suffix_for(fmt, source)

    if gray:
        pix = luma(result_rgb)
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
        comp = source.tiff_compression if source.tiff_compression in LOSSLESS_TIFF_COMPRESSIONS else "tiff_lzw"
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
        new16 = luma(result_rgb).astype(np.uint16) * 257
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
        return png16(pix, icc=icc, exif=exif, dpi=source.dpi)
    return tiff16(pix, icc=icc)


def opencv_encode(suffix: str, array: np.ndarray, params: tuple[int, ...] | list[int] = ()) -> bytes:
    """``cv2.imencode`` for the tool's own files (saved masks, compare strips, cache entries, reports,
    training masks), which copy nothing from a source; a failure raises instead of writing nothing.

    ``array`` is what OpenCV takes: gray (H, W) or BGR (H, W, 3).
    """
    import cv2

    ok, buf = cv2.imencode(suffix, array, list(params))
    if not ok:
        raise OSError(f"OpenCV could not encode a {array.dtype} {array.shape} array as {suffix}")
    return buf.tobytes()
