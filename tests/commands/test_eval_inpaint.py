"""``eval inpaint`` end to end on the shared scenes and person-free COCO photos (telea: fast, deterministic)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from remove_people.commands.evaluate import app
from remove_people.config import build_stage
from remove_people.evaluation.data import load_hole, load_rgb
from remove_people.evaluation.inpaint_bench import coco_free_cases, scene_cases
from remove_people.evaluation.inpaint_metrics import score_image
from remove_people.evaluation.person_holes import PersonHoles

runner = CliRunner()


@pytest.fixture(scope="module")
def holes(shared: Path) -> PersonHoles:
    return PersonHoles(shared / "data" / "coco-person" / "annotations" / "instances.json", seed=0)


def test_person_holes_are_seeded_per_image(holes: PersonHoles, shared: Path) -> None:
    a = holes.hole_for("000000000802", (480, 640))
    assert a.dtype == np.uint8 and set(np.unique(a)) == {0, 255}
    assert np.array_equal(a, holes.hole_for("000000000802", (480, 640)))  # same name, same hole
    assert not np.array_equal(a, holes.hole_for("000000030213", (480, 640)))
    other = PersonHoles(shared / "data" / "coco-person" / "annotations" / "instances.json", seed=1)
    assert not np.array_equal(a, other.hole_for("000000000802", (480, 640)))
    fractions = [(holes.hole_for(f"img{i}", (480, 640)) > 0).mean() for i in range(20)]
    assert 0.02 < float(np.mean(fractions)) < 0.35  # person-sized, not the whole frame


def test_default_sets_come_from_shared(shared: Path) -> None:
    scenes = scene_cases(shared / "data" / "scenes")
    assert len(scenes) == 18 and all(c.mask is not None for c in scenes)
    assert sum(c.peer is not None for c in scenes) == 17  # MI-GAN has no result for pixabay_*
    free = coco_free_cases(shared / "data" / "coco-person")
    assert len(free) == 12 and all(c.mask is None for c in free)


def test_eval_inpaint_cli_scores_match_a_direct_computation(tmp_path: Path, shared: Path, holes: PersonHoles) -> None:
    out_json, rep = tmp_path / "eval.json", tmp_path / "report"
    res = runner.invoke(
        app, ["inpaint", "--inpainters", "telea", "--limit", "1", "--no-lpips", "--json", str(out_json), "--report", str(rep)],
        env={"COLUMNS": "250"},
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out_json.read_text())
    rows = {(r["set"], r["method"]): r for r in data["summary"]}
    assert set(rows) == {("scenes", "telea"), ("scenes", "MI-GAN"), ("coco-free", "telea")}
    assert rows[("scenes", "MI-GAN")]["kind"] == "peer" and rows[("scenes", "telea")]["kind"] == "ours"
    assert "telea" in res.output and "MI-GAN" in res.output and "peer" in res.output

    # Recompute both telea rows here, from the files, and compare with the JSON.
    scene = scene_cases(shared / "data" / "scenes")[0]
    truth = load_rgb(scene.image)
    hole = load_hole(scene.mask, truth.shape[:2])
    telea = build_stage("inpaint", "telea")
    want = score_image(truth, telea.inpaint(truth, hole), hole, lpips=False)
    got = data["per_image"]["telea"][f"scenes/{scene.name}"]
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6), k
    free = coco_free_cases(shared / "data" / "coco-person")[0]
    truth = load_rgb(free.image)
    hole = holes.hole_for(free.name, truth.shape[:2])
    want = score_image(truth, telea.inpaint(truth, hole), hole, lpips=False)
    got = data["per_image"]["telea"][f"coco-free/{free.name}"]
    assert got["hole.l1"] == pytest.approx(want["hole.l1"], rel=1e-6)
    assert data["images"][f"coco-free/{free.name}"]["hole_fraction"] == pytest.approx((hole > 0).mean())

    # The report is self-contained: every linked file exists inside it.
    html = (rep / "index.html").read_text()
    import re

    links = re.findall(r"(?:src|href)='([^']+)'", html)
    assert links and all(not l.startswith(("/", "http")) and (rep / l).is_file() for l in links)
    assert "MI-GAN" in html and "telea" in html
    assert json.loads((rep / "report.json").read_text())["settings"]["inpainters"] == ["telea"]


def test_eval_inpaint_unknown_set_is_one_clear_line() -> None:
    res = runner.invoke(app, ["inpaint", "--sets", "nope"])
    assert res.exit_code != 0
    assert "valid sets: scenes, coco-free" in str(res.exception)
