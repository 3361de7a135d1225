"""Choosing the executor on the command line, without running any model.

Ray is optional: with it missing, ``--executor ray`` must end in one line that says
how to install it (exit 2), before any input is read or any output written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from remove_people.cli import main
from remove_people.config import Config
from remove_people.errors import UsageError
from remove_people.pipeline.executors import LocalExecutor, apply_executor_options, make_executor


@pytest.fixture()
def one_image(shared: Path) -> Path:
    return shared / "data" / "coco-person" / "images" / "000000000139.jpg"


def test_executor_ray_without_ray_says_how_to_install(one_image: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    for name in list(sys.modules):
        if name == "ray" or name.startswith("ray."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    out = tmp_path / "out"
    code = main(["run", str(one_image), "--out", str(out), "--executor", "ray", "--inpainter", "telea", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0
    assert "pip install 'remove-people[ray]'" in err
    assert not out.exists()


def test_unknown_executor_is_a_usage_error(one_image: Path, tmp_path: Path, capsys) -> None:
    code = main(["run", str(one_image), "--out", str(tmp_path / "o"), "--executor", "spark", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "valid executors: local, ray" in err and err.count("\n") == 0


def test_ray_only_options_need_executor_ray(one_image: Path, tmp_path: Path, capsys) -> None:
    code = main(["run", str(one_image), "--out", str(tmp_path / "o"), "--ray-address", "auto", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "need --executor ray" in err


def test_stage_options_land_in_the_config() -> None:
    pytest.importorskip("ray")
    cfg = Config.load()
    assert apply_executor_options(cfg, "ray", "auto", ["detect=3", "inpaint=2"], ["detect=4"]) == "ray"
    ray_cfg = cfg.data["executor"]["ray"]
    assert ray_cfg["address"] == "auto"
    assert (ray_cfg["detect"]["concurrency"], ray_cfg["inpaint"]["concurrency"], ray_cfg["detect"]["batch_size"]) == (3, 2, 4)
    with pytest.raises(UsageError, match="STAGE=N"):
        apply_executor_options(Config.load(), "ray", None, ["paint=2"], None)


def test_local_is_the_default() -> None:
    assert isinstance(make_executor(Config.load()), LocalExecutor)
