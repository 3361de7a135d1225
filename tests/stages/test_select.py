"""The selection step: whom to keep, and that kept persons come through bit-identical.

Unit tests use small synthetic instances (the rules are about instances, not pixels);
the integration tests use a real two-person COCO val2017 photo whose persons touch,
with ground-truth masks and with real YOLO masks, through the real refiner and inpainter.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.config import Config, build_stage
from remove_people.errors import UsageError
from remove_people.stages.detect.base import Frame, Instance
from remove_people.stages.select import SelectParams, Selector

TWO_TOUCHING = "000000231125.jpg"  # val2017, two persons whose ground-truth masks touch
TWO_TOUCHING_YOLO = "000000192699.jpg"  # val2017, two persons whose YOLO11n masks touch


def rect(shape: tuple[int, int], y0: int, x0: int, y1: int, x1: int, **kw) -> Instance:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return Instance(m, **kw)


def selector(**kw) -> Selector:
    return Selector(SelectParams(**kw))


SHAPE = (100, 200)


@pytest.fixture
def people() -> list[Instance]:
    return [
        rect(SHAPE, 10, 10, 90, 40, score=0.9),  # big, left (2400 px)
        rect(SHAPE, 40, 90, 60, 110, score=0.5),  # small, centre (400 px)
        rect(SHAPE, 20, 150, 80, 180, score=0.8),  # medium, right (1800 px)
    ]


def removed_ids(remove: list[Instance], people: list[Instance]) -> list[int]:
    return sorted(i for i, p in enumerate(people) if any(r is p for r in remove))


def test_default_removes_everyone_and_protects_nobody(people):
    remove, protect = selector().select(people, SHAPE)
    assert removed_ids(remove, people) == [0, 1, 2]
    assert protect is None


@pytest.mark.parametrize(
    "kw, removed",
    [
        ({"keep": "largest"}, [1, 2]),
        ({"keep": 2}, [1]),
        ({"keep": "2"}, [1]),
        ({"keep": 0}, [0, 1, 2]),
        ({"keep": "center"}, [0, 2]),
        ({"min_conf": 0.6}, [0, 2]),
        ({"min_person_area": 0.05}, [0, 2]),  # 400 / 20000 = 0.02 < 0.05: the small one stays
        ({"max_person_area": 0.1}, [1, 2]),  # 2400 / 20000 = 0.12 > 0.1: the big one stays
    ],
)
def test_keep_rules(people, kw, removed):
    remove, protect = selector(**kw).select(people, SHAPE)
    assert removed_ids(remove, people) == removed
    kept = [p for i, p in enumerate(people) if i not in removed]
    if kept:
        assert protect is not None and protect.sum() == sum(p.area for p in kept)
    else:
        assert protect is None


def test_keep_mask(people, tmp_path):
    region = np.zeros(SHAPE, np.uint8)
    region[70:75, 160:165] = 255  # inside the right-hand person only
    path = tmp_path / "keep.png"
    cv2.imwrite(str(path), region)
    remove, protect = selector(keep_mask=str(path)).select(people, SHAPE)
    assert removed_ids(remove, people) == [0, 1]
    assert protect is not None and protect[50, 165] and not protect[50, 20]
    # The mask's content is part of the cache identity, not just its path.
    ident = selector(keep_mask=str(path)).identity()
    region[0, 0] = 255
    cv2.imwrite(str(path), region)
    assert selector(keep_mask=str(path)).identity() != ident


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"keep": "tallest"}, ["--keep", "largest, center"]),
        ({"keep": -1}, ["--keep"]),
        ({"min_person_area": 1.5}, ["--min-person-area"]),
        ({"min_person_area": 0.5, "max_person_area": 0.2}, ["--min-person-area", "--max-person-area"]),
        ({"keep_mask": "/nonexistent/keep.png"}, ["/nonexistent/keep.png", "no such file"]),
    ],
)
def test_bad_settings_are_one_clear_line(kw, words):
    with pytest.raises(UsageError) as info:
        selector(**kw)
    msg = str(info.value)
    assert "\n" not in msg and all(w in msg for w in words)


def test_config_defaults_build_a_selector_that_removes_everyone(people):
    sel = Selector.from_config(Config.load())
    # Accessories go with their person by default (measured: docs/evaluation.md, "Removal against ground truth").
    assert sel.params.keep is None and sel.params.with_accessories is True
    assert removed_ids(sel.select(people, SHAPE)[0], people) == [0, 1, 2]


def test_refiner_never_eats_into_a_kept_person():
    shape = (120, 120)
    a = rect(shape, 20, 20, 100, 58)  # removed
    b = rect(shape, 20, 58, 100, 96)  # kept, touching a
    remove, protect = Selector(SelectParams(keep=1)).select([a, b], shape)  # equal areas: the first is kept
    assert len(remove) == 1
    kept = b if remove[0] is a else a
    hole = build_stage("refine", "morphology").refine(np.zeros(shape + (3,), np.uint8), remove, protect)
    assert not (hole > 0)[kept.mask].any()
    assert (hole > 0)[remove[0].mask].mean() > 0.99


# -- integration: a real multi-person photo -------------------------------------------------------


def coco_instances(shared: Path, file_name: str, categories: tuple[str, ...] = ("person",)) -> list[Instance]:
    """Ground-truth instances of one COCO image (non-crowd), labelled by category name."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(shared / "data/coco-person/annotations/instances.json"))
    img = next(i for i in coco.dataset["images"] if i["file_name"] == file_name)
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    out = []
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]], iscrowd=False)):
        name = names[ann["category_id"]]
        if name in categories:
            x, y, w, h = ann["bbox"]
            out.append(Instance(coco.annToMask(ann) > 0, 1.0, name, 0 if name == "person" else ann["category_id"], (x, y, x + w, y + h)))
    return out


def load_rgb(path: Path) -> np.ndarray:
    from remove_people.pipeline.image_reader import read_image

    return read_image(path).rgb


def test_kept_person_is_bit_identical_with_ground_truth_masks(shared):
    path = shared / "data/coco-person/images" / TWO_TOUCHING
    rgb = load_rgb(path)
    persons = coco_instances(shared, TWO_TOUCHING)
    assert len(persons) == 2
    # Their outlines touch: a plain dilation of either would cover part of the other.
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    assert (cv2.dilate(persons[0].mask.astype(np.uint8), k).astype(bool) & persons[1].mask).any()

    remove, protect = selector(keep="largest").select(persons, rgb.shape[:2])
    kept = max(persons, key=lambda p: p.area)
    gone = min(persons, key=lambda p: p.area)
    hole = build_stage("refine", "morphology").refine(rgb, remove, protect)
    out = build_stage("inpaint", "telea").inpaint(rgb, hole)

    assert np.array_equal(out[kept.mask], rgb[kept.mask])  # every kept pixel, bit for bit
    # ... while the removed person really changed (not a no-op pass).
    diff = np.abs(out.astype(int) - rgb.astype(int)).sum(axis=2)
    assert (diff[gone.mask] > 0).mean() > 0.5


def test_kept_person_is_bit_identical_end_to_end_with_yolo(shared, tmp_path):
    """Real YOLO masks, through the runner, written as PNG and read back."""
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.inputs import collect_inputs
    from remove_people.pipeline.runner import Pipeline

    src = tmp_path / "in"
    src.mkdir()
    (src / TWO_TOUCHING_YOLO).write_bytes((shared / "data/coco-person/images" / TWO_TOUCHING_YOLO).read_bytes())
    cfg = Config.load(overrides=["inpaint.plugin=telea", "run.format=png", "select.keep=largest", "detect.yolo.device=cpu"])
    pipe = Pipeline(cfg, cache=ArtifactCache(tmp_path / "cache"))
    try:
        instances = pipe.detector.detect([Frame(load_rgb(src / TWO_TOUCHING_YOLO), src / TWO_TOUCHING_YOLO, TWO_TOUCHING_YOLO)])[0]
        summary = pipe.run(collect_inputs(src), tmp_path / "out")
    finally:
        pipe.close()
    persons = [i for i in instances if i.is_person]
    assert len(persons) >= 2, "YOLO should find both persons"
    kept = max(persons, key=lambda p: p.area)
    rgb = load_rgb(src / TWO_TOUCHING_YOLO)
    out = load_rgb(tmp_path / "out" / Path(TWO_TOUCHING_YOLO).with_suffix(".png"))
    assert summary.exit_code() == 0
    assert np.array_equal(out[kept.mask], rgb[kept.mask])
    others = np.zeros(rgb.shape[:2], bool)
    for p in persons:
        if p is not kept:
            others |= p.mask & ~kept.mask
    diff = np.abs(out.astype(int) - rgb.astype(int)).sum(axis=2)
    assert (diff[others] > 0).mean() > 0.5
