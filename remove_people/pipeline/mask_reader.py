"""``read_mask``: a hole mask of any mode to uint8 (H, W), 255 = hole, 0 = keep.

Why its own reader: masks come from people's tools (a painted layer, a black-on-white export,
a 16-bit render), so any mode is accepted and its signal found (luminance, or the alpha channel
when that is the only signal); the same guards as for photos apply (``decode_guard.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from remove_people.errors import InputError, one_line
from remove_people.pipeline.decode_guard import decode_pixels, open_header, read_file_bytes
from remove_people.pipeline.formats import DEFAULT_MAX_PIXELS
from remove_people.pipeline.orientation import apply_orientation, orientation_and_exif
from remove_people.pipeline.pixel_modes import luma, to8


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
        data = read_file_bytes(path, "mask", max_pixels)
    im = open_header(data, path, max_pixels, "mask")
    decode_pixels(im, path, "mask")
    orientation, _ = orientation_and_exif(im)
    try:
        values = _mask_values(im)
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot interpret mask mode {im.mode} ({one_line(exc)})") from None
    values = apply_orientation(values, orientation)
    if shape is not None:
        h, w = int(shape[0]), int(shape[1])
        if values.shape != (h, w):
            values = cv2.resize(values, (w, h), interpolation=cv2.INTER_NEAREST)
    if invert:
        values = 255 - values
    return np.where(values > threshold, 255, 0).astype(np.uint8)


def _mask_values(im: Image.Image) -> np.ndarray:
    """One 8-bit plane per pixel carrying the mask signal (see :func:`read_mask`)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im)
        if a.size and int(a.max()) <= 255:
            return np.clip(a, 0, 255).astype(np.uint8)
        return to8(np.clip(a, 0, 65535).astype(np.uint16))
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
        return luma(np.asarray(im.convert("RGB")))
    rgba = np.asarray(im.convert("RGBA"))
    alpha = rgba[..., 3]
    lum = luma(rgba[..., :3])
    if alpha.min() == alpha.max():
        return lum
    opaque = alpha > 0
    # Alpha is "the only signal" if the colour is constant everywhere, or at least
    # over the painted (non-transparent) pixels (e.g. red strokes on a clear layer).
    if lum.min() == lum.max() or (opaque.any() and lum[opaque].min() == lum[opaque].max()):
        return alpha.copy()
    return lum
