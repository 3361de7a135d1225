"""Fuzzing the records of COCO annotation files and the mask files given to ``--masks``
(issue 20, "What to build"): never a crash, never a traceback, the good images always processed.

Why in-process, with the real ``Pipeline`` (masks detector, morphology, telea): hypothesis
needs hundreds of examples in under a minute, and a crash in pycocotools' C code
(the NaN polygon segfaulted it) would end this very process, which is a failure too.
Only b.png's records and mask are fuzzed; a.png and c.png stay good and must always come
out changed. Each record draws from values that broke the tool before (NaN, inf, 1e12,
2**31, garbage RLE strings, wrong types, missing keys) and from plausible valid ones.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from remove_people.config import Config
from remove_people.errors import UsageError
from remove_people.evaluation.coco_subset import CocoSubset
from remove_people.evaluation.detect_metrics import gt_person_mask
from remove_people.pipeline.cache import ArtifactCache
from remove_people.pipeline.coco_json import load_coco
from remove_people.pipeline.inputs import collect_inputs
from remove_people.pipeline.runner import Pipeline

from helpers.faultkit import coco_doc, coco_photos, snapshot

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

nasty_numbers = st.sampled_from([math.nan, math.inf, -math.inf, 1e12, -1e12, 2**31, 2**64, -1, 0, 0.5, 1e-300, True])
numbers = st.one_of(nasty_numbers, st.integers(-100, 200), st.floats(-100, 200, allow_nan=False))
garbage = st.one_of(st.none(), st.text(max_size=8), st.booleans(), st.lists(st.integers(-3, 3), max_size=3), st.just({}))
value = st.one_of(numbers, garbage)
#: pycocotools' RLE alphabet ('0'..'o') and a few characters outside it.
rle_text = st.text(alphabet=[chr(c) for c in range(44, 116)], max_size=30)


def sizes() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from([48, 64, 1, 100_000, 0, -5, 48.0, 2**31]), st.integers(1, 600), value)


@st.composite
def polygons(draw: st.DrawFn) -> Any:
    n = draw(st.integers(0, 4))
    return [draw(st.lists(numbers, min_size=0, max_size=12)) for _ in range(n)]


@st.composite
def rles(draw: st.DrawFn) -> Any:
    size = draw(st.one_of(st.just([48, 64]), st.lists(value, max_size=3)))
    if draw(st.booleans()):
        counts: Any = draw(st.lists(st.one_of(st.integers(0, 3072), nasty_numbers), max_size=8))
        if draw(st.booleans()) and isinstance(counts, list) and counts and all(isinstance(c, int) for c in counts):
            counts = counts + [max(0, 3072 - sum(counts))]  # often sums right
    else:
        counts = draw(st.one_of(rle_text, st.sampled_from(["PPYo1", "0g", "", "j0o0"])))
    rle = {"size": size, "counts": counts}
    return draw(st.sampled_from([rle, {"counts": counts}, {"size": size}]))


def _mutate(draw: st.DrawFn, record: dict[str, Any], keys: list[str], extra: dict[str, Any]) -> Any:
    """A record with some keys replaced (by drawn or special values), deleted, or the record replaced outright."""
    if draw(st.integers(0, 9)) == 0:
        return draw(garbage)
    rec = dict(record)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        if draw(st.booleans()):
            rec.pop(key, None)
        else:
            rec[key] = draw(extra.get(key, value))
    return rec


def _not_others(v: Any) -> Any:
    """An id or file name that must not claim a.png's or c.png's record (that would be their fault)."""
    return 2 if v in (1, 3, "a.png", "c.png") and not isinstance(v, bool) else v


@st.composite
def b_records(draw: st.DrawFn) -> tuple[Any, list[Any]]:
    """b.png's image record and annotations, fuzzed."""
    doc = coco_doc()
    image = _mutate(draw, doc["images"][1], ["id", "file_name", "width", "height"],
                    {"width": sizes(), "height": sizes(), "file_name": st.one_of(st.just("b.png"), garbage)})  # fmt: skip
    if isinstance(image, dict):
        image = {k: _not_others(v) if k in ("id", "file_name") else v for k, v in image.items()}
    anns = []
    for _ in range(draw(st.integers(0, 3))):
        ann = _mutate(draw, doc["annotations"][1], ["image_id", "category_id", "segmentation", "bbox", "area", "iscrowd", "id", "score"],
                      {"segmentation": st.one_of(polygons(), rles(), value), "bbox": st.lists(numbers, max_size=5)})  # fmt: skip
        if isinstance(ann, dict) and "image_id" in ann:
            ann["image_id"] = _not_others(ann["image_id"])
        anns.append(ann)
    return image, anns


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return coco_photos(tmp_path_factory.mktemp("fuzz") / "in")


def _pipeline(masks: Path) -> Pipeline:
    cfg = Config.load([], [])
    cfg.select("detect", "masks")
    cfg.data["detect"]["masks"]["path"] = str(masks)
    cfg.select("inpaint", "telea")
    cfg.run["inpaint_workers"] = 0
    return Pipeline(cfg, cache=ArtifactCache(None, enabled=False))


def _run_and_check(masks: Path, photos: Path, out: Path) -> None:
    """The fuzzed b.png may fail (one line) or pass; a.png and c.png are always processed."""
    pipe = _pipeline(masks)
    try:
        summary = pipe.run(collect_inputs(photos), out)
    finally:
        pipe.close()
    status = {o.rel: o for o in summary.outcomes}
    assert status["a.png"].status == "changed" and status["c.png"].status == "changed", status
    b = status["b.png"]
    assert b.status in ("changed", "unchanged", "failed"), b
    if b.status == "failed":
        assert b.message and b.message.startswith("b.png: ") and "\n" not in b.message, b.message
    for name in ("a.png", "c.png"):
        assert (out / name).is_file()


@SETTINGS
@given(records=b_records())
def test_fuzzed_coco_records(records: tuple[Any, list[Any]], photos: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    image, anns = records
    doc = coco_doc()
    doc["images"][1] = image
    doc["annotations"] = [doc["annotations"][0], *anns, doc["annotations"][2]]
    work = tmp_path_factory.mktemp("rec")
    ann = work / "ann.json"
    ann.write_text(json.dumps(doc))
    before = snapshot(photos, ann)
    _run_and_check(ann, photos, work / "out")
    # The same file through eval's loader: bad records refused, pycocotools only sees the rest.
    subset = CocoSubset.load(ann, photos)
    for rec in subset.records:
        if rec.path is not None:
            assert gt_person_mask(subset.coco, rec.id, (rec.height, rec.width)).shape == (rec.height, rec.width)
    assert {r.id for r in subset.records if r.path is not None} >= {1, 3}
    assert snapshot(photos, ann) == before


@st.composite
def mask_files(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["bytes", "image", "truncated", "text", "empty", "folder", "link"]))
    if kind == "bytes":
        return kind, draw(st.binary(max_size=256))
    if kind == "image":
        mode = draw(st.sampled_from(["1", "L", "LA", "RGB", "RGBA", "I;16", "F", "P"]))
        w, h = draw(st.integers(1, 300)), draw(st.integers(1, 300))
        seed = draw(st.integers(0, 2**16))
        fmt = draw(st.sampled_from(["PNG", "TIFF", "BMP", "WEBP", "JPEG"]))
        return kind, (mode, w, h, seed, fmt)
    if kind == "truncated":
        return kind, draw(st.integers(1, 60))
    if kind == "text":
        return kind, draw(st.text(max_size=40))
    return kind, None


def _write_mask(path: Path, kind: str, spec: Any) -> None:
    if kind == "bytes":
        path.write_bytes(spec)
    elif kind == "image":
        mode, w, h, seed, fmt = spec
        arr = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
        im = Image.fromarray(arr).convert(mode) if mode not in ("I;16", "F") else Image.fromarray(arr.astype(np.uint16 if mode == "I;16" else np.float32))
        buf = io.BytesIO()
        try:
            im.save(buf, format=fmt)
        except (OSError, ValueError, KeyError):  # a mode this format cannot hold
            im.convert("L").save(buf, format=fmt)
        path.write_bytes(buf.getvalue())
    elif kind == "truncated":
        buf = io.BytesIO()
        Image.new("L", (64, 48), 255).save(buf, format="PNG")
        path.write_bytes(buf.getvalue()[:spec])
    elif kind == "text":
        path.write_text(spec, encoding="utf-8")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    elif kind == "link":
        os.symlink("/dev/zero", path)


@SETTINGS
@given(mask=mask_files())
def test_fuzzed_mask_files(mask: tuple[str, Any], photos: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("mask")
    folder = work / "masks"
    folder.mkdir()
    hole = np.zeros((48, 64), np.uint8)
    hole[10:30, 10:30] = 255
    for name in ("a.png", "c.png"):
        Image.fromarray(hole).save(folder / name)
    _write_mask(folder / "b.png", *mask)
    before = snapshot(photos)
    _run_and_check(folder, photos, work / "out")
    assert snapshot(photos) == before


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["images", "annotations", "categories", "id", "x"]), inner, max_size=4)),
    max_leaves=20,
)


@SETTINGS
@given(doc=json_values)
def test_fuzzed_whole_files_are_a_usage_error_or_load(doc: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Any JSON value as the file: it loads (bad records set aside) or is one usage error, nothing else."""
    ann = tmp_path_factory.mktemp("file") / "ann.json"
    ann.write_text(json.dumps(doc))
    try:
        checked = load_coco(ann)
    except UsageError as err:
        assert "\n" not in str(err) and "ann.json" in str(err)
        return
    checked.coco()  # pycocotools indexes what passed
