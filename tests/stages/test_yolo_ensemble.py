"""The detector's extra passes: an ensemble of YOLO models, flip TTA, confirmed weak detections, merging per person.

Hand-made instances check the merge rules exactly; the real weights check that the batched
passes equal the passes run one by one, that every model of the ensemble runs in OpenVINO
at f32, and that the cache key follows every setting that moves a mask.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from remove_people.config import Config, build_stage
from remove_people.errors import UsageError
from remove_people.pipeline.image_reader import read_image
from remove_people.stages.detect.base import Frame, Instance
from remove_people.stages.detect.merge import flip_back, keep_supported, merge_instances
from remove_people.stages.detect.yolo import weights_list

H, W = 60, 80


def rect(y0: int, x0: int, h: int, w: int, score: float = 0.9, class_id: int = 0) -> Instance:
    m = np.zeros((H, W), bool)
    m[y0 : y0 + h, x0 : x0 + w] = True
    return Instance(m, score, "person" if class_id == 0 else "handbag", class_id)


def test_merge_joins_the_same_person_across_passes_and_keeps_neighbours_apart() -> None:
    a = rect(10, 10, 30, 10, 0.9)  # model 1
    a2 = rect(12, 10, 30, 12, 0.6)  # model 2, same person, a bit wider and lower
    b = rect(10, 40, 30, 10, 0.8)  # another person, found by model 1 only
    merged = merge_instances([[a, b], [a2]], iou=0.5)
    assert len(merged) == 2
    first = next(m for m in merged if m.score == 0.9)
    assert first.area == int((a.mask | a2.mask).sum()) and first.box == (10.0, 10.0, 22.0, 42.0)
    assert any(m is b for m in merged)  # untouched
    # A bag on the same pixels is another object, never merged into a person.
    assert len(merge_instances([[a], [rect(10, 10, 30, 10, 0.9, class_id=26)]], iou=0.5)) == 2
    # One pass: returned as it is.
    assert merge_instances([[a, b]], iou=0.5) == [a, b]


def test_weak_detections_stay_only_when_another_pass_confirms_them() -> None:
    strong = rect(5, 5, 20, 10, 0.7)
    weak_seen_twice = rect(30, 30, 20, 20, 0.08)
    part_of_it = rect(30, 30, 10, 20, 0.06)  # another pass saw the top half only: covers the smaller mask
    weak_alone = rect(5, 60, 20, 10, 0.09)
    too_weak = rect(30, 30, 20, 20, 0.03)
    kept = keep_supported([[strong, weak_seen_twice, weak_alone], [part_of_it, too_weak]], conf=0.25, support_conf=0.05)
    assert kept == [[strong, weak_seen_twice], [part_of_it]]
    # Off, or a single pass: only conf counts.
    assert keep_supported([[strong, weak_seen_twice], [part_of_it]], 0.25, None) == [[strong], []]
    assert keep_supported([[strong, weak_seen_twice]], 0.25, 0.05) == [[strong]]


def test_flip_back_mirrors_mask_and_box() -> None:
    inst = rect(10, 5, 20, 10)  # x 5..15 on the mirrored photo
    back = flip_back(inst, W)
    assert back.box == (65.0, 10.0, 75.0, 30.0)
    assert np.array_equal(back.mask, inst.mask[:, ::-1]) and back.mask[10, 70] and not back.mask[10, 7]


def test_weights_as_a_list() -> None:
    assert weights_list("yolo11n-seg") == ["yolo11n-seg"]
    assert weights_list(["yolo11n-seg", "yolov8n-seg"]) == ["yolo11n-seg", "yolov8n-seg"]
    assert weights_list("yolo11n-seg, yolov8n-seg") == ["yolo11n-seg", "yolov8n-seg"]
    with pytest.raises(UsageError, match="detect.yolo.weights"):
        weights_list([])


def detector(*overrides: str):
    return build_stage("detect", config=Config.load(overrides=[f"detect.yolo.{o}" for o in overrides]))


def key(*overrides: str) -> str:
    return json.dumps(detector(*overrides).identity(), sort_keys=True)


def test_cache_key_follows_every_setting_that_moves_a_mask(shared: Path) -> None:
    base = key()
    changed = [
        "weights=yolo11n-seg", "weights=[yolov8n-seg, yolo11n-seg]", "flip=false", "support_conf=0.1", "support_conf=null",
        "merge_iou=0.6", "conf=0.3", "imgsz=960", "classes=[0]", "iou=0.6", "max_det=50",
    ]  # fmt: skip
    keys = {c: key(c) for c in changed}
    assert all(k != base for k in keys.values()), [c for c, k in keys.items() if k == base]
    assert len(set(keys.values())) == len(keys)
    # Speed-only settings share the key.
    assert key("batch=2") == key("device=cpu") == key("backend=torch") == base
    # The same file under another name (a path instead of the table name) is the same key.
    v8 = shared / "weights" / "yolov8n-seg_from_tflite_int8.pt"
    assert key(f"weights=[yolo11n-seg, '{v8}']") == base
    # With one model and no flip there is nothing to merge or confirm: those settings leave the key alone.
    one = ("weights=yolo11n-seg", "flip=false")
    assert key(*one, "merge_iou=0.6") == key(*one, "support_conf=0.2") == key(*one)


@pytest.mark.parametrize("bad", ["merge_iou=0", "support_conf=1.5"])
def test_bad_merge_settings_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match=bad.split("=")[0]):
        detector(bad)


@pytest.mark.slow  # five detectors, two OpenVINO compiles each: about a minute on 2 cores
def test_batched_passes_equal_passes_run_one_by_one_in_openvino(shared: Path) -> None:
    """The ensemble with flip on one photo equals each model run alone on the photo and on its mirror image."""
    pytest.importorskip("openvino")
    path = shared / "data" / "coco-person" / "images" / "000000231125.jpg"  # a weak person behind the counter
    rgb = read_image(path).rgb
    frame = Frame(rgb, path, path.name)
    ens = detector("backend=openvino")
    got = ens.detect([frame])[0]
    assert [m.backend() for m in ens.models] == ["openvino", "openvino"]
    assert [m.runtime_precision() for m in ens.models] == ["f32", "f32"]

    passes = []
    for w in ("yolo11n-seg", "yolov8n-seg"):
        one = detector("backend=openvino", f"weights={w}", "flip=false", "conf=0.05")
        passes.append(one.detect([frame])[0])
        mirrored = one.detect([Frame(np.ascontiguousarray(rgb[:, ::-1]), path, path.name)])[0]
        passes.append([flip_back(i, rgb.shape[1]) for i in mirrored])
    want = merge_instances(keep_supported(passes, 0.25, 0.05), 0.5)
    assert len(got) == len(want) >= 2
    for a, b in zip(sorted(got, key=lambda i: -i.score), sorted(want, key=lambda i: -i.score)):
        assert a.label == b.label and abs(a.score - b.score) < 1e-3
        assert (a.mask ^ b.mask).sum() <= 0.01 * max(1, (a.mask | b.mask).sum())
    # The weak person on the left (found at 0.05-0.08 by several passes) is among the persons kept.
    assert any(i.is_person and i.score < 0.25 and i.box[0] < 60 for i in got)


def test_default_classes_hold_every_default_accessory() -> None:
    """select.with_accessories is on by default, so the detector must return those classes from the config alone."""
    from remove_people.stages.select import accessory_class_ids

    cfg = Config.load()
    assert cfg.data["select"]["with_accessories"] is True
    assert set(accessory_class_ids(cfg.data["select"]["accessories"])) | {0} <= set(cfg.data["detect"]["yolo"]["classes"])
