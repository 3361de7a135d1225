"""The refine and the selection work on each instance inside its box (``Instance.window``): the
same masks as on the whole frame, checked against a whole-frame reference on real COCO masks
(people cut by the frame edge included), and on boxes that do not hold their mask."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from remove_people.config import build_stage
from remove_people.stages.detect.base import Instance
from remove_people.stages.refine.morphology import drop_specks, ellipse, fill_holes
from remove_people.stages.select import Selector, SelectParams


def _reference_refine(instances: list[Instance], shape: tuple[int, int], p) -> np.ndarray:  # noqa: ANN001
    """The refine as it was written before the window: every step on the whole frame."""
    out = np.zeros(shape, bool)
    for inst in instances:
        m = drop_specks(inst.mask, p.min_area) if p.min_area > 0 else inst.mask
        if not m.any():
            continue
        m = fill_holes(m) if p.fill_holes else m
        if p.close > 0:
            m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, ellipse(p.close)).astype(bool)
        x0, y0, x1, y1 = inst.box
        radius = int(round(p.dilate + p.dilate_frac * max(0.0, y1 - y0)))
        if radius > 0:
            m = cv2.dilate(m.astype(np.uint8), ellipse(radius)).astype(bool)
        out |= m
    if p.smooth > 0 and out.any():
        k = 2 * p.smooth + 1
        out |= cv2.GaussianBlur(out.astype(np.float32), (k, k), 0) > 0.5
    return out.astype(np.uint8) * 255


def _coco_instances(shared: Path, count: int) -> list[tuple[tuple[int, int], list[Instance]]]:
    coco = COCO(str(shared / "data/coco-person/annotations/instances.json"))
    out = []
    for img_id in sorted(coco.getImgIds())[:count]:
        info = coco.imgs[img_id]
        shape = (info["height"], info["width"])
        insts = []
        for a in coco.loadAnns(coco.getAnnIds(imgIds=[img_id], iscrowd=False)):
            m = coco.annToMask(a).astype(bool)
            if m.any():
                x, y, w, h = a["bbox"]
                insts.append(Instance(m, 0.9, "person" if a["category_id"] == 1 else "object", a["category_id"] - 1, (x, y, x + w, y + h)))
        if insts:
            out.append((shape, insts))
    return out


@pytest.fixture(scope="module")
def photos(shared: Path) -> list[tuple[tuple[int, int], list[Instance]]]:
    return _coco_instances(shared, 25)


@pytest.mark.parametrize("overrides", [{}, {"close": 9, "dilate": 0, "dilate_frac": 0.05}, {"min_area": 0, "fill_holes": False}])
def test_windowed_refine_equals_the_whole_frame(photos, overrides: dict) -> None:  # noqa: ANN001
    refiner = build_stage("refine", "morphology", **overrides)
    edge = 0
    for shape, insts in photos:
        got = refiner.refine(np.zeros((*shape, 3), np.uint8), insts)
        assert np.array_equal(got, _reference_refine(insts, shape, refiner.params))
        edge += sum(1 for i in insts if i.window(2 * refiner.params.close + 20)[0].start == 0)
    assert edge > 0  # some windows were clipped by the frame edge


def test_a_box_that_does_not_hold_its_mask_falls_back_to_the_whole_frame(photos) -> None:  # noqa: ANN001
    shape, insts = photos[0]
    wrong = [Instance(i.mask, i.score, i.label, i.class_id, (0.0, 0.0, 3.0, 3.0)) for i in insts]
    assert wrong[0].window(2) == (slice(0, shape[0]), slice(0, shape[1]))
    refiner = build_stage("refine", "morphology")
    assert np.array_equal(refiner.refine(np.zeros((*shape, 3), np.uint8), wrong), _reference_refine(wrong, shape, refiner.params))


def test_owners_counted_in_the_window_equal_the_whole_frame(photos) -> None:  # noqa: ANN001
    sel = Selector(SelectParams())
    checked = 0
    for _shape, insts in photos:
        persons = [i for i in insts if i.is_person]
        objects = [i for i in insts if not i.is_person]
        if not persons or not objects:
            continue
        k = 2 * sel.params.accessory_touch + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        reach = [cv2.dilate(q.mask.astype(np.uint8), kernel).astype(bool) for q in persons]
        want = []
        for obj in objects:
            fr = [float((obj.mask & r).sum()) / max(1, obj.area) for r in reach]
            b = int(np.argmax(fr))
            want.append(b if fr[b] > 0 and fr[b] >= sel.params.accessory_overlap else None)
        assert sel.owners(objects, persons) == want
        checked += len(objects)
    assert checked >= 5
