"""Feathered paste-back: a ramp inside the hole edge, never outside it, and reachable from the CLI.

On a real scene from ../shared/data/scenes, with the hole's core corrupted (as a person
would be) and its outer ring left as true background (as the refiner's dilation leaves it),
feathering must not change a single pixel outside the hole and must bring the edge band
closer to the ground truth; with the whole hole corrupted it must do the opposite, which is
why ``feather`` stays 0 by default.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from remove_people.config import Config, build_stage
from remove_people.evaluation.seams import corrupt, edge_band
from remove_people.stages.inpaint.base import blend_into_hole

SCENE = "migan_object_12"  # 512x340, a 6 % object hole: fast with telea


@pytest.fixture(scope="module")
def scene(shared):
    root = shared / "data/scenes"
    rgb = cv2.imread(str(root / f"images/{SCENE}.png"))
    hole = (cv2.imread(str(root / f"masks/{SCENE}.png"), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8) * 255
    return rgb[:, :, ::-1].copy(), hole


def band_l1(out: np.ndarray, gt: np.ndarray, hole: np.ndarray) -> float:
    return float(np.abs(out.astype(np.float32) - gt.astype(np.float32)).mean(axis=2)[edge_band(hole, 8)].mean())


def test_feather_stays_inside_the_hole_and_helps_when_the_ring_is_background(scene):
    gt, hole = scene
    inp = corrupt(gt, hole, ring=9)
    hard = build_stage("inpaint", "telea", feather=0).inpaint(inp, hole)
    soft = build_stage("inpaint", "telea", feather=8).inpaint(inp, hole)
    outside = hole == 0
    assert np.array_equal(soft[outside], inp[outside])
    assert np.array_equal(soft, blend_into_hole(inp, hard, hole, 8))  # the benchmark's shortcut is exact
    assert band_l1(soft, gt, hole) < 0.9 * band_l1(hard, gt, hole)


def test_feather_hurts_when_the_hole_edge_is_foreground(scene):
    gt, hole = scene
    inp = corrupt(gt, hole, ring=0)
    hard = build_stage("inpaint", "telea", feather=0).inpaint(inp, hole)
    soft = build_stage("inpaint", "telea", feather=8).inpaint(inp, hole)
    assert band_l1(soft, gt, hole) > band_l1(hard, gt, hole)


def test_cli_feather_shadows_and_accessories_reach_the_config(monkeypatch, tmp_path):
    """The run options set the documented config keys (checked on the config the runner gets)."""
    import remove_people.cli as cli
    import remove_people.commands.run as run_command

    seen = {}

    def fake_run(cfg, inputs, out_dir, console, quiet, verbose):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(run_command, "_run_with_progress", fake_run)
    (tmp_path / "in").mkdir()
    img = tmp_path / "in" / "a.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    code = cli.main(["run", str(img), "--out", str(tmp_path / "o"), "-i", "telea", "--feather", "6", "--shadows", "--with-accessories"])
    assert code == 0
    cfg: Config = seen["cfg"]
    assert cfg.data["inpaint"]["telea"]["feather"] == 6
    assert cfg.data["refine"]["morphology"]["shadows"] is True
    assert cfg.data["select"]["with_accessories"] is True
    assert {0, 26, 35, 67} <= set(cfg.data["detect"]["yolo"]["classes"])
    code = cli.main(["run", str(img), "--out", str(tmp_path / "o"), "--refiner", "none", "--shadows"])
    assert code == 2


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_no_feather_pastes_the_same_bytes_as_the_blend_formula(dtype: type) -> None:
    """``feather=0`` skips the full-window float blend; it must give what the formula gives with alpha 1."""
    rng = np.random.default_rng(3)
    original = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    fill = rng.uniform(-20, 275, (40, 50, 3)).astype(dtype) if dtype != np.uint8 else rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    fill[0, :3] = np.array([2.5, 3.5, 254.5])[:, None] if dtype != np.uint8 else fill[0, :3]  # ties round to even
    hole = np.zeros((40, 50), np.uint8)
    hole[5:30, 10:45] = 255
    hole[0, :3] = 255
    alpha = (hole > 0).astype(np.float32)[..., None]
    want = original.copy()
    formula = np.clip(np.rint(alpha * fill.astype(np.float32) + (1.0 - alpha) * original.astype(np.float32)), 0, 255).astype(np.uint8)
    want[hole > 0] = formula[hole > 0]
    assert np.array_equal(blend_into_hole(original, fill, hole, 0), want)
