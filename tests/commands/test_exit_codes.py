"""The README's exit codes, one test each: 0 all done, 1 some inputs failed, 2 usage error or nothing
could start (missing weights), 130 interrupted (and what the closing message promises then)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.cli import main


@pytest.fixture()
def folder(tmp_path: Path, shared: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for p in sorted((shared / "data/coco-person/images").glob("*.jpg"))[:2]:
        cv2.imwrite(str(d / (p.stem + ".png")), cv2.imread(str(p)))
    return d


@pytest.fixture()
def hole(tmp_path: Path) -> Path:
    m = np.zeros((64, 64), np.uint8)
    m[20:40, 20:40] = 255
    p = tmp_path / "hole.png"
    cv2.imwrite(str(p), m)
    return p


def _args(folder: Path, hole: Path, out: Path) -> list[str]:
    return ["run", str(folder), "-o", str(out), "--masks", str(hole), "--refiner", "none", "-i", "telea", "--workers", "0"]


def test_exit_0_all_done(folder: Path, hole: Path, tmp_path: Path, capsys) -> None:
    assert main([*_args(folder, hole, tmp_path / "out"), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in folder.iterdir())


def test_exit_1_some_inputs_failed(folder: Path, hole: Path, tmp_path: Path, capsys) -> None:
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    assert main([*_args(folder, hole, tmp_path / "out"), "--quiet"]) == 1
    assert "broken.png" in capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("*.png"))) == 2  # the good ones were still done


def test_exit_2_usage_error_nothing_written(folder: Path, hole: Path, tmp_path: Path, capsys) -> None:
    assert main([*_args(folder, hole, tmp_path / "out"), "--set", "refine.dilate=-1"]) == 2
    assert not (tmp_path / "out").exists()


def test_exit_2_when_weights_are_missing_offline(folder: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", "")
    code = main(["run", str(folder), "-o", str(tmp_path / "out"), "-i", "telea", "--offline", "--quiet"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert len(err) == 1 and "put yolo11n-seg.pt" in err[0] and "--model-dir" in err[0]
    assert not list((tmp_path / "out").glob("*.png")) if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_exit_130_interrupted_and_the_resume_promise(folder: Path, hole: Path, tmp_path: Path, monkeypatch, capsys, cache: bool) -> None:
    from remove_people.stages.inpaint.opencv import TeleaInpainter

    def interrupt(self, *a, **k):  # noqa: ANN001, ANN002, ANN003 - Ctrl-C while the first photo is filled
        raise KeyboardInterrupt

    monkeypatch.setattr(TeleaInpainter, "fill", interrupt)
    monkeypatch.setenv("COLUMNS", "200")
    extra = ["--cache-dir", str(tmp_path / "c")] if cache else ["--no-cache"]
    assert main([*_args(folder, hole, tmp_path / "out"), *extra]) == 130
    err = " ".join(capsys.readouterr().err.split())
    if cache:
        assert "run the same command again to resume" in err
    else:
        assert "run the same command again to resume" not in err
        assert "the cache was off, so running again recomputes every photo" in err
