"""``-i lama`` / ``-i migan`` through the real CLI on real COCO photos, with TorchScript stand-ins.

The stand-ins fill a hole with the mean colour of its known context (tests/helpers/torchscript_standins.py);
what is asserted is that only the given masks' pixels change, the offline refusal, the plugin
listing, and that ``eval inpaint`` adds their rows by itself once the files are on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")  # TorchScript is deprecated upstream

PHOTOS = ("000000005001.jpg", "000000030752.jpg")  # persons cover 41 % and 7 % of the frame


@pytest.fixture(autouse=True)
def restore_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --model-dir/--offline`` write os.environ for the whole process: put it back after each test."""
    import os

    for var in ("REMOVE_PEOPLE_MODEL_DIR", "REMOVE_PEOPLE_OFFLINE", "YOLO_OFFLINE"):
        before = os.environ.get(var)
        monkeypatch.setenv(var, before or "")  # records the value (or its absence) to restore
        if before is None:
            monkeypatch.delenv(var)


@pytest.fixture()
def photos(tmp_path: Path, shared: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for name in PHOTOS:
        (d / name).write_bytes((shared / "data/coco-person/images" / name).read_bytes())
    return d


def person_masks(shared: Path, name: str) -> np.ndarray:
    """The union of the photo's COCO person masks (what ``--masks instances.json`` removes)."""
    from pycocotools import mask as mask_utils

    coco = json.loads((shared / "data/coco-person/annotations/instances.json").read_text())
    info = next(i for i in coco["images"] if i["file_name"] == name)
    gt = np.zeros((info["height"], info["width"]), bool)
    for a in coco["annotations"]:
        if a["image_id"] == info["id"] and a["category_id"] == 1:
            seg = a["segmentation"]
            rles = mask_utils.frPyObjects(seg, info["height"], info["width"]) if isinstance(seg, list) or isinstance(seg["counts"], list) else seg
            gt |= mask_utils.decode(mask_utils.merge(rles) if isinstance(rles, list) else rles).astype(bool)
    return gt


def check_only_masks_changed(photos: Path, out: Path, shared: Path) -> None:
    for name in PHOTOS:
        src = cv2.imread(str(photos / name))
        dst = cv2.imread(str(out / (Path(name).stem + ".png")))
        gt = person_masks(shared, name)
        diff = np.any(src != dst, axis=2)
        assert gt.any() and not diff[~gt].any(), f"{name}: pixels outside the person masks changed"
        assert diff[gt].mean() > 0.3, f"{name}: the persons were not replaced"


def run(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["run", *args, "--quiet"])
    return code, capsys.readouterr().err


def test_lama_from_the_table_changes_only_the_masked_pixels(photos: Path, tmp_path: Path, shared: Path, standin_table: Path, capsys: pytest.CaptureFixture) -> None:
    # The table path: found by name in --model-dir, MD5 checked (the table is pointed at the stand-in), loaded.
    # --workers 0: the patched table lives in this process only.
    out = tmp_path / "out"
    ann = shared / "data/coco-person/annotations/instances.json"
    code, err = run([str(photos), "-o", str(out), "--masks", str(ann), "--refiner", "none", "-i", "lama", "--model-dir", str(standin_table),
                     "--offline", "--workers", "0", "--format", "png", "--no-cache"], capsys)
    assert code == 0, err
    check_only_masks_changed(photos, out, shared)


def test_migan_from_a_trusted_path_changes_only_the_masked_pixels(photos: Path, tmp_path: Path, shared: Path, standins: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    ann = shared / "data/coco-person/annotations/instances.json"
    code, err = run([str(photos), "-o", str(out), "--masks", str(ann), "--refiner", "none", "-i", "migan", "--format", "png", "--no-cache",
                     "--set", f"inpaint.migan.weights={standins / 'migan_traced.pt'}", "--set", "inpaint.migan.trust_weights=true"], capsys)
    assert code == 0, err
    check_only_masks_changed(photos, out, shared)
    # Without trust, the same file is refused before it loads: one line, and every photo fails alone (exit 1).
    code, err = run([str(photos), "-o", str(tmp_path / "out2"), "--masks", str(ann), "--refiner", "none", "-i", "migan", "--no-cache",
                     "--set", f"inpaint.migan.weights={standins / 'migan_traced.pt'}", "--workers", "0"], capsys)
    assert code == 1 and "refused to load" in err and "--set inpaint.migan.trust_weights=true" in err


def test_offline_without_the_file_exits_2_with_one_line(photos: Path, tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "home"))
    empty = tmp_path / "models"
    empty.mkdir()
    ann = shared / "data/coco-person/annotations/instances.json"
    code, err = run([str(photos), "-o", str(tmp_path / "out"), "--masks", str(ann), "-i", "lama", "--offline", "--model-dir", str(empty)], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    line = lines[0]
    for part in ("big-lama.pt", "md5 e3aa4aaa15225a33ec84f9f4bc47e500", str(empty), str(tmp_path / "home" / "models"),
                 "https://github.com/Sanster/models/releases/download/add_big_lama/big-lama.pt"):
        assert part in line, part
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_plugins_lists_lama_and_migan_with_their_parameters(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for name, params in (("lama", "max_side=1024"), ("migan", "max_side=512")):
        line = next(ln for ln in out.splitlines() if f" {name} " in ln)
        for p in (params, "precision=fp32", "trust_weights=False", "weights=None", "batch_size="):
            assert p in line, (name, p)


def test_eval_inpaint_adds_their_rows_when_the_files_are_present(tmp_path: Path, standin_table: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    common = ["eval", "inpaint", "--sets", "scenes", "--limit", "1", "--no-lpips", "--set", "eval.inpainters=[telea]"]
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", str(tmp_path / "nothing"))
    assert main([*common, "--json", str(tmp_path / "without.json")]) == 0
    rows = {r["method"] for r in json.loads((tmp_path / "without.json").read_text())["summary"]}
    assert rows == {"telea", "MI-GAN"}  # ours + the published MI-GAN images (the peer row)

    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", str(standin_table))
    assert main([*common, "--json", str(tmp_path / "with.json")]) == 0
    summary = json.loads((tmp_path / "with.json").read_text())["summary"]
    rows = {r["method"]: r for r in summary}
    assert set(rows) == {"telea", "lama", "migan", "MI-GAN"}
    for name in ("lama", "migan"):
        assert rows[name]["kind"] == "ours" and rows[name]["images"] == 1 and "error" not in rows[name]
    capsys.readouterr()
