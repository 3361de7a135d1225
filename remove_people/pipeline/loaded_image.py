"""``LoadedImage``: a decoded photo plus every fact the writer needs to write it back faithfully.

Why its own module: the reader fills it, the pixel-mode conversion records facts on it, and the
encoder reads them; none of the three owns the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


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
    #: a note for the run's report, e.g. that only the first frame of an animation is processed
    warning: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the upright image."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the upright image, the shape masks must have."""
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])

