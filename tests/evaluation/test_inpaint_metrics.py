"""Metrics on real photos: known values for identical and shifted images, hole vs whole image, LPIPS from our weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from remove_people.evaluation.data import load_hole, load_rgb
from remove_people.evaluation.inpaint_metrics import LpipsMetric, mean_scores, pixel_scores, score_image


@pytest.fixture(scope="module")
def scene(shared: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = shared / "data" / "scenes"
    truth = load_rgb(d / "images" / "migan_object_03.png")
    hole = load_hole(d / "masks" / "migan_object_03.png", truth.shape[:2])
    migan = load_rgb(d / "migan_results" / "migan_object_03.png")
    return truth, hole, migan


def test_identical_images_score_perfectly(scene) -> None:
    truth, hole, _ = scene
    s = score_image(truth, truth.copy(), hole)
    assert s["hole.l1"] == 0 and s["image.l1"] == 0
    assert math.isinf(s["hole.psnr"]) and math.isinf(s["image.psnr"])
    assert s["hole.ssim"] == pytest.approx(1.0) and s["image.ssim"] == pytest.approx(1.0)
    assert s["hole.lpips"] == pytest.approx(0.0, abs=1e-6) and s["image.lpips"] == pytest.approx(0.0, abs=1e-6)


def test_constant_offset_in_hole_gives_exact_l1_and_psnr(scene) -> None:
    truth, hole, _ = scene
    out = truth.astype(np.int16)
    m = hole > 0
    out[m] = np.clip(out[m] + 10, 0, 255)
    out = out.astype(np.uint8)
    diff = np.abs(out.astype(float) - truth)[m]
    s = pixel_scores(truth, out, hole)
    assert s["hole.l1"] == pytest.approx(diff.mean() / 255)
    assert s["hole.psnr"] == pytest.approx(10 * math.log10(255**2 / (diff**2).mean()))
    # Outside the hole nothing changed, so the whole-image error is the hole's, diluted by its share.
    assert s["image.l1"] == pytest.approx(s["hole.l1"] * m.mean(), rel=1e-9)


def test_peer_result_scores_are_plausible_and_hole_is_harder(scene) -> None:
    """MI-GAN's published result: changed only in the hole, so the hole scores are the worse ones."""
    truth, hole, migan = scene
    assert np.array_equal(truth[hole == 0], migan[hole == 0])
    s = score_image(truth, migan, hole)
    assert 0.0 < s["hole.l1"] < 0.2 and s["image.l1"] < s["hole.l1"]
    assert 12 < s["hole.psnr"] < s["image.psnr"]
    assert s["hole.ssim"] < s["image.ssim"] < 1
    assert 0.05 < s["image.lpips"] < s["hole.lpips"] < 1


def test_lpips_uses_our_alexnet_file(shared: Path) -> None:
    """The trunk equals the shared file's tensors (not lpips' random init), and the map's mean is LPIPS."""
    import torch

    m = LpipsMetric.shared()
    state = torch.load(shared / "weights" / "alexnet_features.pth", map_location="cpu", weights_only=True)
    net = m.model.net.state_dict()
    assert torch.equal(net["slice1.0.weight"], state["features.0.weight"])
    assert torch.equal(net["slice5.10.bias"], state["features.10.bias"])
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    assert m.distance_map(a, b).mean() > m.distance_map(a, a).mean() + 0.01


def test_mean_scores_skips_infinite_psnr() -> None:
    got = mean_scores([{"hole.psnr": math.inf, "hole.l1": 0.0}, {"hole.psnr": 20.0, "hole.l1": 0.2}])
    assert got == {"hole.psnr": 20.0, "hole.l1": pytest.approx(0.1)}
