"""Acceptance of the spine: persons are really gone (residual-person rate with patchmatch).

Slow (every person image of ../shared/data/coco-person through YOLO + PatchMatch on CPU),
so it runs in CI's second step. The figure it measures is printed and written to
``$RP_RESULTS_DIR/removal_residual.json`` when that variable is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.cli import main
from remove_people.config import build_stage
from remove_people.pipeline.image_reader import read_image
from remove_people.stages.detect.base import Frame

#: A re-detected person counts as residual if at least this share of its mask lies in a removed region.
OVERLAP = 0.25


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_residual_person_rate_with_patchmatch(tmp_path: Path, shared: Path, capsys) -> None:
    coco = json.loads((shared / "data/coco-person/annotations/instances.json").read_text())
    persons = {a["image_id"] for a in coco["annotations"] if a["category_id"] == 1}
    names = sorted(i["file_name"] for i in coco["images"] if i["id"] in persons)
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(str(shared / "data/coco-person/images" / n) for n in names))
    out = tmp_path / "out"
    code = main(["run", str(listing), "--out", str(out), "--cache-dir", str(tmp_path / "c"), "-i", "patchmatch",
                 "--save-masks", "--format", "png", "--quiet", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary["failures"]
    assert summary["images"] == len(names)

    # The check is one model at conf 0.5, as this figure has always been measured: the default
    # detector is now an ensemble that keeps weak detections another pass confirms, which would
    # make "conf 0.5" mean something else.
    detector = build_stage("detect", "yolo", weights="yolo11n-seg", conf=0.5, flip=False, support_conf=None, classes=[0])
    eligible = residual = 0
    for name in names:
        stem = Path(name).stem
        mask = cv2.imread(str(out / f"{stem}.mask.png"), cv2.IMREAD_GRAYSCALE) > 0
        if mask.mean() < 0.01:  # persons cover < 1% of the frame: not counted
            continue
        eligible += 1
        result = read_image(out / f"{stem}.png").rgb
        found = detector.detect([Frame(result, out / f"{stem}.png", stem)])[0]
        if any(i.is_person and (i.mask & mask).sum() >= OVERLAP * i.mask.sum() for i in found):
            residual += 1
        # Pixels outside the removed region are untouched (the decoded JPEG, bit for bit).
        original = read_image(shared / "data/coco-person/images" / name).rgb
        assert np.array_equal(original[~mask], result[~mask]), name
    rate = residual / eligible
    print(f"residual persons (conf>=0.5, >= {OVERLAP:.0%} inside a removed region): {residual}/{eligible} = {rate:.3f}")
    if os.environ.get("RP_RESULTS_DIR"):
        Path(os.environ["RP_RESULTS_DIR"], "removal_residual.json").write_text(
            json.dumps({"eligible": eligible, "residual": residual, "rate": rate, "wall_seconds": summary["wall_seconds"]})
        )
    assert eligible >= 60
    assert rate < 0.20
