"""The quality a lossy WebP was saved with, read from its VP8 frame header.

Why: re-encoding a WebP at a fixed quality would bloat small files or degrade good ones; the
encoder reuses the source's quality (or losslessness), which WebP files do not record, so it is
estimated from the base quantiser with a minimal VP8 boolean decoder.
"""

from __future__ import annotations

import struct

import numpy as np


def webp_info(data: bytes) -> tuple[bool | None, int | None]:
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

