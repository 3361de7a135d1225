"""Issue 15's promise on a real photo: a person who stays is never copied into a hole.

COCO val2017 000000231125 shows two persons whose ground-truth masks touch. The larger is
kept (``--keep largest``), the other removed, through the real selection, the real
morphology refiner and the default fill (our PatchMatch). Every match the fill settles on at
full resolution is recorded: none may cover a pixel of the kept person (grown by
``select.exclude_grow``). Without the exclusion, matches do land on the kept person, so the
test can fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.config import build_stage
from remove_people.fill.kernels_numba import NumbaKernels
from remove_people.stages.detect.base import Instance
from remove_people.stages.select import SelectParams, Selector

PHOTO = "000000231125.jpg"


class RecordingKernels(NumbaKernels):
    """The real kernels; every NNF the search returns is kept with its level's shape and patch radius."""

    def __init__(self, threads: int) -> None:
        super().__init__(threads)
        self.nnfs: list[tuple[tuple[int, int], int, np.ndarray]] = []

    def search(self, img, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt):  # noqa: ANN001, ANN201
        nnf, dist = super().search(img, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt)
        self.nnfs.append((wgt.shape, r, nnf.copy()))
        return nnf, dist


def _persons(shared: Path, shape: tuple[int, int]) -> list[Instance]:
    from pycocotools import mask as mask_utils

    ann = json.loads((shared / "data/coco-person/annotations/instances.json").read_text())
    img_id = next(i["id"] for i in ann["images"] if i["file_name"].endswith(PHOTO))
    out = []
    for a in ann["annotations"]:
        if a["image_id"] == img_id and a["category_id"] == 1 and not a.get("iscrowd"):
            rle = mask_utils.frPyObjects(a["segmentation"], *shape)
            rle = mask_utils.merge(rle) if isinstance(rle, list) else rle
            out.append(Instance(mask_utils.decode(rle).astype(bool)))
    return out


def _fill_recording(stage, rgb, hole, exclude):  # noqa: ANN001, ANN202
    """Run ``stage.inpaint`` with recording kernels; returns (result, [(crop exclude, finest NNFs)])."""
    rec = RecordingKernels(threads=2)
    stage._kernels = rec
    seen: list[tuple[np.ndarray | None, tuple[int, int]]] = []
    fill = stage.fill

    def spy(images, holes, excludes=None):  # noqa: ANN001, ANN202
        seen.extend((e, h.shape) for e, h in zip(excludes or [None] * len(holes), holes))
        return fill(images, holes, excludes=excludes)

    stage.fill = spy
    out = stage.inpaint(rgb, hole, exclude)
    crops = []
    for ex, shape in seen:
        finest = [(r, nnf) for s, r, nnf in rec.nnfs if s == shape]
        crops.append((ex, finest))
    return out, crops


def _touches(region: np.ndarray, finest: list[tuple[int, np.ndarray]]) -> int:
    """How many (match, offset) pairs of the finest-level NNFs land on ``region``."""
    h, w = region.shape
    hits = 0
    for r, nnf in finest:
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                ys = np.clip(nnf[:, 0] + dy, 0, h - 1)
                xs = np.clip(nnf[:, 1] + dx, 0, w - 1)
                hits += int(region[ys, xs].sum())
    return hits


@pytest.fixture(scope="module")
def scene(shared: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rgb = cv2.cvtColor(cv2.imread(str(shared / "data/coco-person/images" / PHOTO)), cv2.COLOR_BGR2RGB)
    persons = _persons(shared, rgb.shape[:2])
    assert len(persons) == 2
    selector = Selector(SelectParams(keep="largest"))
    remove, protect = selector.select(persons, rgb.shape[:2])
    hole = build_stage("refine", "morphology").refine(rgb, remove, protect)
    exclude = selector.source_exclusion(persons, remove, hole)
    kept = max(persons, key=lambda p: p.area).mask
    assert exclude is not None and (exclude[kept & (hole == 0)] == 255).all()
    return rgb, hole, exclude, kept


def test_the_kept_person_is_never_a_source_of_the_default_fill(scene) -> None:
    rgb, hole, exclude, kept = scene
    stage = build_stage("inpaint")  # the default inpainter
    assert stage.name == "patchmatch" and stage.uses_exclude
    out, crops = _fill_recording(stage, rgb, hole, exclude)
    assert np.array_equal(out[hole == 0], rgb[hole == 0])
    assert crops and all(ex is not None for ex, _ in crops)
    for ex, finest in crops:
        assert finest, "the fill recorded no full-resolution search"
        assert _touches(ex > 0, finest) == 0, "a match's patch covers the kept person"


def test_without_the_exclusion_the_kept_person_would_be_copied(scene) -> None:
    """The same fill with no exclusion takes patches from the kept person: the test above can fail."""
    rgb, hole, exclude, _ = scene
    stage = build_stage("inpaint")
    _, with_ex = _fill_recording(stage, rgb, hole, exclude)
    stage = build_stage("inpaint")
    _, without = _fill_recording(stage, rgb, hole, None)
    # The crops are the same windows; the second run's matches land on the (then not excluded) person.
    assert len(with_ex) == len(without)
    assert sum(_touches(ex > 0, finest) for (ex, _), (_, finest) in zip(with_ex, without)) > 0
