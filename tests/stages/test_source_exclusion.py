"""Never copy a person into a hole: persons who stay are excluded from every fill's sources.

What is checked, on real COCO photos and masks where it matters:
- the selection marks every person who stays (kept, or outside the selection), grown, and
  never the hole itself;
- the inpainter base cuts, scales and pads the exclusion exactly like the image, and hands it
  only to plugins that copy from the photo (third-party plugins keep the old ``fill``);
- DeepFillv2's contextual attention borrows nothing from an excluded region;
- the pipeline stores the exclusion with the refined mask, so a cached re-run fills the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

from remove_people.config import Config
from remove_people.pipeline.cache import ArtifactCache
from remove_people.pipeline.inputs import collect_inputs
from remove_people.pipeline.runner import Pipeline
from remove_people.stages import INPAINTERS
from remove_people.stages.detect.base import Instance
from remove_people.stages.inpaint.base import CropParams, Inpainter
from remove_people.stages.select import SelectParams, Selector

PHOTO = "000000000790.jpg"


def _photo(shared: Path, name: str = PHOTO) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(shared / "data/coco-person/images" / name)), cv2.COLOR_BGR2RGB)


def _rect(shape: tuple[int, int], y0: int, x0: int, y1: int, x1: int, **kw) -> Instance:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return Instance(m, **kw)


class Recorder(Inpainter):
    """A copying inpainter stand-in: records what ``fill`` was handed, fills with grey."""

    name = "recorder-test"
    Params: ClassVar[type] = CropParams
    uses_exclude: ClassVar[bool] = True
    calls: ClassVar[list] = []

    def fill(self, images, holes, excludes=None):
        type(self).calls.append((images, holes, excludes))
        return [np.full_like(i, 128) for i in images]


class OldStyle(Recorder):
    """A third-party plugin written before exclusion existed: ``fill(images, holes)`` only."""

    name = "oldstyle-test"
    uses_exclude: ClassVar[bool] = False

    def fill(self, images, holes):  # type: ignore[override]
        type(self).calls.append((images, holes, None))
        return [np.full_like(i, 128) for i in images]


def test_selection_excludes_who_stays_grown_and_never_the_hole() -> None:
    shape = (100, 200)
    a = _rect(shape, 10, 10, 90, 40, score=0.9)
    b = _rect(shape, 20, 150, 80, 180, score=0.8)
    sel = Selector(SelectParams(keep="largest", exclude_grow=4))
    remove, protect = sel.select([a, b], shape)
    assert remove == [b]
    hole = np.zeros(shape, np.uint8)
    hole[15:85, 145:185] = 255
    ex = sel.source_exclusion([a, b], remove, hole)
    assert ex is not None and ex.dtype == np.uint8
    assert (ex[a.mask] == 255).all(), "the kept person must be excluded"
    assert ex[10:90, 43].all() and not ex[10:90, 45].any(), "grown by exclude_grow (4 px), no further"
    assert not ex[hole > 0].any(), "hole pixels are never marked"
    assert sel.source_exclusion([a, b], [a, b], hole) is None, "everyone removed: nothing to exclude"
    assert Selector(SelectParams(keep="largest", exclude_sources=False)).source_exclusion([a, b], remove, hole) is None
    # A person below the removal confidence stays in the photo, so it is excluded too.
    low = Selector(SelectParams(min_conf=0.85, exclude_grow=0))
    remove, _ = low.select([a, b], shape)
    assert remove == [a]
    ex = low.source_exclusion([a, b], remove, np.zeros(shape, np.uint8))
    assert ex is not None and np.array_equal(ex > 0, b.mask)


def test_identity_follows_the_exclusion_settings() -> None:
    on = Selector(SelectParams()).identity()
    assert on != Selector(SelectParams(exclude_sources=False)).identity()
    assert on != Selector(SelectParams(exclude_grow=3)).identity()


@pytest.mark.parametrize("max_side, pad", [(None, 1), (97, 8)])
def test_base_cuts_scales_and_pads_the_exclusion_like_the_image(shared, max_side, pad) -> None:
    img = _photo(shared)
    h, w = img.shape[:2]
    hole = np.zeros((h, w), np.uint8)
    cv2.ellipse(hole, (w // 2, h // 2), (40, 90), 0, 0, 360, 255, -1)
    exclude = np.zeros((h, w), np.uint8)
    exclude[h // 2 - 60 : h // 2 + 60, w // 2 + 45 : w // 2 + 90] = 255  # a person beside the hole
    # Paint the excluded pixels a colour found nowhere else, so each crop shows where they went.
    marked = img.copy()
    marked[exclude > 0] = (255, 0, 255)
    Recorder.calls = []
    inp = Recorder(CropParams(strategy="crop", margin=0.5, min_margin=32, max_side=max_side, feather=0))
    type(inp).pad_multiple = pad
    try:
        out = inp.inpaint(marked, hole, exclude)
    finally:
        type(inp).pad_multiple = 1
    assert np.array_equal(out[hole == 0], marked[hole == 0])
    (images, holes, excludes), = Recorder.calls
    assert excludes is not None and len(excludes) == len(images) == 1
    crop, crop_hole, crop_ex = images[0], holes[0], excludes[0]
    assert crop.shape[0] % pad == 0 and crop.shape[1] % pad == 0
    assert crop_ex.shape == crop_hole.shape == crop.shape[:2]
    magenta = (np.abs(crop.astype(int) - (255, 0, 255)).sum(axis=2) < 60) & (crop_hole == 0)
    assert magenta.any()
    assert (crop_ex[magenta] == 255).all(), "every excluded pixel of the crop (scaled, padded) stays excluded"
    assert not (crop_ex[crop_hole > 0]).any()


def test_plugins_that_do_not_copy_keep_the_old_fill(shared) -> None:
    img = _photo(shared)[:200, :300].copy()
    hole = np.zeros(img.shape[:2], np.uint8)
    hole[50:150, 100:160] = 255
    exclude = np.zeros_like(hole)
    exclude[50:150, 170:200] = 255
    OldStyle.calls = []
    out = OldStyle(CropParams("crop", 0.5, 32, None, 0)).inpaint(img, hole, exclude)
    assert len(OldStyle.calls) == 1 and np.array_equal(out[hole == 0], img[hole == 0])


def test_contextual_attention_borrows_nothing_from_an_excluded_region() -> None:
    torch = pytest.importorskip("torch")
    from remove_people.models.deepfillv2 import ContextualAttention

    g = torch.Generator().manual_seed(0)
    n, c, h, w = 1, 8, 32, 32  # features at 1/4 of a 128 x 128 crop
    feats = torch.randn(n, c, h, w, generator=g)
    mask = torch.zeros(n, 1, 128, 128)
    mask[..., 40:88, 40:88] = 1.0  # the hole
    exclude = torch.zeros(n, 1, 128, 128)
    exclude[..., 0:128, 112:128] = 1.0  # a person who stays, right edge (feature columns 28+)
    attn = ContextualAttention("tf")
    base = attn(feats, mask, exclude)
    changed = feats.clone()
    # Features under the excluded pixels change (the hole's own neighbourhood does not reach them).
    changed[..., :, 28:] += 5.0 * torch.randn(n, c, h, 4, generator=g)
    again = attn(changed, mask, exclude)
    hole_cells = (slice(None), slice(None), slice(10, 22), slice(10, 22))
    assert torch.allclose(base[hole_cells], again[hole_cells], atol=1e-5), "the hole borrowed from the excluded region"
    # Without the exclusion the same change does reach the hole: the test can fail.
    free = attn(feats, mask)
    free2 = attn(changed, mask)
    assert not torch.allclose(free[hole_cells], free2[hole_cells], atol=1e-3)


def test_pipeline_hands_the_kept_person_to_the_fill_and_caches_it(shared, tmp_path) -> None:
    """COCO masks of a two-person photo, keep the larger: the fill gets the kept person as excluded,
    and a cached re-run hands over the very same exclusion."""
    import json

    ann = json.loads((shared / "data/coco-person/annotations/instances.json").read_text())
    name = "000000231125.jpg"  # val2017: two persons whose ground-truth masks touch
    src = tmp_path / "in"
    src.mkdir()
    (src / name).write_bytes((shared / "data/coco-person/images" / name).read_bytes())
    INPAINTERS.register(Recorder)
    try:
        cfg = Config.load(overrides=[
            f"detect.masks.path={shared / 'data/coco-person/annotations/instances.json'}",
            "run.inpaint_workers=0",
        ])
        cfg.select("detect", "masks")
        cfg.select("inpaint", Recorder.name)
        cfg.data["inpaint"][Recorder.name] = {"strategy": "full", "margin": 0.5, "min_margin": 32, "max_side": None, "feather": 0}
        cfg.data["select"]["keep"] = "largest"
        cache = ArtifactCache(tmp_path / "cache")
        outs = []
        for _ in range(2):
            Recorder.calls = []
            pipe = Pipeline(cfg, cache=ArtifactCache(tmp_path / "cache"))
            summary = pipe.run(collect_inputs(src), tmp_path / f"out{len(outs)}")
            pipe.close()
            assert summary.exit_code() == 0, summary.failures
            outs.append(Recorder.calls)
            cache = ArtifactCache(tmp_path / "cache")
            cache.clear(("inpaint",))  # the mask (and its exclusion) stays cached; the fill runs again
        first, second = outs
        assert len(first) == len(second) == 1
        ex1, ex2 = first[0][2][0], second[0][2][0]
        assert np.array_equal(ex1, ex2), "the cached exclusion differs from the computed one"
        # The kept person is the larger COCO person of the photo: all of it is excluded.
        from pycocotools import mask as mask_utils

        img_id = next(i["id"] for i in ann["images"] if i["file_name"].endswith(name))
        persons = [a for a in ann["annotations"] if a["image_id"] == img_id and a["category_id"] == 1 and not a.get("iscrowd")]
        h, w = ex1.shape
        masks = []
        for a in persons:
            rle = mask_utils.frPyObjects(a["segmentation"], h, w)
            masks.append(mask_utils.decode(mask_utils.merge(rle) if isinstance(rle, list) else rle).astype(bool))
        kept = max(masks, key=lambda m: m.sum())
        hole = first[0][1][0] > 0
        assert (ex1[kept & ~hole] == 255).all()
        assert not ex1[hole].any()
    finally:
        INPAINTERS._objects.pop(Recorder.name, None)
