"""`remove-people run` end to end, with the real YOLO weights and real COCO photos.

What is asserted is content: one output per input, pixels outside the refined
mask bit-identical (PNG), persons actually replaced, cached re-runs loading no
model, and bad inputs failing alone with one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.cli import main

from helpers.badinputs import make_bad_inputs


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, dict]:
    code = main(["run", *args, "--json", "--quiet"])
    out = capsys.readouterr()
    try:
        summary = json.loads(out.out)
    except json.JSONDecodeError:
        summary = {"stdout": out.out}
    summary["stderr"] = out.err
    return code, summary


@pytest.fixture(scope="module")
def coco(shared: Path) -> dict:
    return json.loads((shared / "data/coco-person/annotations/instances.json").read_text())


@pytest.fixture(scope="module")
def person_images(shared: Path, coco: dict) -> list[str]:
    """Four val2017 images with persons covering at least 1% of the frame."""
    area: dict[int, float] = {}
    for a in coco["annotations"]:
        if a["category_id"] == 1 and not a.get("iscrowd"):
            area[a["image_id"]] = area.get(a["image_id"], 0.0) + a["area"]
    picks = []
    for img in sorted(coco["images"], key=lambda r: r["file_name"]):
        if img.get("coco_split") == "val2017" and area.get(img["id"], 0) / (img["width"] * img["height"]) > 0.05:
            picks.append(img["file_name"])
    return picks[:4]


@pytest.fixture(scope="module")
def empty_image(coco: dict) -> str:
    with_person = {a["image_id"] for a in coco["annotations"] if a["category_id"] == 1}
    return next(i["file_name"] for i in coco["images"] if i["id"] not in with_person)


@pytest.fixture()
def png_inputs(tmp_path: Path, shared: Path, person_images: list[str], empty_image: str) -> Path:
    """PNG copies of real photos (lossless, so 'unchanged' can be checked bit for bit), in a sub-folder."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for i, name in enumerate(person_images + [empty_image]):
        img = cv2.imread(str(shared / "data/coco-person/images" / name))
        target = d / ("sub" if i % 2 else "") / (Path(name).stem + ".png")
        cv2.imwrite(str(target), img)
    return d


def _read(p: Path) -> np.ndarray:
    return cv2.imread(str(p), cv2.IMREAD_UNCHANGED)


def test_run_removes_persons_and_keeps_everything_else(tmp_path: Path, png_inputs: Path, capsys) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    code, s = run_cli([str(png_inputs), "--out", str(out), "--cache-dir", str(cache), "-i", "telea", "--save-masks"], capsys)
    assert code == 0, s["stderr"]
    inputs = sorted(p.relative_to(png_inputs) for p in png_inputs.rglob("*.png"))
    assert s["images"] == len(inputs) == 5
    assert s["changed"] == 4 and s["unchanged"] == 1 and s["failed"] == 0 and s["persons"] >= 4
    for rel in inputs:
        src, dst = _read(png_inputs / rel), _read(out / rel)
        assert dst is not None and dst.shape == src.shape, rel
        mask_path = (out / rel).with_name(rel.stem + ".mask.png")
        mask = _read(mask_path) > 0
        assert np.array_equal(src[~mask], dst[~mask]), f"{rel}: pixels outside the refined mask changed"
        if mask.any():
            assert mask.mean() > 0.01
            assert np.abs(src[mask].astype(int) - dst[mask]).mean() > 5, f"{rel}: the hole was not filled"
    # The image without persons is the original file, byte for byte.
    unchanged = [o for o in s["outcomes"] if o["status"] == "unchanged"][0]
    assert (out / unchanged["rel"]).read_bytes() == (png_inputs / unchanged["rel"]).read_bytes()


def test_second_run_is_fully_cached_and_refine_change_skips_detect(tmp_path: Path, png_inputs: Path, capsys) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = [str(png_inputs), "--out", str(out), "--cache-dir", str(cache), "-i", "telea"]
    code1, first = run_cli(args, capsys)
    assert code1 == 0 and first["models_loaded"]
    outputs1 = {p: p.read_bytes() for p in out.rglob("*.png")}

    code2, second = run_cli(args, capsys)
    assert code2 == 0
    assert second["models_loaded"] == [], "a cached re-run must not load any model"
    assert all(v == 0 for v in second["cache"]["misses"].values()), second["cache"]
    assert second["cache"]["hits"]["refine"] == 5 and second["cache"]["hits"]["inpaint"] == 4
    assert {p: p.read_bytes() for p in out.rglob("*.png")} == outputs1
    assert second["wall_seconds"] < first["wall_seconds"]

    code3, third = run_cli(args + ["--set", "refine.dilate=15"], capsys)
    assert code3 == 0
    assert third["cache"]["misses"]["detect"] == 0 and third["cache"]["hits"]["detect"] == 5
    assert third["cache"]["misses"]["refine"] == 5 and third["cache"]["misses"]["inpaint"] == 4
    assert "detect:yolo" not in third["models_loaded"]

    code4, fourth = run_cli(args + ["--no-cache"], capsys)
    assert code4 == 0 and "detect:yolo" in fourth["models_loaded"]


def test_masks_folder_changes_only_masked_pixels(tmp_path: Path, png_inputs: Path, capsys) -> None:
    masks = tmp_path / "masks"
    rng = np.random.default_rng(3)
    expected = {}
    for p in sorted(png_inputs.rglob("*.png")):
        h, w = _read(p).shape[:2]
        m = np.zeros((h, w), np.uint8)
        y, x = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        m[y : y + h // 4, x : x + w // 4] = 255
        rel = p.relative_to(png_inputs)
        (masks / rel.parent).mkdir(parents=True, exist_ok=True)
        # Half the masks are given at half size: they are resized (nearest) to the image.
        small = cv2.resize(m, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST) if len(expected) % 2 else m
        cv2.imwrite(str(masks / rel), small)
        expected[rel] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST) > 127
    out = tmp_path / "out"
    code, s = run_cli([str(png_inputs), "--out", str(out), "--masks", str(masks), "--refiner", "none", "-i", "telea", "--no-cache"], capsys)
    assert code == 0, s["stderr"]
    assert s["changed"] == len(expected)
    for rel, m in expected.items():
        src, dst = _read(png_inputs / rel), _read(out / rel)
        diff = np.any(src != dst, axis=2)
        assert not diff[~m].any(), f"{rel}: pixels outside the given mask changed"
        assert diff[m].mean() > 0.3


def test_masks_from_coco_json_change_only_gt_person_pixels(tmp_path: Path, shared: Path, person_images: list[str], coco: dict, capsys) -> None:
    from pycocotools import mask as mask_utils

    d = tmp_path / "in"
    d.mkdir()
    for name in person_images[:3]:
        (d / name).write_bytes((shared / "data/coco-person/images" / name).read_bytes())
    out = tmp_path / "out"
    ann = shared / "data/coco-person/annotations/instances.json"
    code, s = run_cli([str(d), "--out", str(out), "--masks", str(ann), "--refiner", "none", "-i", "telea", "--format", "png"], capsys)
    assert code == 0, s["stderr"]
    by_name = {i["file_name"]: i for i in coco["images"]}
    for name in person_images[:3]:
        info = by_name[name]
        gt = np.zeros((info["height"], info["width"]), bool)
        for a in coco["annotations"]:
            if a["image_id"] == info["id"] and a["category_id"] == 1:
                seg = a["segmentation"]
                if isinstance(seg, list):
                    rles = mask_utils.frPyObjects(seg, info["height"], info["width"])
                elif isinstance(seg["counts"], list):
                    rles = mask_utils.frPyObjects(seg, info["height"], info["width"])
                else:
                    rles = seg
                gt |= mask_utils.decode(mask_utils.merge(rles) if isinstance(rles, list) else rles).astype(bool)
        src = cv2.imread(str(d / name))
        dst = cv2.imread(str(out / (Path(name).stem + ".png")))
        diff = np.any(src != dst, axis=2)
        assert not diff[~gt].any(), f"{name}: pixels outside the COCO person masks changed"
        assert diff[gt].mean() > 0.3


def test_bad_inputs_fail_alone_with_clear_messages(tmp_path: Path, png_inputs: Path, capsys) -> None:
    expected = make_bad_inputs(png_inputs / "bad")
    out = tmp_path / "out"
    code, s = run_cli([str(png_inputs), "--out", str(out), "--cache-dir", str(tmp_path / "c"), "-i", "telea"], capsys)
    assert code == 1, "some inputs failed: exit code 1"
    assert s["changed"] == 4 and s["unchanged"] == 1, "the good images are still processed"
    failures = {Path(f["file"]).name: f["reason"] for f in s["failures"]}
    assert set(failures) == set(expected)
    for name, phrase in expected.items():
        reason = failures[name]
        assert phrase.lower() in reason.lower(), (name, reason)
        assert "\n" not in reason and name in reason
        assert not (out / "bad" / name).exists(), "no output for a failed input"
    # Each failure is also one line on stderr.
    for name in expected:
        assert sum(1 for line in s["stderr"].splitlines() if name in line) >= 1


def test_output_inside_input_is_refused(png_inputs: Path, capsys) -> None:
    code = main(["run", str(png_inputs), "--out", str(png_inputs / "results"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "inside the input folder" in err
    assert not (png_inputs / "results").exists()


def test_unknown_plugin_is_a_usage_error(png_inputs: Path, capsys) -> None:
    code = main(["run", str(png_inputs), "--inpainter", "no-such-fill", "--quiet"])
    assert code == 2 and "valid inpainters" in capsys.readouterr().err


def test_glob_list_file_and_single_file_inputs(tmp_path: Path, png_inputs: Path, capsys) -> None:
    files = sorted(png_inputs.rglob("*.png"))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(p) for p in files[:2]) + "\n# a comment\n")
    code, s = run_cli([str(listing), "--out", str(tmp_path / "o1"), "-i", "telea", "--cache-dir", str(tmp_path / "c")], capsys)
    assert code == 0 and s["images"] == 2
    code, s = run_cli([str(png_inputs / "sub" / "*.png"), "--out", str(tmp_path / "o2"), "-i", "telea", "--cache-dir", str(tmp_path / "c")], capsys)
    assert code == 0 and s["images"] == len(list((png_inputs / "sub").glob("*.png")))
    code, s = run_cli([str(files[0]), "--out", str(tmp_path / "o3"), "-i", "telea", "--cache-dir", str(tmp_path / "c")], capsys)
    assert code == 0 and s["images"] == 1 and (tmp_path / "o3" / files[0].name).exists()


def test_skip_existing_and_compare(tmp_path: Path, png_inputs: Path, capsys) -> None:
    out = tmp_path / "out"
    args = [str(png_inputs), "--out", str(out), "-i", "telea", "--cache-dir", str(tmp_path / "c")]
    code, s = run_cli(args + ["--compare"], capsys)
    assert code == 0 and len(list(out.rglob("*.compare.jpg"))) == 4
    code, s = run_cli(args + ["--skip-existing"], capsys)
    assert code == 0 and s["skipped"] == 5


def test_cache_info_and_clear(tmp_path: Path, png_inputs: Path, capsys) -> None:
    cache = tmp_path / "c"
    run_cli([str(png_inputs), "--out", str(tmp_path / "o"), "-i", "telea", "--cache-dir", str(cache)], capsys)
    assert main(["cache", "info", "--cache-dir", str(cache)]) == 0
    info = capsys.readouterr().out
    assert "detect" in info and "inpaint" in info
    assert main(["cache", "clear", "--cache-dir", str(cache), "--stage", "inpaint"]) == 0
    assert "removed 4 entries" in capsys.readouterr().out
    assert not (cache / "inpaint").exists() and (cache / "detect").exists()
