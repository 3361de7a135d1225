"""Any Pillow mode to the one representation every stage sees: upright RGB uint8 (and alpha).

Why here, apart from decoding: the conversions must also record what they lose (grayscale,
16-bit values, a CMYK profile replaced by sRGB) on the :class:`LoadedImage`, so the encoder can
restore it; 16-bit colour, which Pillow silently truncates, is decoded through OpenCV.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

from remove_people.errors import InputError
from remove_people.pipeline.loaded_image import LoadedImage


def icc_colorspace(icc: bytes | None) -> bytes | None:
    """The ICC header's data colour space ('RGB ', 'GRAY', 'CMYK'), or None."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20]


def is_sixteen_bit_color(im: Image.Image, data: bytes) -> bool:
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


def decode_16bit_color(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray | None, bool]:
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


def to8(a16: np.ndarray) -> np.ndarray:
    """16-bit -> 8-bit with rounding (the inverse of x257)."""
    return ((a16.astype(np.uint32) + 128) // 257).astype(np.uint8)


def pil_to_arrays(im: Image.Image, loaded: LoadedImage) -> tuple[np.ndarray, np.ndarray | None]:
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
            g8 = to8(a16)
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        top = 1.0 if a.size and float(np.nanmax(a)) <= 1.0 else 255.0
        g8 = np.clip(np.nan_to_num(a) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None
    if mode in ("1", "L") and not has_trns:
        g8 = np.asarray(im.convert("L"))
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None
    if mode in ("LA", "La") or (mode in ("1", "L") and has_trns):
        la = np.asarray(im.convert("LA"))
        loaded.is_gray = True
        return np.repeat(la[..., :1], 3, axis=2), np.ascontiguousarray(la[..., 1])
    if mode == "CMYK":
        icc = loaded.icc_profile
        rgb_im = None
        if icc_colorspace(icc) == b"CMYK":
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))  # type: ignore[arg-type]
                dst = ImageCms.createProfile("sRGB")
                rgb_im = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            except Exception:  # noqa: BLE001 - broken profile: fall back to the naive conversion
                rgb_im = None
        if rgb_im is None:
            rgb_im = im.convert("RGB")
        # The pixels are now sRGB; a CMYK profile would mislabel them.
        loaded.icc_profile = None if icc_colorspace(icc) == b"CMYK" else icc
        return np.asarray(rgb_im), None
    if mode in ("RGBA", "RGBa", "PA") or (mode in ("P", "RGB") and has_trns) or (
        mode == "P" and im.palette is not None and im.palette.mode == "RGBA"
    ):
        rgba = np.asarray(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    if mode == "P" and im.palette is not None and im.palette.mode == "L":
        g8 = np.asarray(im.convert("L"))
        loaded.is_gray = True
        return np.repeat(g8[..., None], 3, axis=2), None
    return np.asarray(im.convert("RGB")), None


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luminance, rounded; exact for gray pixels (R = G = B)."""
    y = rgb[..., 0].astype(np.float32) * 0.299 + rgb[..., 1].astype(np.float32) * 0.587
    y += rgb[..., 2].astype(np.float32) * 0.114
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)

