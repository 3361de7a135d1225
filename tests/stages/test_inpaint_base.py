"""The inpainter base class: windows around holes, scaling, padding, hole-only paste-back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from remove_people.config import build_stage
from remove_people.stages.inpaint.base import hole_regions


def _photo(shared, name: str = "000000000790.jpg") -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(shared / "data/coco-person/images" / name)), cv2.COLOR_BGR2RGB)


def test_regions_are_disjoint_and_cover_every_hole() -> None:
    rng = np.random.default_rng(1)
    mask = np.zeros((300, 400), np.uint8)
    for _ in range(12):
        y, x = rng.integers(0, 280), rng.integers(0, 380)
        mask[y : y + rng.integers(3, 30), x : x + rng.integers(3, 30)] = 255
    regions = hole_regions(mask, margin=0.5, min_margin=8)
    cover = np.zeros(mask.shape, np.int32)
    for r in regions:
        cover[r.y0 : r.y1, r.x0 : r.x1] += 1
    assert cover.max() == 1, "windows overlap"
    assert (cover[mask > 0] == 1).all(), "a hole pixel lies outside every window"


@pytest.mark.parametrize("name", ["telea", "ns", "patchmatch", "pypatchmatch"])
@pytest.mark.parametrize("strategy", ["crop", "full"])
def test_only_hole_pixels_change(shared, name: str, strategy: str) -> None:
    img = _photo(shared)[:200, :300].copy()
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(mask, (150, 100), (30, 60), 0, 0, 360, 255, -1)
    cv2.circle(mask, (20, 20), 8, 255, -1)
    out = build_stage("inpaint", name, strategy=strategy).inpaint(img, mask)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[mask == 0], img[mask == 0])
    # The fill must actually replace the content (the ellipse covers varied texture).
    assert np.abs(out[mask > 0].astype(int) - img[mask > 0]).mean() > 2


def test_scaling_and_padding_keep_the_promise(shared) -> None:
    """A window scaled down to max_side and padded to a multiple still pastes back hole pixels only."""
    img = _photo(shared)
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[100:331, 200:377] = 255
    inp = build_stage("inpaint", "telea", max_side=97)
    type(inp).pad_multiple = 8
    try:
        out = inp.inpaint(img, mask)
    finally:
        type(inp).pad_multiple = 1
    assert np.array_equal(out[mask == 0], img[mask == 0])
    assert np.abs(out[mask > 0].astype(int) - img[mask > 0]).mean() > 2


def test_no_hole_returns_a_copy(shared) -> None:
    img = _photo(shared)[:64, :64].copy()
    out = build_stage("inpaint", "patchmatch").inpaint(img, np.zeros((64, 64), np.uint8))
    assert np.array_equal(out, img) and out is not img


def test_feather_stays_inside_the_hole(shared) -> None:
    img = _photo(shared)[:200, :300].copy()
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[50:150, 100:200] = 255
    out = build_stage("inpaint", "telea", feather=6).inpaint(img, mask)
    assert np.array_equal(out[mask == 0], img[mask == 0])


def test_patchmatch_hole_budget_scales_big_holes_only(shared) -> None:
    """``max_hole_pixels`` shrinks only windows whose hole is over budget, by the area ratio,
    and the filled photo still changes hole pixels only."""
    pm = build_stage("inpaint", "pypatchmatch", max_hole_pixels=4000)
    assert pm.window_scale(480, 640, 3999) == 1.0
    assert pm.window_scale(480, 640, 16000) == pytest.approx(0.5)
    assert build_stage("inpaint", "pypatchmatch").window_scale(480, 640, 10**6) == 1.0  # default: no budget
    assert build_stage("inpaint", "pypatchmatch", max_side=320, max_hole_pixels=10**6).window_scale(480, 640, 10) == 0.5

    img = _photo(shared)[:240, :320].copy()
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(mask, (160, 120), (40, 80), 0, 0, 360, 255, -1)  # ~10,000 px: 2.5x the budget
    prep = pm._prepare(img, mask, hole_regions(mask, 0.5, 32)[0])
    crop, crop_hole, scale = prep.image, prep.hole, prep.scale
    assert scale == pytest.approx((4000 / np.count_nonzero(mask)) ** 0.5, rel=0.02)
    assert np.count_nonzero(crop_hole) >= 4000 * 0.95  # scaled, yet never shrinks the hole itself
    out = pm.inpaint(img, mask)
    full = build_stage("inpaint", "pypatchmatch").inpaint(img, mask)
    assert np.array_equal(out[mask == 0], img[mask == 0])
    assert np.abs(out[mask > 0].astype(int) - img[mask > 0]).mean() > 2
    assert not np.array_equal(out, full)  # the budget really changed how it was filled
