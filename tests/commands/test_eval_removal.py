"""``eval removal`` on a real run (YOLO + telea) and on a fake run that removed nobody."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from remove_people.cli import app

runner = CliRunner()
NAMES = ("000000000139.jpg", "000000005001.jpg")


def test_removal_finds_no_one_after_a_run_and_everyone_when_nothing_was_removed(tmp_path: Path, shared: Path, yolo_weights: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for n in NAMES:
        os.symlink(shared / "data" / "coco-person" / "images" / n, src / n)
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(src), "--out", str(out), "--inpainter", "telea", "--save-masks",
                              "--cache-dir", str(tmp_path / "c"), "--quiet"])
    assert res.exit_code == 0, res.output

    good = tmp_path / "good.json"
    rep = tmp_path / "report"
    res = runner.invoke(app, ["eval", "removal", str(src), str(out), "--json", str(good), "--report", str(rep)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    g = json.loads(good.read_text())
    assert g["images_with_removed_region"] == 2 and all(r["mask"] == "saved" for r in g["per_image"].values())
    assert g["mean_conf_before"] > 0.5  # these photos have clear persons
    assert g["mean_conf_after"] < g["mean_conf_before"] - 0.3
    assert g["residual_share"] <= 0.5

    # A "run" that changed nothing: every removed region still holds its person.
    fake = tmp_path / "fake"
    fake.mkdir()
    for n in NAMES:
        shutil.copy(src / n, fake / n)
    bad = tmp_path / "bad.json"
    res = runner.invoke(app, ["eval", "removal", str(src), str(fake), "--masks", str(out), "--json", str(bad)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    b = json.loads(bad.read_text())
    assert b["mean_conf_after"] == b["mean_conf_before"]
    for rec in b["per_image"].values():  # same pixels, same detections: residual exactly where a person was found before
        assert rec["conf_after"] == rec["conf_before"] and rec["residual"] == (rec["conf_before"] >= 0.5)
    assert b["residual_share"] >= 0.5 > g["residual_share"]

    html = (rep / "index.html").read_text()
    links = re.findall(r"(?:src|href)='([^']+)'", html)
    assert len(links) >= 2 * 3 * 2 and all((rep / link).is_file() for link in links)
