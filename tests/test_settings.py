"""Typed, bounded settings: defaults live beside their bounds, ``default.yaml`` agrees with them, and a
third-party plugin with no YAML section builds from its dataclass alone."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from remove_people.config import Config, build_stage, default_config_path, load_yaml
from remove_people.errors import UsageError
from remove_people.sections import section_schemas
from remove_people.settings import bounds_of, check_field, defaults_of, fields_of, param
from remove_people.stages import INPAINTERS, REGISTRIES
from remove_people.stages.inpaint.base import CropParams, Inpainter


def _builtin_plugins() -> list[tuple[str, str, type]]:
    out = []
    for stage, reg in REGISTRIES.items():
        for name in reg.names():
            out.append((stage, name, reg.get(name).Params))
    return out


@pytest.mark.parametrize("stage, name, params", _builtin_plugins(), ids=lambda v: v if isinstance(v, str) else "")
def test_default_yaml_shows_each_plugins_dataclass_defaults(stage: str, name: str, params: type) -> None:
    """One source of truth: the YAML section lists exactly the dataclass's fields, with the same values."""
    yaml_section = load_yaml(default_config_path())[stage].get(name, {})
    assert set(yaml_section) == set(fields_of(params)), f"{stage}.{name}: YAML keys differ from {params.__name__}'s fields"
    defaults = defaults_of(params)
    for key, value in yaml_section.items():
        assert key in defaults, f"{params.__name__}.{key} has no default"
        assert value == defaults[key], f"{stage}.{name}.{key}: YAML says {value!r}, {params.__name__} says {defaults[key]!r}"


@pytest.mark.parametrize("section", ["run", "models", "select", "eval", "executor"])
def test_default_yaml_agrees_with_the_section_schemas(section: str) -> None:
    yaml_section = load_yaml(default_config_path())[section]
    schema = section_schemas()[section]

    def same(a: object, b: object, where: str) -> None:
        if isinstance(a, dict):
            assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
            for k in a:
                same(a[k], b[k], f"{where}.{k}")
        else:
            assert a == b, f"{where}: YAML {a!r} vs schema {b!r}"

    same(yaml_section, defaults_of(schema), section)


def _numeric_fields():
    classes = [p for _, _, p in _builtin_plugins()] + list(section_schemas().values())
    for cls in classes:
        for f in dataclasses.fields(cls):
            nested = f.metadata.get("section")
            for g in dataclasses.fields(nested) if nested else [f]:
                text = str(g.type)
                if ("int" in text or "float" in text) and "Any" not in text:
                    yield f"{cls.__name__}.{f.name}" + (f".{g.name}" if nested else ""), g


@pytest.mark.parametrize("where, f", list(_numeric_fields()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_numeric_setting_has_a_sane_range(where: str, f: dataclasses.Field) -> None:
    """A number without bounds is how refine.dilate=100000 asked for 40 GB."""
    b = bounds_of(f)
    assert b.lo is not None and b.hi is not None, f"{where} has no range"
    with pytest.raises(UsageError, match="expected"):
        check_field(f, b.hi * 10 + 1, where)
    if "str" not in str(f.type):  # (a COCO category may be a name or an id)
        with pytest.raises(UsageError, match="expected"):
            check_field(f, "abc", where)
    if "float" in str(f.type):
        nan = [math.nan] * (b.length or 1) if "list" in str(f.type) else math.nan
        with pytest.raises(UsageError, match="finite"):
            check_field(f, nan, where)


def test_crop_keys_are_written_once_and_are_the_crop_dataclass_defaults() -> None:
    """The five crop keys stand once in default.yaml (the ``x-crop`` anchor every inpaint section merges),
    equal to ``CropParams``'s defaults; ``x-`` keys never become config sections."""
    import yaml

    text = default_config_path().read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert raw["x-crop"] == defaults_of(CropParams)
    assert text.count("\n    <<: *crop") == len(raw["inpaint"]) - 1  # every plugin section but `plugin:`
    assert "min_margin: 32" not in text.split("x-crop:")[1].split("inpaint:")[1]  # no section repeats a default
    assert "x-crop" not in load_yaml(default_config_path()) and "x-crop" not in Config.load().data


def test_a_user_config_may_merge_anchors_too(tmp_path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("x-wide: &wide {margin: 1.5, min_margin: 64}\ninpaint:\n  telea: {<<: *wide, radius: 3}\n")
    cfg = Config.load([f])
    assert cfg.plugin_params("inpaint", "telea") == {**defaults_of(CropParams), "margin": 1.5, "min_margin": 64, "radius": 3}


def test_values_are_converted_once_and_typed() -> None:
    cfg = Config.load(overrides=["refine.dilate=12.0", "run.quality=85", "inpaint.margin=1", "run.inpaint_workers=3", "run.format=PNG"])
    assert cfg.plugin_params("refine")["dilate"] == 12 and isinstance(cfg.plugin_params("refine")["dilate"], int)
    assert isinstance(cfg.plugin_params("inpaint")["margin"], float)
    assert cfg.run["inpaint_workers"] == 3 and cfg.run["format"] == "png"


def test_config_file_values_are_checked_and_name_the_file(tmp_path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("refine:\n  morphology:\n    dilate: 100000\n")
    with pytest.raises(UsageError, match=r"mine.yaml: refine.morphology.dilate = 100000: expected an integer from 0 to 512"):
        Config.load([f])


@dataclass
class _BlurParams(CropParams):
    """A third party's parameters: its own, with defaults; the crop ones inherited with theirs."""

    strength: int = param(3, lo=1, hi=31)


class _BlurInpainter(Inpainter):
    name = "blur-test"
    summary = "fills holes with a blur (test plugin)"
    Params: ClassVar[type] = _BlurParams

    def fill(self, images, holes):  # noqa: ANN001
        import cv2

        k = 2 * self.params.strength + 1
        return [cv2.blur(img, (k, k)) for img in images]


def test_third_party_inpainter_without_yaml_section_builds_from_its_defaults() -> None:
    INPAINTERS.register(_BlurInpainter)
    try:
        stage = build_stage("inpaint", "blur-test")
        assert stage.params.strength == 3 and stage.params.strategy == "crop" and stage.params.margin == 0.5
        cfg = Config.load(overrides=["inpaint.plugin=blur-test", "inpaint.strength=5"])
        assert build_stage("inpaint", config=cfg).params.strength == 5
        with pytest.raises(UsageError, match="inpaint.strength=99: expected an integer from 1 to 31"):
            Config.load(overrides=["inpaint.plugin=blur-test", "inpaint.strength=99"])
        img = np.full((40, 40, 3), 100, np.uint8)
        img[10:30, 10:30] = 0
        hole = np.zeros((40, 40), np.uint8)
        hole[15:25, 15:25] = 255
        out = build_stage("inpaint", config=cfg).inpaint(img, hole)
        assert np.array_equal(out[hole == 0], img[hole == 0])
    finally:
        INPAINTERS._objects.pop("blur-test", None)
