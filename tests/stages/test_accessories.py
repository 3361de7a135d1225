"""Accessories go with the person who holds them, stay with a kept person, and are otherwise left alone.

The real-photo test uses COCO val2017 000000153797 (a baseball player with his glove,
and a ball in flight that touches nobody), with ground-truth masks for all three, through
the real morphology refiner and telea inpainter.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from remove_people.config import build_stage
from remove_people.stages.detect.base import Instance
from remove_people.stages.select import ACCESSORY_COCO_IDS, SelectParams, Selector, accessory_class_ids

from test_select import coco_instances, load_rgb, rect

GLOVE_PHOTO = "000000153797.jpg"


def sel(**kw) -> Selector:
    return Selector(SelectParams(with_accessories=True, **kw))


def test_accessory_ids_match_the_yolo_models_class_names(yolo_weights):
    import torch

    ckpt = torch.load(yolo_weights, map_location="cpu", weights_only=False)
    names = ckpt["model"].names
    for name, idx in ACCESSORY_COCO_IDS.items():
        assert names[idx] == name


def test_unknown_accessory_name_is_a_usage_error():
    from remove_people.errors import UsageError

    with pytest.raises(UsageError, match="umbrela.*known: backpack"):
        accessory_class_ids(["umbrela"])
    assert accessory_class_ids(["tie", "cell phone"]) == [27, 67]


def test_owner_is_the_person_it_touches_most():
    shape = (100, 200)
    a = rect(shape, 10, 10, 90, 60)
    b = rect(shape, 10, 120, 90, 170)  # same size as a
    bag_a = rect(shape, 50, 60, 70, 80, label="handbag", class_id=26)  # touches a's right edge
    phone_b = rect(shape, 30, 130, 40, 140, label="cell phone", class_id=67)  # inside b
    kite = rect(shape, 0, 90, 5, 110, label="kite", class_id=33)  # nobody's
    bottle = rect(shape, 80, 85, 95, 95, label="bottle", class_id=39)
    remove, protect = sel().select([a, b, bag_a, phone_b, kite, bottle], shape)
    assert {id(i) for i in remove} == {id(a), id(b), id(bag_a), id(phone_b)}
    assert protect is None
    # Keep the larger person b: its phone is protected with it, a's bag still goes with a.
    b_big = rect(shape, 10, 110, 90, 170)
    remove, protect = sel(keep=1).select([a, b_big, bag_a, phone_b, kite, bottle], shape)
    assert {id(i) for i in remove} == {id(a), id(bag_a)}
    assert protect is not None and protect[35, 135] and not protect[60, 70] and not protect[2, 100]


def test_overlap_threshold_and_switch():
    shape = (60, 60)
    p = rect(shape, 10, 10, 50, 30)
    board = rect(shape, 45, 28, 50, 58, label="skateboard", class_id=36)  # 2 of 30 columns touch: ~10 %
    assert any(i is board for i in sel(accessory_overlap=0.05).select([p, board], shape)[0])
    assert not any(i is board for i in sel(accessory_overlap=0.5).select([p, board], shape)[0])
    off = Selector(SelectParams(with_accessories=False)).select([p, board], shape)[0]
    assert [i is p for i in off] == [True]
    # Unlisted classes are never accessories.
    assert not any(i is board for i in sel(accessories=["tie"]).select([p, board], shape)[0])


@pytest.fixture(scope="module")
def glove_scene(shared):
    rgb = load_rgb(shared / "data/coco-person/images" / GLOVE_PHOTO)
    inst = coco_instances(shared, GLOVE_PHOTO, ("person", "baseball glove", "sports ball"))
    by = {i.label: i for i in inst}
    assert set(by) == {"person", "baseball glove", "sports ball"}
    return rgb, inst, by


def _run(rgb: np.ndarray, instances: list[Instance], selector: Selector) -> tuple[np.ndarray, np.ndarray, list[Instance]]:
    remove, protect = selector.select(instances, rgb.shape[:2])
    hole = build_stage("refine", "morphology").refine(rgb, remove, protect) if remove else np.zeros(rgb.shape[:2], np.uint8)
    return build_stage("inpaint", "telea").inpaint(rgb, hole), hole, remove


def test_glove_removed_with_its_player_and_the_ball_left_alone(glove_scene):
    rgb, inst, by = glove_scene
    out, hole, remove = _run(rgb, inst, sel())
    glove, ball = by["baseball glove"], by["sports ball"]
    assert any(r is glove for r in remove) and not any(r is ball for r in remove)
    assert (hole > 0)[glove.mask].all()
    changed = np.abs(out.astype(int) - rgb.astype(int)).sum(axis=2) > 0
    assert changed[glove.mask].mean() > 0.8



SKIS_PHOTO = "000000136334.jpg"  # val2017: a skier; the skis reach far beyond his grown mask


def test_without_accessories_the_skis_stay_behind(shared):
    rgb = load_rgb(shared / "data/coco-person/images" / SKIS_PHOTO)
    inst = coco_instances(shared, SKIS_PHOTO, ("person", "skis"))
    (skis,) = [i for i in inst if i.label == "skis"]
    _, hole_off, remove_off = _run(rgb, inst, Selector(SelectParams(with_accessories=False)))
    _, hole_on, remove_on = _run(rgb, inst, sel())
    assert not any(r is skis for r in remove_off) and any(r is skis for r in remove_on)
    assert (hole_off > 0)[skis.mask].mean() < 0.8  # most of the skis would float on
    assert (hole_on > 0)[skis.mask].all()


TIE_PHOTO = "000000491008.jpg"  # val2017: two persons, one wearing a tie


def test_tie_kept_with_its_wearer_and_removed_with_him(shared, tmp_path):
    """Two persons: keep the tie's wearer and the tie comes through bit-identical; remove him and it goes."""
    rgb = load_rgb(shared / "data/coco-person/images" / TIE_PHOTO)
    inst = coco_instances(shared, TIE_PHOTO, ("person", "tie"))
    persons = [i for i in inst if i.is_person]
    (tie,) = [i for i in inst if i.label == "tie"]
    assert len(persons) == 2
    (owner,) = sel().owners([tie], persons)
    assert owner is not None
    wearer, other = persons[owner], persons[1 - owner]

    km = tmp_path / "keep.png"
    keep_wearer = np.zeros(rgb.shape[:2], np.uint8)
    keep_wearer[wearer.mask] = 255
    cv2.imwrite(str(km), keep_wearer)
    out, hole, remove = _run(rgb, inst, sel(keep_mask=str(km)))
    assert {id(r) for r in remove} == {id(other)}
    assert np.array_equal(out[tie.mask | wearer.mask], rgb[tie.mask | wearer.mask])
    changed = np.abs(out.astype(int) - rgb.astype(int)).sum(axis=2) > 0
    assert changed[other.mask & ~wearer.mask].mean() > 0.5

    # remove everyone: the tie goes with its wearer
    out, hole, remove = _run(rgb, inst, sel())
    assert any(r is tie for r in remove) and (hole > 0)[tie.mask].all()
