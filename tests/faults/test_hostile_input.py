"""Hostile input through the real CLI (issue 10 item 6): each bad file gets one clear line,
the rest of the run goes on, memory and time stay bounded, and no input is written.

Why a real decompression bomb as well as the ``badinputs`` headers: a PNG whose pixel
data really inflates to 400 megapixels proves the guard acts before decoding, not after.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.faultkit import Reference, assert_failed_alone, assert_outputs_sound, cli_env, run_args, run_measured, tree_hashes
from helpers.badinputs import make_bad_inputs, make_odd_valid_inputs


def real_png_bomb(path: Path, side: int = 20_000) -> None:
    """A 1-bit PNG of side x side black pixels: ~50 KB on disk, 400 megapixels decoded."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)

    row = b"\x00" + bytes((side + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.mark.slow
def test_hostile_tree_with_yolo(reference: Reference, tmp_path: Path) -> None:
    """Every bad file, odd-but-valid files, odd names and a symlink loop, in one YOLO run."""
    inp = tmp_path / "in"
    bad = make_bad_inputs(inp)
    odd = make_odd_valid_inputs(inp)
    real_png_bomb(inp / "real_bomb.png")
    bad["real_bomb.png"] = "--max-pixels"
    photo = reference.inputs / "000000425989.jpg"  # has a person
    for name in ("with space.jpg", "ünïcødé 写真.jpg", "new\nline.jpg"):
        shutil.copy(photo, inp / name)
    (inp / "sub").mkdir()
    os.symlink("..", inp / "sub" / "loop")  # sub/loop -> the input folder itself
    os.symlink("self", inp / "sub" / "self")  # a link to itself (ELOOP when opened)
    before = tree_hashes(inp)

    out, cache = tmp_path / "out", tmp_path / "cache"
    p, seconds, peak_mb = run_measured(run_args(inp, out, cache, "--verbose"), timeout=300)
    s = assert_failed_alone(p, bad)  # one line per bad file, naming it; the run went on
    status = {o["rel"]: o["status"] for o in s["outcomes"]}
    for name in odd:
        assert status[name] in ("changed", "unchanged"), (name, status)
    for name in ("with space.jpg", "ünïcødé 写真.jpg", "new\nline.jpg"):
        assert status[name] == "changed", (name, status)
        assert (out / name).read_bytes() == (reference.out / "000000425989.jpg").read_bytes()
    assert any("symlink loop" in w for w in s["warnings"]), s["warnings"]
    assert not any(k.startswith("sub/") for k in status), status  # the loop was not followed
    # The 1x100000 and 100000x1 strips come back with their exact size.
    for name, (h, w) in odd.items():
        with Image.open(out / name) as im:
            assert im.size == (w, h)
    assert_outputs_sound(out)
    assert tree_hashes(inp) == before  # inputs untouched
    assert seconds < 240, seconds
    assert peak_mb < 2500, f"peak RSS {peak_mb} MB"  # YOLO + torch is ~1 GB; bombs must add nothing
    print(f"hostile run: {seconds:.1f} s, peak RSS {peak_mb} MB")


def test_bombs_and_odd_sizes_without_models(tmp_path: Path) -> None:
    """The decode guards alone (masks detector, no YOLO): bombs refused before decoding, fast and small."""
    inp, masks = tmp_path / "in", tmp_path / "masks"
    masks.mkdir()
    inp.mkdir()
    real_png_bomb(inp / "real_bomb.png")
    bad = make_bad_inputs(inp)
    bad["real_bomb.png"] = "--max-pixels"
    Image.new("RGB", (1, 1), (9, 9, 9)).save(inp / "one.png")
    Image.new("RGB", (100_000, 1), (200, 100, 50)).save(inp / "wide.png")
    Image.new("L", (1, 1), 255).save(masks / "one.png")
    wide = np.zeros((1, 100_000), np.uint8)
    wide[0, 40_000:40_100] = 255
    Image.fromarray(wide).save(masks / "wide.png")
    before = tree_hashes(inp)
    p, seconds, peak_mb = run_measured(
        run_args(inp, tmp_path / "out", tmp_path / "cache", "--masks", str(masks)), timeout=120
    )
    s = assert_failed_alone(p, bad)
    status = {o["rel"]: o["status"] for o in s["outcomes"]}
    assert status["one.png"] in ("changed", "unchanged") and status["wide.png"] in ("changed", "unchanged")
    assert_outputs_sound(tmp_path / "out")
    assert tree_hashes(inp) == before
    assert seconds < 60 and peak_mb < 1500, (seconds, peak_mb)


def test_masks_all_zero_and_all_255(reference: Reference, tmp_path: Path) -> None:
    """An all-0 mask leaves the photo byte-identical; an all-255 one (nothing known) is handled."""
    inp, masks = tmp_path / "in", tmp_path / "masks"
    inp.mkdir()
    masks.mkdir()
    for name in ("000000425989.jpg", "000000223747.jpg"):
        shutil.copy(reference.inputs / name, inp / name)
    w0, h0 = Image.open(inp / "000000425989.jpg").size
    w1, h1 = Image.open(inp / "000000223747.jpg").size
    Image.new("L", (w0, h0), 0).save(masks / "000000425989.png")
    Image.new("L", (w1, h1), 255).save(masks / "000000223747.png")
    before = tree_hashes(inp)
    p = subprocess.run(
        run_args(inp, tmp_path / "out", tmp_path / "cache", "--masks", str(masks)),
        capture_output=True, text=True, env=cli_env(), timeout=120,
    )  # fmt: skip
    assert "Traceback" not in p.stderr, p.stderr
    import json

    s = json.loads(p.stdout)
    status = {o["rel"]: o for o in s["outcomes"]}
    assert status["000000425989.jpg"]["status"] == "unchanged"
    assert (tmp_path / "out" / "000000425989.jpg").read_bytes() == (inp / "000000425989.jpg").read_bytes()
    full = status["000000223747.jpg"]
    assert full["status"] in ("changed", "failed"), full
    if full["status"] == "failed":  # refusing is fine, if it says why in one line
        assert full["message"] and "\n" not in full["message"]
    assert_outputs_sound(tmp_path / "out")
    assert tree_hashes(inp) == before


def test_coco_json_paths_escaping_the_image_folder(tmp_path: Path) -> None:
    """``file_name: ../../etc/passwd`` in a COCO file is never opened or written (masks detector)."""
    import json

    inp = tmp_path / "in"
    inp.mkdir()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(inp / "a.png")
    secret = tmp_path / "secret.png"  # outside the image folder
    Image.new("RGB", (64, 48), (1, 2, 3)).save(secret)
    secret_hash = tree_hashes(tmp_path)["secret.png"]
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 64, "height": 48},
            {"id": 2, "file_name": "../secret.png", "width": 64, "height": 48},
            {"id": 3, "file_name": "../../../../etc/passwd", "width": 64, "height": 48},
            {"id": 4, "file_name": "/etc/passwd", "width": 64, "height": 48},
        ],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0,
             "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]]}
            for i in (1, 2, 3, 4)
        ],
    }  # fmt: skip
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(coco))
    out = tmp_path / "out"
    p = subprocess.run(
        run_args(inp, out, tmp_path / "cache", "--masks", str(ann)),
        capture_output=True, text=True, env=cli_env(), timeout=120,
    )  # fmt: skip
    assert "Traceback" not in p.stderr, p.stderr
    s = json.loads(p.stdout)
    assert [o["rel"] for o in s["outcomes"]] == ["a.png"]  # only the input tree is processed
    assert s["changed"] == 1
    written = sorted(q.relative_to(tmp_path).as_posix() for q in tmp_path.rglob("*") if q.is_file() and "cache" not in q.parts)
    assert written == ["ann.json", "in/a.png", "out/a.png", "secret.png"], written
    assert tree_hashes(tmp_path)["secret.png"] == secret_hash
