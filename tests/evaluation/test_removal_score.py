"""The removal score against ground truth, on hand-made cases where every figure is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from remove_people.evaluation.removal_score import (
    EXTRA_DISTANCE_PX,
    GroundTruth,
    RemovalTally,
    repainted_pixels,
    residual_conf,
    score_image,
    size_band,
)
from remove_people.stages.detect.base import Instance

H, W = 200, 300  # 60,000 px: 1 % of the frame is 600 px


def box(y0: int, x0: int, h: int, w: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0 : y0 + h, x0 : x0 + w] = True
    return m


# Three persons of 40 x 40 = 1,600 px (2.7 % of the frame: "small"), far apart.
FULL, HALF, MISSED = box(10, 10, 40, 40), box(10, 130, 40, 40), box(10, 240, 40, 40)


def test_full_half_and_missed_persons_and_repainting_away_from_them() -> None:
    gt = GroundTruth([FULL, HALF, MISSED])
    repainted = FULL.copy()
    repainted |= box(10, 130, 20, 40)  # the top half of the second person
    far = box(150, 100, 10, 30)  # 300 px far from everyone
    near = box(50, 10, EXTRA_DISTANCE_PX, 40)  # right under the first person, within 15 px: not extra
    repainted |= far | near
    s = score_image(repainted, gt)
    assert s.person_shares == [1.0, 0.5, 0.0]
    assert s.counted == [0, 1, 2] and s.missed == 2
    assert s.gt_pixels == 3 * 1600 and s.covered_pixels == 1600 + 800
    assert s.coverage == pytest.approx(0.5)
    assert s.extra_pixels == 300

    tally = RemovalTally()
    tally.add("a.png", s)
    out = tally.summary()
    assert out["persons_removed"] == pytest.approx(1 / 3) and out["persons_removed_count"] == 1
    assert out["by_size"]["small"] == {"persons": 3, "removed": 1, "share": pytest.approx(1 / 3), "frame_share": [0.01, 0.05]}
    assert out["by_size"]["large"]["persons"] == 0 and out["by_size"]["large"]["share"] is None
    assert out["pixel_coverage"] == pytest.approx(0.5)
    assert out["extra_area"] == pytest.approx(300 / 4800)
    assert out["residual"] is None  # no check detector ran


def test_a_result_that_repaints_exactly_the_persons_scores_perfectly() -> None:
    gt = GroundTruth([FULL, HALF])
    s = score_image(FULL | HALF, gt)
    assert s.missed == 0 and s.coverage == 1.0 and s.extra_pixels == 0


def test_tiny_persons_count_for_pixels_not_persons_and_crowds_are_not_extra() -> None:
    tiny = box(100, 10, 10, 10)  # 100 px: 0.17 % of the frame
    crowd = box(120, 200, 30, 60)
    gt = GroundTruth([FULL, tiny], crowd=crowd)
    s = score_image(crowd | tiny, gt)
    assert s.counted == [0] and s.missed == 1  # the tiny one is repainted but does not count as a person
    assert s.gt_pixels == 1700 and s.covered_pixels == 100
    assert s.extra_pixels == 0  # repainting a crowd region is not wasted


def test_held_objects_are_not_waste_and_objects_nobody_holds_are_counted_apart() -> None:
    bag = box(50, 20, 20, 20)  # touching the first person's bottom edge: held
    cup = box(150, 200, 20, 20)  # far from everyone
    gt = GroundTruth([FULL], objects=[("handbag", bag, True), ("cup", cup, False)])
    s = score_image(FULL | bag | cup, gt)
    assert s.held_shares == [1.0] and s.free_shares == [1.0]
    assert s.extra_pixels == 400  # only the cup is waste
    assert s.extra_pixels_persons_only == 400 + 400 - 15 * 20  # the bag too, but for its first 15 rows (near the person)
    tally = RemovalTally()
    tally.add("a", s)
    out = tally.summary()
    assert out["held_objects_removed"] == 1.0 and out["free_objects_removed"] == 1.0
    assert out["extra_area"] == pytest.approx(400 / 1600)
    assert out["extra_area_persons_only"] == pytest.approx(500 / 1600)


def test_coco_ground_truth_marks_held_objects(tmp_path) -> None:
    """COCO polygons in, person / crowd / held / free out, by the select stage's touching rule."""
    import json

    from pycocotools.coco import COCO

    from remove_people.evaluation.removal_score import coco_ground_truth

    def poly(y0: int, x0: int, h: int, w: int) -> list[list[float]]:
        return [[x0, y0, x0 + w, y0, x0 + w, y0 + h, x0, y0 + h]]

    anns = [
        {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "segmentation": poly(10, 10, 40, 40), "area": 1600, "bbox": [10, 10, 40, 40]},
        {"id": 2, "image_id": 7, "category_id": 31, "iscrowd": 0, "segmentation": poly(51, 20, 10, 10), "area": 100, "bbox": [20, 51, 10, 10]},
        {"id": 3, "image_id": 7, "category_id": 47, "iscrowd": 0, "segmentation": poly(150, 200, 20, 20), "area": 400, "bbox": [200, 150, 20, 20]},
        {"id": 4, "image_id": 7, "category_id": 62, "iscrowd": 0, "segmentation": poly(100, 100, 20, 20), "area": 400, "bbox": [100, 100, 20, 20]},
    ]
    data = {"images": [{"id": 7, "file_name": "a.png", "width": W, "height": H}], "annotations": anns,
            "categories": [{"id": 1, "name": "person"}, {"id": 31, "name": "handbag"}, {"id": 47, "name": "cup"}, {"id": 62, "name": "chair"}]}
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    gt = coco_ground_truth(coco, 7, (H, W))
    assert len(gt.persons) == 1 and gt.crowd is None
    assert [(n, h) for n, _, h in gt.objects] == [("handbag", True), ("cup", False)]  # the chair is no accessory


def test_size_bands() -> None:
    assert size_band(0.005) is None
    assert size_band(0.01) == "small" and size_band(0.049) == "small"
    assert size_band(0.05) == "medium" and size_band(0.2) == "large" and size_band(1.0) == "large"


def test_repainted_means_changed_pixels() -> None:
    original = np.full((H, W, 3), 100, np.uint8)
    result = original.copy()
    result[5, 7, 2] = 101  # one channel of one pixel
    result[9:11, 0:3] = 0
    rp = repainted_pixels(original, result)
    assert rp.sum() == 1 + 6 and rp[5, 7] and rp[10, 2] and not rp[0, 0]
    with pytest.raises(ValueError, match="300x200"):
        repainted_pixels(original, result[:-1])


def test_residual_counts_persons_left_in_the_hole_or_on_a_gt_person() -> None:
    gt = GroundTruth([FULL, MISSED])
    repainted = FULL | box(120, 100, 40, 40)  # the first person and a region where nobody was
    ghost = Instance(box(125, 105, 30, 30), 0.4)  # a figure painted into the repainted region
    left = Instance(box(10, 240, 40, 60), 0.3)  # 2/3 of it on the missed person
    statue = Instance(box(150, 250, 40, 40), 0.9)  # not on a person, not in the hole: not ours to judge
    edge = Instance(box(100, 90, 40, 40), 0.8)  # 37.5 % inside the repainted region: under the bar
    assert residual_conf([ghost], repainted, gt) == 0.4
    assert residual_conf([left], repainted, gt) == 0.3
    assert residual_conf([statue, edge], repainted, gt) == 0.0
    assert residual_conf([Instance(box(125, 105, 30, 30), 0.9, label="dog", class_id=16)], repainted, gt) == 0.0

    tally = RemovalTally()
    for name, conf in (("a", 0.3), ("b", 0.0)):
        s = score_image(repainted, gt)
        s.residual, s.residual_conf = conf > 0, conf
        tally.add(name, s)
    empty = score_image(np.zeros((H, W), bool), GroundTruth([]))
    empty.residual = False
    tally.add("nobody", empty)  # no person and nothing repainted: a person cannot be left there
    out = tally.summary()
    assert out["residual_checked"] == 2 and out["residual_images"] == 1 and out["residual"] == 0.5
    assert tally.worst(5)[0] == "a"
