"""Hostile COCO annotation files for ``run --masks``, ``coco`` and ``eval detect`` alike (issue 20
items 8 and 9): a bad record fails its own image with one line while the others are processed;
a bad file fails the run up front with one line and exit 2; pycocotools never sees a record
that could crash it.

Why in-process (``cli.main``) for the many cases: each is a whole command, parsing included,
in a fraction of a second; a segfault would still end the test run. The NaN polygon, which
segfaulted pycocotools, also runs in child processes, so a crash shows as its exit code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from remove_people.cli import main

from helpers.faultkit import coco_doc, coco_photos, error_lines, run_raw, untouched


def _ann(i: int) -> Callable[[dict], dict]:
    return lambda d: d["annotations"][i]


def _set(getter: Callable[[dict], dict], key: str, value: Any) -> Callable[[dict], None]:
    return lambda d: getter(d).__setitem__(key, value)


def _img(d: dict) -> dict:
    return d["images"][1]  # b.png, image id 2


B_ANN = _ann(1)  # the annotation of b.png

#: name -> how to break b.png's records, and a phrase of the one line that must say why.
RECORD_CASES: dict[str, tuple[Callable[[dict], None], str]] = {
    "nan polygon": (_set(B_ANN, "segmentation", [[10, 10, math.nan, 10, 30, 30, 10, 30]]), "not a finite number"),
    "inf polygon": (_set(B_ANN, "segmentation", [[10, 10, math.inf, 10, 30, 30, 10, 30]]), "not a finite number"),
    "1e12 polygon": (_set(B_ANN, "segmentation", [[10, 10, 1e12, 10, 30, 30, 10, 30]]), "far outside the image"),
    "short polygon": (_set(B_ANN, "segmentation", [[10, 10, 20]]), "at least 3 x,y pairs"),
    "empty segmentation": (_set(B_ANN, "segmentation", []), "empty list"),
    "no segmentation": (lambda d: B_ANN(d).pop("segmentation"), "no segmentation"),
    "rle counts 2**31": (_set(B_ANN, "segmentation", {"size": [48, 64], "counts": [2**31, 5]}), "sum to"),
    "rle garbage string": (_set(B_ANN, "segmentation", {"size": [48, 64], "counts": "zz~garbage"}), "outside '0'..'o'"),
    "rle string cut": (_set(B_ANN, "segmentation", {"size": [48, 64], "counts": "0g"}), "ends in the middle"),
    "rle 100000 size": (_set(B_ANN, "segmentation", {"size": [100000, 100000], "counts": "PPYo1"}), "not the image's"),
    "rle counts text": (_set(B_ANN, "segmentation", {"size": [48, 64], "counts": ["a", 1]}), "non-negative integers"),
    "bbox nan": (_set(B_ANN, "bbox", [1, 2, math.nan, 4]), "bbox"),
    "area text": (_set(B_ANN, "area", "big"), "area"),
    "category_id text": (_set(B_ANN, "category_id", "person"), "category_id is not an integer"),
    "image 100000x100000": (lambda d: _img(d).update(width=100000, height=100000), "pixel limit"),
    "no height": (lambda d: _img(d).pop("height"), "not positive integers"),
    "width big": (_set(_img, "width", "big"), "not positive integers"),
    "width null": (_set(_img, "width", None), "not positive integers"),
    "width nan": (_set(_img, "width", math.nan), "not positive integers"),
    "id abc": (_set(_img, "id", "abc"), "no integer id"),
}

#: name -> file content (bytes) that is not an annotation file at all.
BAD_FILES: dict[str, Callable[[], bytes]] = {
    "random bytes (50 MB)": lambda: np.random.default_rng(20).bytes(50 << 20),
    "a JSON list": lambda: b"[1, 2, 3]",
    "a JSON string": lambda: b'"images"',
    "images null": lambda: json.dumps({**coco_doc(), "images": None}).encode(),
    "no annotations": lambda: json.dumps({"images": [], "categories": []}).encode(),
    "nested 100000 deep": lambda: b"[" * 100_000 + b"]" * 100_000,
    "not UTF-8": lambda: b'{"images": "\xff\xfe"}',
    "empty": lambda: b"",
}


def _write(tmp_path: Path, doc: Any) -> Path:
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc))  # NaN and Infinity are written as JSON's non-standard literals, as hostile files do
    return ann


def _commands(inp: Path, ann: Path, tmp_path: Path) -> dict[str, list[str]]:
    common = ["-i", "telea", "--cache-dir", str(tmp_path / "cache")]
    return {
        "run --masks": ["run", str(inp), "-o", str(tmp_path / "run-out"), "--masks", str(ann), "--json", "--quiet", *common],
        "coco": ["coco", "-a", str(ann), "--images", str(inp), "-o", str(tmp_path / "coco-out"), "--masks", str(ann), "--quiet", *common],
        "eval detect": ["eval", "detect", "--annotations", str(ann), "--images", str(inp), "--detector", "masks", "--split", "all",
                        "--json", str(tmp_path / "eval.json")],
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(RECORD_CASES))
def test_a_bad_record_fails_its_own_image(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inp = coco_photos(tmp_path / "in")
    doc = coco_doc()
    breaker, phrase = RECORD_CASES[case]
    breaker(doc)
    ann = _write(tmp_path, doc)
    with untouched(inp, ann):
        results = {}
        for name, argv in _commands(inp, ann, tmp_path).items():
            capsys.readouterr()
            code = main(argv)
            results[name] = (code, *capsys.readouterr())
    # run --masks: b.png fails with one line; a.png and c.png lose their person.
    code, out, err = results["run --masks"]
    assert code == 1, err
    s = json.loads(out)
    assert [f["file"] for f in s["failures"]] == ["b.png"], s["failures"]
    assert phrase in s["failures"][0]["reason"], s["failures"][0]["reason"]
    assert {o["rel"]: o["status"] for o in s["outcomes"]} == {"a.png": "changed", "b.png": "failed", "c.png": "changed"}
    assert sum(ln.startswith("failed: b.png:") for ln in error_lines(err)) == 1, err
    # coco: the record is refused in one line; the other two images are written.
    code, out, err = results["coco"]
    assert code == 1, err
    refused = [ln for ln in error_lines(err) if ln.startswith("failed:")]
    assert len(refused) == 1 and phrase in refused[0], err
    assert sorted(p.name for p in (tmp_path / "coco-out").iterdir()) == ["a.png", "c.png"]
    # eval detect: the record is refused in one line; the other two images are evaluated.
    code, out, err = results["eval detect"]
    assert code == 1, err
    refused = [ln for ln in error_lines(err) if ln.startswith("refused:")]
    assert len(refused) == 1 and phrase in refused[0], err
    assert json.loads((tmp_path / "eval.json").read_text())["images"] == 2
    for _, out, err in results.values():
        assert "Traceback" not in out + err


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_fails_up_front(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inp = coco_photos(tmp_path / "in")
    ann = tmp_path / "ann.json"
    ann.write_bytes(BAD_FILES[case]())
    with untouched(inp, ann):
        for name, argv in _commands(inp, ann, tmp_path).items():
            capsys.readouterr()
            code = main(argv)
            out, err = capsys.readouterr()
            assert code == 2, (name, err)
            lines = error_lines(err)
            assert len(lines) == 1 and lines[0].startswith("error: ") and "ann.json" in lines[0], (name, lines)
            assert "Traceback" not in out + err
    assert not (tmp_path / "run-out").exists() and not (tmp_path / "coco-out").exists()


def test_a_record_naming_no_image_is_reported_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A null image record and an annotation with image_id "x": said once; the photos still run."""
    inp = coco_photos(tmp_path / "in")
    doc = coco_doc()
    doc["images"].append(None)
    doc["annotations"].append({"id": 9, "image_id": "x", "segmentation": [[0, 0, 1, 0, 1, 1]]})
    ann = _write(tmp_path, doc)
    argv = _commands(inp, ann, tmp_path)["run --masks"]
    with untouched(inp, ann):
        code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["changed"] == 3
    notes = [ln for ln in error_lines(err) if ln.startswith("warning: ann.json:")]
    assert len(notes) == 2 and "images[3]" in notes[0] and "annotations[3]" in notes[1], err


def test_nan_polygon_never_reaches_pycocotools(tmp_path: Path) -> None:
    """Case 8 in child processes: the NaN coordinate that segfaulted pycocotools (exit 139)."""
    inp = coco_photos(tmp_path / "in")
    doc = coco_doc()
    doc["annotations"][1]["segmentation"] = [[10, 10, math.nan, 10, 30, 30, 10, 30]]
    ann = _write(tmp_path, doc)
    with untouched(inp, ann):
        for name, argv in _commands(inp, ann, tmp_path).items():
            done = run_raw(argv, timeout=120)
            assert done.rc == 1, (name, done.rc, done.stderr)  # not -11 / 139: no crash
            assert "Traceback" not in done.stderr
            assert "not a finite number" in done.stderr
