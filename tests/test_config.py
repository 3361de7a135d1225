"""Config loading: defaults from configs/default.yaml, --config overlays, --set overrides, clear errors."""

from __future__ import annotations

import pytest

from remove_people.config import Config, build_stage
from remove_people.errors import UsageError


def test_set_targets_the_selected_plugin() -> None:
    cfg = Config.load(overrides=["refine.dilate=25", "inpaint.patch_size=7"])
    assert cfg.plugin_params("refine")["dilate"] == 25
    assert cfg.plugin_params("inpaint", "patchmatch")["patch_size"] == 7
    with pytest.raises(UsageError, match="patchmatch has no parameter 'radius'; valid: .*patch_size"):
        cfg.set("inpaint.radius=3")
    cfg.select("inpaint", "telea")
    cfg.set("inpaint.radius=7")
    assert cfg.plugin_params("inpaint", "telea")["radius"] == 7
    stage = build_stage("inpaint", "telea", config=cfg)
    assert stage.params.radius == 7


def test_explicit_plugin_path_and_run_section() -> None:
    cfg = Config.load(overrides=["refine.morphology.close=0", "run.batch_size=3"])
    assert cfg.plugin_params("refine")["close"] == 0
    assert cfg.run["batch_size"] == 3


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("refine.dilat=3", "valid: dilate, dilate_frac"),
        ("run.bogus=1", "valid: batch_size"),
        ("nosection.x=1", "valid: run"),
        ("refine", "expected SECTION.KEY=VALUE"),
    ],
)
def test_unknown_keys_list_the_valid_ones(override: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        Config.load(overrides=[override])


def test_config_file_overlay(tmp_path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("refine:\n  morphology:\n    dilate: 40\ninpaint:\n  plugin: telea\n")
    cfg = Config.load([f])
    assert cfg.plugin_params("refine")["dilate"] == 40 and cfg.plugin_name("inpaint") == "telea"
    bad = tmp_path / "bad.yaml"
    bad.write_text("refine:\n  morphology:\n    dilatation: 40\n")
    with pytest.raises(UsageError, match="unknown config key refine.morphology.dilatation"):
        Config.load([bad])


def test_unknown_plugin_lists_valid_names() -> None:
    with pytest.raises(UsageError, match="valid inpainters: .*patchmatch.*telea"):
        build_stage("inpaint", "no-such-fill")


def test_bad_value_type_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="telea.radius = 'abc': expected an integer from 1 to 256"):
        build_stage("inpaint", "telea", radius="abc")
