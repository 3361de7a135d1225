"""``remove-people coco`` end to end: ground-truth masks through the pipeline, results JSON, refused names, missing files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from remove_people.cli import app
from remove_people.evaluation.coco_subset import CocoSubset
from remove_people.evaluation.data import load_rgb
from remove_people.evaluation.detect_metrics import gt_person_mask

runner = CliRunner()


@pytest.fixture()
def coco_dir(shared: Path) -> Path:
    return shared / "data" / "coco-person"


def test_ground_truth_masks_images_and_json(tmp_path: Path, coco_dir: Path) -> None:
    """Image 5001 has a crowd (RLE) person region: its masks come back in the JSON, and the photo is changed there only."""
    from pycocotools import mask as mask_utils

    ann = coco_dir / "annotations" / "instances.json"
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        ["coco", "--annotations", str(ann), "--images", str(coco_dir / "images"), "--out", str(out), "--masks", str(ann),
         "--image-ids", "5001,139", "--write", "both", "--inpainter", "telea", "--save-masks", "--cache-dir", str(tmp_path / "c")],
    )
    assert res.exit_code == 0, res.output
    assert "crowd" in res.output
    results = json.loads((out / "detections.json").read_text())
    assert {r["image_id"] for r in results} == {139, 5001}
    sub = CocoSubset.load(ann, coco_dir / "images")
    for image_id, name in ((5001, "000000005001.jpg"), (139, "000000000139.jpg")):
        mine = [r for r in results if r["image_id"] == image_id]
        union = np.zeros((sub.coco.imgs[image_id]["height"], sub.coco.imgs[image_id]["width"]), bool)
        for r in mine:
            union |= mask_utils.decode(r["segmentation"]).astype(bool)
        gt = gt_person_mask(sub.coco, image_id, union.shape)
        assert (union == gt).mean() > 0.999  # every person (crowd included) went through as given
        original, result = load_rgb(coco_dir / "images" / name), load_rgb(out / name)
        mask = load_rgb(out / name.replace(".jpg", ".mask.png"))[..., 0] > 0
        assert mask[gt].mean() > 0.99  # the refined mask covers the persons
        changed = np.abs(original.astype(int) - result).max(axis=2) > 40
        assert changed[mask].mean() > 0.05 and changed[~mask].mean() < 0.01  # removed inside, untouched outside (JPEG noise aside)


def test_escaping_names_and_missing_images_are_reported(tmp_path: Path, coco_dir: Path) -> None:
    src = json.loads((coco_dir / "annotations" / "instances.json").read_text())
    keep = {139, 790, 802}
    src["images"] = [i for i in src["images"] if i["id"] in keep]
    src["annotations"] = [a for a in src["annotations"] if a["image_id"] in keep]
    names = {i["id"]: i for i in src["images"]}
    names[790]["file_name"] = "../../etc/passwd"
    names[802]["file_name"] = "gone.jpg"
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(src))
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        ["coco", "--annotations", str(ann), "--images", str(coco_dir / "images"), "--out", str(out), "--masks", str(ann),
         "--write", "json", "--cache-dir", str(tmp_path / "c")],
    )
    assert res.exit_code == 1, res.output
    assert "image id 790" in res.output and "../../etc/passwd" in res.output and "refused" in res.output
    assert "gone.jpg" in res.output and "missing on disk" in res.output
    assert {r["image_id"] for r in json.loads((out / "detections.json").read_text())} == {139}
    assert sorted(p.name for p in out.iterdir()) == ["detections.json"]  # json only: no images written


def test_out_inside_images_is_refused(tmp_path: Path, coco_dir: Path) -> None:
    res = runner.invoke(app, ["coco", "--annotations", str(coco_dir / "annotations" / "instances.json"),
                              "--images", str(coco_dir / "images"), "--out", str(coco_dir / "images" / "x"), "--limit", "1"])
    assert res.exit_code != 0 and "inside the input folder" in str(res.exception)
