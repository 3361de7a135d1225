"""Close-ups: a photo whose removed region covers most of the frame is flagged, or skipped on request.

Why: no fill can invent most of a photo convincingly, so the user is told which results to
look at (``--verbose``, ``--json``, the summary), and ``run.max_hole_fraction`` leaves such
photos out instead of writing a mostly invented picture.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.cli import main

PHOTOS = ("000000000139.jpg", "000000000790.jpg")


@pytest.fixture
def photos_and_masks(shared: Path, tmp_path: Path) -> tuple[Path, Path]:
    src, masks = tmp_path / "in", tmp_path / "masks"
    src.mkdir()
    masks.mkdir()
    for name, share in zip(PHOTOS, (0.6, 0.05)):
        data = (shared / "data/coco-person/images" / name).read_bytes()
        (src / name).write_bytes(data)
        h, w = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE).shape
        m = np.zeros((h, w), np.uint8)
        m[:, : int(round(w * share))] = 255  # a "close-up" covering `share` of the frame
        cv2.imwrite(str(masks / (Path(name).stem + ".png")), m)
    return src, masks


def _run(args: list[str], capsys) -> tuple[int, dict, str]:
    code = main(["run", *args, "--json", "--quiet", "--no-cache", "-i", "telea", "--refiner", "none", "--workers", "0"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_a_close_up_is_flagged_in_json_and_summary(photos_and_masks, tmp_path, capsys) -> None:
    src, masks = photos_and_masks
    code, summary, _ = _run([str(src), "-o", str(tmp_path / "out"), "--masks", str(masks)], capsys)
    assert code == 0
    by = {o["rel"]: o for o in summary["outcomes"]}
    big, small = by[PHOTOS[0]], by[PHOTOS[1]]
    assert big["large_hole"] and big["hole_fraction"] == pytest.approx(0.6, abs=0.01)
    assert not small["large_hole"] and small["hole_fraction"] == pytest.approx(0.05, abs=0.01)
    assert summary["large_holes"] == [PHOTOS[0]]
    assert (tmp_path / "out" / PHOTOS[0]).is_file()  # flagged, still written


def test_verbose_names_the_large_hole(photos_and_masks, tmp_path, capsys) -> None:
    src, masks = photos_and_masks
    code = main(["run", str(src), "-o", str(tmp_path / "out"), "--masks", str(masks), "--verbose", "--no-cache",
                 "-i", "telea", "--refiner", "none", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 0
    line = next(ln for ln in err.splitlines() if PHOTOS[0] in ln and "hole=" in ln)
    assert "hole=60%" in line and "large" in line
    assert "look at these" in err  # the summary lists it too


def test_max_hole_fraction_skips_and_writes_nothing(photos_and_masks, tmp_path, capsys) -> None:
    src, masks = photos_and_masks
    out = tmp_path / "out"
    code, summary, _ = _run([str(src), "-o", str(out), "--masks", str(masks), "--set", "run.max_hole_fraction=0.5"], capsys)
    assert code == 0  # a deliberate skip is no failure
    by = {o["rel"]: o for o in summary["outcomes"]}
    assert by[PHOTOS[0]]["status"] == "skipped" and by[PHOTOS[0]]["skip_reason"] == "large-hole"
    assert "60%" in by[PHOTOS[0]]["message"] and "run.max_hole_fraction" in by[PHOTOS[0]]["message"]
    assert not (out / PHOTOS[0]).exists()
    assert by[PHOTOS[1]]["status"] == "changed" and (out / PHOTOS[1]).is_file()
    assert summary["skipped"] == 1
