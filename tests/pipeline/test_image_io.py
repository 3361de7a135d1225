"""Image input/output (formats, decode_guard, image_reader, mask_reader, encode): faithful round trips, metadata kept, hostile input refused with clear messages."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageOps

from remove_people.errors import InputError, UsageError
from remove_people.pipeline.encode import encode_image
from remove_people.pipeline.formats import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES
from remove_people.pipeline.image_reader import read_image
from remove_people.pipeline.mask_reader import read_mask
from remove_people.pipeline.png_tiff_16bit import png16

from helpers.badinputs import (
    jpeg_with_declared_size,
    make_bad_inputs,
    make_odd_valid_inputs,
    png_with_declared_size,
)


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _rand(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (h, w) if c == 1 else (h, w, c)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _smooth(h: int, w: int) -> np.ndarray:
    """A photo-like smooth image (noise is a poor test for lossy codecs)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 127 // max(h + w, 1))]).astype(
        np.uint8
    )


@pytest.fixture(scope="module")
def coco(shared: Path) -> list[Path]:
    files = sorted((shared / "data" / "coco-person" / "images").glob("*.jpg"))
    assert files, "COCO images missing"
    return files[:4]


def test_suffixes_and_default_limit() -> None:
    assert set(IMAGE_SUFFIXES) == {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
    assert DEFAULT_MAX_PIXELS == 178_956_970


# --------------------------------------------------------------------------- JPEG fidelity


def test_coco_jpeg_roundtrip_keeps_quality(coco: list[Path]) -> None:
    for path in coco:
        src = read_image(path)
        assert src.format == "JPEG" and src.rgb.dtype == np.uint8 and src.rgb.shape[2] == 3
        assert src.data == path.read_bytes()
        data, ext = encode_image(src.rgb, src)
        assert ext == ".jpg"
        out = _decode(data)
        assert out.format == "JPEG"
        assert [list(t) for t in out.quantization.values()] == src.jpeg_qtables
        assert _psnr(np.asarray(out.convert("RGB")), src.rgb) > 40
        # re-encoding at the source quality must not bloat or shrink the file much
        assert 0.7 < len(data) / len(src.data) < 1.4
        assert encode_image(src.rgb, src) == (data, ext)  # deterministic


def test_jpeg_quality_override_and_format_override(coco: list[Path]) -> None:
    src = read_image(coco[0])
    low, _ = encode_image(src.rgb, src, quality=30)
    assert len(low) < len(src.data)
    png, ext = encode_image(src.rgb, src, format="png")
    assert ext == ".png" and np.array_equal(np.asarray(_decode(png)), src.rgb)
    with pytest.raises(UsageError, match="jpeg, png, webp"):
        encode_image(src.rgb, src, format="gif")
    with pytest.raises(UsageError):
        encode_image(src.rgb, src, quality=0)


def test_source_suffix_kept(tmp_path: Path) -> None:
    p = tmp_path / "IMG_1.JPEG"
    Image.fromarray(_smooth(20, 30)).save(p, "JPEG")
    src = read_image(p)
    assert encode_image(src.rgb, src)[1] == ".JPEG"
    assert encode_image(src.rgb, src, format="webp")[1] == ".webp"


# --------------------------------------------------------------------------- round trips per format


@pytest.mark.parametrize("fmt,ext", [("PNG", ".png"), ("TIFF", ".tif"), ("BMP", ".bmp"), ("WEBP", ".webp")])
def test_lossless_roundtrip(tmp_path: Path, fmt: str, ext: str) -> None:
    a = _rand(37, 53)
    p = tmp_path / f"x{ext}"
    kw = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(a).save(p, fmt, **kw)
    src = read_image(p)
    assert src.format == fmt and np.array_equal(src.rgb, a)
    if fmt == "WEBP":
        assert src.webp_lossless is True
    result = src.rgb.copy()
    result[5:10, 5:10] = 0
    data, out_ext = encode_image(result, src)
    assert out_ext == ext
    out = _decode(data)
    assert out.format == fmt and np.array_equal(np.asarray(out.convert("RGB")), result)
    assert encode_image(result, src)[0] == data


@pytest.mark.parametrize("q", [50, 80, 95])
def test_lossy_webp_quality_estimate(tmp_path: Path, q: int) -> None:
    p = tmp_path / "x.webp"
    Image.fromarray(_smooth(64, 96)).save(p, "WEBP", quality=q)
    src = read_image(p)
    assert src.webp_lossless is False
    assert src.webp_quality is not None and abs(src.webp_quality - q) <= 5
    data, _ = encode_image(src.rgb, src)
    assert _psnr(np.asarray(_decode(data).convert("RGB")), src.rgb) > 35


def test_tiff_compression_kept(tmp_path: Path) -> None:
    p = tmp_path / "x.tiff"
    Image.fromarray(_rand(10, 12)).save(p, "TIFF", compression="tiff_adobe_deflate")
    src = read_image(p)
    data, ext = encode_image(src.rgb, src)
    assert ext == ".tiff" and _decode(data).info["compression"] == "tiff_adobe_deflate"


# --------------------------------------------------------------------------- metadata


def _jpeg_with_exif(orientation: int, a: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"  # DateTimeOriginal
    bio = io.BytesIO()
    Image.fromarray(a).save(bio, "JPEG", quality=95, exif=exif.tobytes(), icc_profile=SRGB)
    return bio.getvalue()


def test_exif_orientation_applied_and_reset(tmp_path: Path) -> None:
    a = _smooth(30, 50)  # landscape as stored
    p = tmp_path / "rot.jpg"
    p.write_bytes(_jpeg_with_exif(6, a))
    src = read_image(p)
    assert src.orientation == 6
    assert src.rgb.shape == (50, 30, 3)  # rotated upright (portrait)
    ref = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"))
    assert np.array_equal(src.rgb, ref)
    for fmt in ("jpeg", "png", "webp", "tiff"):
        data, _ = encode_image(src.rgb, src, format=fmt)
        out = _decode(data)
        assert out.size == (30, 50)
        exif = out.getexif()
        assert exif.get(0x0112) == 1, fmt
        assert exif.get(0x010F) == "TestCam" and exif.get(0x0110) == "Model X", fmt
        if fmt != "tiff":  # TIFF sources/targets carry IFD0 tags only (documented gap)
            assert exif.get_ifd(0x8769).get(0x9003) == "2020:01:02 03:04:05", fmt
        assert out.info.get("icc_profile") == SRGB, fmt
        assert np.array_equal(np.asarray(ImageOps.exif_transpose(out).convert("RGB")).shape, src.rgb.shape)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_orientations_match_pillow(tmp_path: Path, orientation: int) -> None:
    a = _rand(4, 7, seed=orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / "o.png"
    Image.fromarray(a).save(p, exif=exif.tobytes())
    ref = np.asarray(ImageOps.exif_transpose(Image.open(p)))
    assert np.array_equal(read_image(p).rgb, ref)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "JPEG"])
def test_icc_profile_preserved(tmp_path: Path, fmt: str) -> None:
    p = tmp_path / f"icc.{fmt.lower()}"
    Image.fromarray(_smooth(16, 16)).save(p, fmt, icc_profile=SRGB)
    src = read_image(p)
    assert src.icc_profile == SRGB
    assert _decode(encode_image(src.rgb, src)[0]).info.get("icc_profile") == SRGB


# --------------------------------------------------------------------------- modes


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_rgba_keeps_alpha(tmp_path: Path, fmt: str) -> None:
    a = _rand(20, 24, 4, seed=3)
    p = tmp_path / f"a.{fmt.lower()}"
    kw = {"lossless": True, "exact": True} if fmt == "WEBP" else {}
    Image.fromarray(a, "RGBA").save(p, fmt, **kw)
    src = read_image(p)
    assert src.alpha is not None and np.array_equal(src.alpha, a[..., 3]) and np.array_equal(src.rgb, a[..., :3])
    out = _decode(encode_image(src.rgb, src)[0])
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out), a)
    # JPEG cannot hold alpha: dropped, colour kept
    jpg = _decode(encode_image(src.rgb, src, format="jpeg")[0])
    assert jpg.mode == "RGB"


def test_grayscale_stays_grayscale(tmp_path: Path) -> None:
    g = _rand(15, 17, 1, seed=4)
    p = tmp_path / "g.png"
    Image.fromarray(g, "L").save(p)
    src = read_image(p)
    assert src.is_gray and src.rgb.shape == (15, 17, 3) and np.array_equal(src.rgb[..., 1], g)
    out = _decode(encode_image(src.rgb, src)[0])
    assert out.mode == "L" and np.array_equal(np.asarray(out), g)
    la = np.dstack([g, _rand(15, 17, 1, seed=5)])
    Image.fromarray(la, "LA").save(p)
    src = read_image(p)
    assert src.alpha is not None
    out = _decode(encode_image(src.rgb, src)[0])
    assert out.mode == "LA" and np.array_equal(np.asarray(out), la)


def test_bilevel_and_palette(tmp_path: Path) -> None:
    p = tmp_path / "b.png"
    Image.fromarray(_rand(9, 11, 1) > 127).save(p)
    src = read_image(p)
    assert set(np.unique(src.rgb)) <= {0, 255}
    pal = Image.fromarray(_smooth(20, 20)).quantize(16)
    pal.save(p)
    src = read_image(p)
    assert np.array_equal(src.rgb, np.asarray(pal.convert("RGB")))
    out = _decode(encode_image(src.rgb, src)[0])
    assert np.array_equal(np.asarray(out.convert("RGB")), src.rgb)
    # palette with transparency -> alpha
    pal.info["transparency"] = 0
    pal.save(p, transparency=0)
    src = read_image(p)
    assert src.alpha is not None and src.alpha.min() == 0


def test_cmyk_jpeg(tmp_path: Path) -> None:
    p = tmp_path / "c.jpg"
    Image.fromarray(_smooth(20, 30)).convert("CMYK").save(p, "JPEG", quality=95)
    src = read_image(p)
    assert src.mode == "CMYK" and src.rgb.shape == (20, 30, 3)
    assert _psnr(src.rgb, _smooth(20, 30)) > 25
    out = _decode(encode_image(src.rgb, src)[0])
    assert out.mode == "RGB"


def test_16bit_gray_keeps_unchanged_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    a16 = rng.integers(0, 65536, (12, 14), dtype=np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(a16).save(p)
    src = read_image(p)
    assert src.bit_depth == 16 and src.is_gray
    result = src.rgb.copy()
    result[2:5, 3:6] = 10
    changed = np.zeros(src.shape, bool)
    changed[2:5, 3:6] = True
    out = np.asarray(_decode(encode_image(result, src, changed=changed)[0]))
    assert out.dtype == np.uint16
    assert np.array_equal(out[~changed], a16[~changed]) and np.all(out[changed] == 10 * 257)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_color_keeps_unchanged_values(tmp_path: Path, ext: str) -> None:
    rng = np.random.default_rng(8)
    a16 = rng.integers(0, 65536, (10, 13, 3), dtype=np.uint16)
    p = tmp_path / f"c16{ext}"
    assert cv2.imwrite(str(p), a16[..., ::-1])
    src = read_image(p)
    assert src.bit_depth == 16 and src.mode == "RGB;16"
    result = src.rgb.copy()
    result[0, 0] = (1, 2, 3)
    changed = np.zeros(src.shape, bool)
    changed[0, 0] = True
    data, _ = encode_image(result, src, changed=changed)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert back.dtype == np.uint16
    assert np.array_equal(back[~changed], a16[~changed]) and tuple(back[0, 0]) == (257, 514, 771)
    # changed=None: inferred from the 8-bit result
    back2 = cv2.imdecode(np.frombuffer(encode_image(result, src)[0], np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert np.array_equal(back2, back)


def test_16bit_png_metadata(tmp_path: Path) -> None:
    p = tmp_path / "m16.png"
    assert cv2.imwrite(str(p), np.full((4, 5, 3), 1000, np.uint16))
    src = read_image(p)
    src.icc_profile = SRGB
    src.exif = b"Exif\x00\x00" + Image.Exif().tobytes()[6:]
    out = _decode(encode_image(src.rgb, src)[0])
    assert out.info.get("icc_profile") == SRGB


# --------------------------------------------------------------------------- bad and hostile input


def test_bad_inputs_give_clear_one_line_errors(tmp_path: Path) -> None:
    cases = make_bad_inputs(tmp_path)
    assert len(cases) >= 8
    for name, phrase in cases.items():
        t0 = time.perf_counter()
        with pytest.raises(InputError) as info:
            read_image(tmp_path / name)
        assert phrase in str(info.value), (name, str(info.value))
        assert "\n" not in str(info.value) and info.value.path == tmp_path / name
        assert time.perf_counter() - t0 < 1.0, name


def test_pixel_limit_message_names_limit_and_flag(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(p)
    with pytest.raises(InputError, match=r"100x100 = 10,000 pixels, over the limit of 9,999 pixels.*--max-pixels"):
        read_image(p, max_pixels=9_999)
    assert read_image(p, max_pixels=10_000).rgb.shape == (100, 100, 3)


def test_huge_declared_size_refused_before_decoding(tmp_path: Path) -> None:
    for name, data in [("h.png", png_with_declared_size(60_000, 60_000)), ("h.jpg", jpeg_with_declared_size(60_000, 60_000))]:
        p = tmp_path / name
        p.write_bytes(data)
        assert len(data) < 5000
        with pytest.raises(InputError, match="60000x60000"):
            read_image(p)


def test_raised_limit_above_pillow_global_is_honoured(tmp_path: Path) -> None:
    """A limit above 2x Pillow's global must reach our own check (and the global stay untouched)."""
    p = tmp_path / "h.png"
    p.write_bytes(png_with_declared_size(30_000, 30_000))  # 900 Mpx: above 2x Pillow's default
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(InputError, match="truncated or corrupt"):  # passes the size check, then fails to decode
        read_image(p, max_pixels=10**9)
    assert Image.MAX_IMAGE_PIXELS == before


def test_odd_but_valid_inputs_load(tmp_path: Path) -> None:
    for name, shape in make_odd_valid_inputs(tmp_path).items():
        src = read_image(tmp_path / name)
        assert src.rgb.shape[:2] == shape, name
        data, _ = encode_image(src.rgb, src)
        assert _decode(data).size == (shape[1], shape[0])


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "x.png"
    Image.new("RGB", (2, 2)).save(p)
    real_open = os.open  # files are opened with os.open (non-blocking; pipeline/safe_read.py)

    def deny(file: object, *args: object, **kwargs: object) -> object:
        if Path(str(file)) == p:
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(InputError, match="permission denied"):
        read_image(p)
    with pytest.raises(InputError, match="permission denied"):
        read_mask(p)


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(InputError, match="folder"):
        read_image(tmp_path)


def test_data_argument_avoids_reread(tmp_path: Path) -> None:
    bio = io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(bio, "PNG")
    src = read_image(tmp_path / "virtual.png", data=bio.getvalue())
    assert src.rgb.shape == (2, 3, 3) and src.data == bio.getvalue()


# --------------------------------------------------------------------------- masks


def test_read_mask_modes(tmp_path: Path) -> None:
    hole = np.zeros((10, 12), np.uint8)
    hole[2:6, 3:9] = 255
    p = tmp_path / "m.png"
    Image.fromarray(hole).save(p)
    assert np.array_equal(read_mask(p), hole)
    assert np.array_equal(read_mask(p, invert=True), 255 - hole)
    Image.fromarray(hole > 0).save(p)  # mode "1"
    assert np.array_equal(read_mask(p), hole)
    Image.fromarray(np.dstack([hole] * 3)).save(p)  # RGB white-on-black
    assert np.array_equal(read_mask(p), hole)
    # red strokes painted on a transparent layer: alpha is the signal
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = hole
    Image.fromarray(rgba, "RGBA").save(p)
    assert np.array_equal(read_mask(p), hole)
    # opaque RGBA: luminance is the signal
    rgba = np.dstack([hole, hole, hole, np.full_like(hole, 255)])
    Image.fromarray(rgba, "RGBA").save(p)
    assert np.array_equal(read_mask(p), hole)
    # 16-bit
    Image.fromarray(hole.astype(np.uint16) * 257).save(p)
    assert np.array_equal(read_mask(p), hole)


def test_read_mask_resize_and_threshold(tmp_path: Path) -> None:
    small = np.zeros((5, 6), np.uint8)
    small[1:3, 2:4] = 200
    small[4, 5] = 127  # exactly the threshold: not a hole
    p = tmp_path / "m.png"
    Image.fromarray(small).save(p)
    big = read_mask(p, (10, 12))
    assert big.shape == (10, 12) and set(np.unique(big)) == {0, 255}
    assert np.array_equal(big, np.repeat(np.repeat(np.where(small > 127, 255, 0), 2, 0), 2, 1))
    assert read_mask(p, threshold=150).sum() == read_mask(p).sum()
    assert read_mask(p, threshold=200).sum() == 0
    assert read_mask(p, threshold=126)[4, 5] == 255


def test_read_mask_bad(tmp_path: Path) -> None:
    cases = make_bad_inputs(tmp_path)
    for name in ("empty.jpg", "notes.jpg", "truncated.jpg", "bomb.png"):
        with pytest.raises(InputError, match=r"mask|--max-pixels"):
            read_mask(tmp_path / name)
        assert name in cases


def test_all_black_and_all_white_masks(tmp_path: Path) -> None:
    p = tmp_path / "m.png"
    Image.new("L", (4, 4), 0).save(p)
    assert read_mask(p).max() == 0
    Image.new("L", (4, 4), 255).save(p)
    assert read_mask(p).min() == 255


# --------------------------------------------------------------------------- property test


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    mode=st.sampled_from(["L", "RGB", "RGBA"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_png_roundtrip_property(tmp_path: Path, h: int, w: int, mode: str, seed: int) -> None:
    c = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    a = _rand(h, w, c, seed=seed)
    bio = io.BytesIO()
    Image.fromarray(a, mode).save(bio, "PNG")
    src = read_image(tmp_path / "p.png", data=bio.getvalue())
    data, ext = encode_image(src.rgb, src)
    assert ext == ".png"
    out = np.asarray(_decode(data))
    assert out.shape == a.shape and np.array_equal(out, a)
    assert encode_image(src.rgb, src)[0] == data


def test_gray_jpeg_and_lossy_webp_alpha(tmp_path: Path) -> None:
    p = tmp_path / "g.jpg"
    Image.fromarray(_smooth(24, 32)[..., 0], "L").save(p, "JPEG", quality=85)
    src = read_image(p)
    assert src.is_gray and len(src.jpeg_qtables or []) == 1
    out = _decode(encode_image(src.rgb, src)[0])
    assert out.mode == "L" and _psnr(np.asarray(out), src.rgb[..., 0]) > 40
    p = tmp_path / "a.webp"
    rgba = np.dstack([_smooth(24, 32), _rand(24, 32, 1, seed=9)])
    Image.fromarray(rgba, "RGBA").save(p, "WEBP", quality=80)
    src = read_image(p)
    assert src.alpha is not None and src.webp_lossless is False
    data, _ = encode_image(src.rgb, src)
    out = _decode(data)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], src.alpha)
    assert encode_image(src.rgb, src)[0] == data


def test_exif_orientation_on_16bit_png(tmp_path: Path) -> None:
    a16 = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 1000
    p = tmp_path / "o16.png"
    assert cv2.imwrite(str(p), a16[..., ::-1])
    src = read_image(p)
    exif = Image.Exif()
    exif[0x0112] = 6
    src2 = read_image(p, data=png16(a16, icc=None, exif=exif.tobytes(), dpi=None))
    assert src2.orientation == 6 and src2.high is not None
    assert np.array_equal(src2.high, np.rot90(a16, -1)) and src.high is not None
    data, _ = encode_image(src2.rgb, src2)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)[..., ::-1]
    assert np.array_equal(back, np.rot90(a16, -1))
    assert _decode(data).getexif().get(0x0112) == 1
