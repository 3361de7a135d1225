"""``eval detect`` on the shared COCO val images, checked against pycocotools run directly in the test."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remove_people.commands.evaluate import app

runner = CliRunner()


def _direct_ap(annotations: Path, results: list[dict], image_ids: list[int]) -> dict[str, float]:
    """pycocotools by hand: person only, segm and bbox, on exactly these images."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(annotations))
        out = {}
        for iou_type in ("segm", "bbox"):
            ev = COCOeval(gt, gt.loadRes(results), iou_type)
            ev.params.catIds = [1]
            ev.params.imgIds = image_ids
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            out[iou_type] = (ev.stats[0], ev.stats[1])
    return out


def _run(tmp_path: Path, *args: str) -> tuple[dict, list[dict]]:
    metrics, results = tmp_path / "m.json", tmp_path / "r.json"
    res = runner.invoke(app, ["detect", *args, "--json", str(metrics), "--results", str(results)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return json.loads(metrics.read_text()), json.loads(results.read_text())


def _check_against_direct(shared: Path, m: dict, results: list[dict]) -> None:
    ann = shared / "data" / "coco-person" / "annotations" / "instances.json"
    direct = _direct_ap(ann, results, m["image_ids"])
    assert m["ap"]["mask_ap"] == pytest.approx(direct["segm"][0], abs=0.005)
    assert m["ap"]["mask_ap50"] == pytest.approx(direct["segm"][1], abs=0.005)
    assert m["ap"]["box_ap"] == pytest.approx(direct["bbox"][0], abs=0.005)
    assert m["ap"]["box_ap50"] == pytest.approx(direct["bbox"][1], abs=0.005)


def test_ground_truth_masks_score_perfect_ap_and_coverage(tmp_path: Path, shared: Path) -> None:
    """The annotations' own masks as detections: AP 1 and coverage 1, so the plumbing loses nothing."""
    m, results = _run(tmp_path, "--detector", "masks", "--limit", "6")
    assert m["images"] == 6 and all(r["category_id"] == 1 and "counts" in r["segmentation"] for r in results)
    assert m["ap"]["mask_ap"] == pytest.approx(1.0) and m["ap"]["box_ap"] > 0.95
    assert m["masks"]["raw"]["coverage"] == pytest.approx(1.0, abs=1e-3)
    assert m["masks"]["raw"]["extra"] < 0.01
    refined = m["masks"]["refined"]
    assert refined["coverage"] >= m["masks"]["raw"]["coverage"] - 1e-9 and refined["extra"] > 0  # refine grows the mask
    _check_against_direct(shared, m, results)


def test_yolo_on_a_few_val_images_agrees_with_direct_pycocotools(tmp_path: Path, shared: Path, yolo_weights: Path) -> None:
    m, results = _run(tmp_path, "--limit", "3", "--detector-weights", "yolo11n-seg-openvino-int8")
    assert m["images"] == 3 and len(results) >= 3
    assert min(r["score"] for r in results) < 0.25  # the low AP threshold reached the detector
    assert 0.2 < m["ap"]["mask_ap"] <= 1 and 0.2 < m["ap"]["box_ap"] <= 1
    _check_against_direct(shared, m, results)
    raw, refined = m["masks"]["raw"], m["masks"]["refined"]
    assert 0.7 < raw["coverage"] <= refined["coverage"] <= 1
    assert refined["extra"] > raw["extra"]


@pytest.mark.slow
def test_yolo_on_all_59_val_images_matches_published_figures(tmp_path: Path, shared: Path, yolo_weights: Path) -> None:
    """SOURCES.md: yolo11n-seg (INT8 rebuild) mask AP 0.410 / AP50 0.756, box AP 0.563 / AP50 0.820."""
    m, results = _run(tmp_path, "--detector-weights", "yolo11n-seg-openvino-int8")
    assert m["images"] == 59
    _check_against_direct(shared, m, results)
    assert m["ap"]["mask_ap"] == pytest.approx(0.410, abs=0.02)
    assert m["ap"]["mask_ap50"] == pytest.approx(0.756, abs=0.02)
    assert m["ap"]["box_ap"] == pytest.approx(0.563, abs=0.02)
    assert m["masks"]["refined"]["coverage"] > m["masks"]["raw"]["coverage"]


def test_refused_split_selection_is_a_clear_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["detect", "--split", "test2017", "--detector", "masks"])
    assert res.exit_code != 0 and "no image matches the selection" in str(res.exception)
