"""Checking COCO annotation files (pipeline/coco_json.py) and reading only regular files
(pipeline/safe_read.py), unit by unit.

Why: the RLE string check must agree exactly with pycocotools' own decoder on every valid
string (or good masks would be refused), and the real shared annotation file must pass
whole (or evaluation would silently lose images).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from remove_people.errors import InputError, UsageError
from remove_people.pipeline.coco_json import decode_rle_string, load_coco
from remove_people.pipeline import safe_read
from remove_people.pipeline.safe_read import read_regular


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**16), density=st.floats(0, 1))
def test_rle_string_decoder_agrees_with_pycocotools(h: int, w: int, seed: int, density: float) -> None:
    mask = np.asfortranarray((np.random.default_rng(seed).random((h, w)) < density).astype(np.uint8))
    rle = mask_utils.encode(mask)
    runs = decode_rle_string(rle["counts"].decode("ascii"), h * w)
    assert isinstance(runs, list) and sum(runs) == h * w
    # The runs rebuild the very mask pycocotools encoded (column-major, starting with zeros).
    flat = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
    assert np.array_equal(flat.reshape((w, h)).T, mask)


@pytest.mark.parametrize("text,why", [("zz", "outside"), ("0g", "middle"), ("0" + "o" * 8, "32 bits"), ("3", "outside the image")])
def test_rle_string_garbage_is_refused(text: str, why: str) -> None:
    got = decode_rle_string(text, 2)
    assert isinstance(got, str) and why in got


def test_the_shared_annotation_file_passes_whole(shared: Path) -> None:
    path = shared / "data" / "coco-person" / "annotations" / "instances.json"
    raw = json.loads(path.read_text())
    checked = load_coco(path)
    assert not checked.bad_ids and not checked.bad_names and not checked.problems
    assert len(checked.dataset["images"]) == len(raw["images"])
    assert len(checked.dataset["annotations"]) == len(raw["annotations"])
    coco = checked.coco()
    img = raw["images"][0]
    assert coco.annToMask(coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))[0]).shape == (img["height"], img["width"])


def test_repeated_or_missing_annotation_ids_do_not_mix_images(tmp_path: Path) -> None:
    """pycocotools indexes annotations by id: a repeated id would hand one image another's mask."""
    doc = {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}, {"id": 2, "file_name": "b.png", "width": 8, "height": 8}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3, 0, 3]]},
            {"id": 5, "image_id": 2, "category_id": 1, "segmentation": [[4, 4, 7, 4, 7, 7, 4, 7]]},
            {"image_id": 2, "category_id": 1, "segmentation": {"size": [8, 8], "counts": [0, 64]}},
        ],
    }
    ann = tmp_path / "a.json"
    ann.write_text(json.dumps(doc))
    coco = load_coco(ann).coco()
    a = coco.annToMask(coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0])
    b = [coco.annToMask(x) for x in coco.loadAnns(coco.getAnnIds(imgIds=[2]))]
    assert a[0, 0] == 1 and a[6, 6] == 0
    assert len(b) == 2 and b[0][6, 6] == 1 and b[0][0, 0] == 0 and b[1].all()
    assert all("area" in x and "bbox" in x for x in coco.dataset["annotations"])  # filled for COCOeval


def test_a_file_that_is_no_annotation_file(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"images": []}')
    with pytest.raises(UsageError, match="no 'annotations' list"):
        load_coco(f, option="-a")
    with pytest.raises(UsageError, match="^-a .*nothing.json: annotation file not found"):
        load_coco(tmp_path / "nothing.json", option="-a")


def test_read_regular_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "f.jpg"
    os.mkfifo(fifo)
    for path, phrase in ((fifo, "named pipe"), (Path("/dev/zero"), "device"), (tmp_path, "folder")):
        with pytest.raises(InputError, match=phrase):
            read_regular(path, "image", 1 << 20)
    link = tmp_path / "link"
    (tmp_path / "real").write_bytes(b"abc")
    os.symlink(tmp_path / "real", link)
    assert read_regular(link, "image", 10) == b"abc"
    with pytest.raises(InputError, match="symbolic link"):
        read_regular(link, "cache", 10, follow_symlinks=False)


def test_read_regular_is_bounded_even_while_the_file_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "big.png"
    f.write_bytes(bytes(1000))
    with pytest.raises(InputError, match="over the limit of 999 bytes; raise it"):
        read_regular(f, "image", 999, too_big="raise it")
    assert len(read_regular(f, "image", 1000)) == 1000
    # A file that grows between the size check and the read stops at the bound. The size
    # seen at open time is made stale on purpose (deterministic, unlike a racing writer
    # thread, which sometimes stopped exactly at the limit and made this test flaky).
    grow = tmp_path / "grow.png"
    grow.write_bytes(bytes(10))
    real_fstat = os.fstat

    def fstat_then_grow(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        grow.write_bytes(bytes(5000))  # the writer appends after our check
        return st

    monkeypatch.setattr(safe_read.os, "fstat", fstat_then_grow)
    with pytest.raises(InputError, match="limit"):
        read_regular(grow, "image", 1000)
    monkeypatch.undo()
    # The same holds for real files whose reported size is not their length (Linux /proc).
    proc = Path("/proc/self/status")
    if proc.exists():
        with pytest.raises(InputError, match="limit"):
            read_regular(proc, "list", 100)
