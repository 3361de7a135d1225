"""The output plan (pipeline/output_plan.py) on its own: names, clashes, safety checks, shards.

Why unit tests beside the CLI cases in tests/faults/test_output_plan.py (this file has its own name: test folders share one module namespace): the rules for
resolving clashes must be stable (the same names on every machine and every shard), and
that is quickest to pin down on the plan itself, with many inputs and no images.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remove_people.errors import UsageError
from remove_people.pipeline.inputs import InputItem, InputSet, collect_inputs, select_shard
from remove_people.pipeline.output_plan import assign_names, default_output, plan_outputs, side_paths


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def _items(*rels: str) -> list[InputItem]:
    return [InputItem(Path("/in") / r, r) for r in rels]


def test_clashes_resolved_by_the_documented_order() -> None:
    """--format png --save-masks over six names: own names first, then by path; -2, -3 for the rest."""
    items = _items("a.jpg", "a.png", "b.jpg", "B.JPG", "b.mask.png", "c.png")
    names, clashes = assign_names(items, ".png", sides=True)
    got = {it.rel: names[i] for i, it in enumerate(items)}
    assert got == {
        "a.png": "a.png",  # its output keeps its own name: it wins
        "a.jpg": "a-2.png",
        "b.mask.png": "b.mask.png",  # the same, though b.jpg's and B.JPG's masks wanted that name
        "B.JPG": "B-2.png",  # 'B' sorts before 'a' and 'b'
        "b.jpg": "b-3.png",  # b-2 is one file with B-2 on a case-insensitive disk
        "c.png": "c.png",
    }
    assert sorted(items[i].rel for i in clashes) == ["B.JPG", "a.jpg", "b.jpg"]
    assert clashes[2].describe("b.jpg", "b-3.png").startswith("b.jpg: its mask b.mask.png would be the same file as the result of b.mask.png")


def test_no_two_planned_files_share_a_name_ignoring_case() -> None:
    rels = ["x.jpg", "X.JPG", "x.png", "x.mask.png", "x-2.jpg", "x-2.mask.png", "sub/y.jpg", "SUB/y.jpg", "y.compare.jpg"]
    names, _ = assign_names(_items(*rels), None, sides=True)
    claimed: list[str] = []
    for n in names.values():
        mask, comp = side_paths(Path(n))
        claimed += [n, mask.as_posix(), comp.as_posix()]
    folded = [c.casefold() for c in claimed]
    assert len(folded) == len(set(folded)), sorted(claimed)
    assert names[rels.index("x-2.jpg")] == "x-2.jpg"  # an input's own name is never taken by a renamed one


def test_the_plan_is_the_same_whatever_the_order_and_shard(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    rels = [f"d{i % 3}/p{i}.{'jpg' if i % 2 else 'JPG'}" for i in range(40)] + ["d0/p0.jpg", "d1/p1.JPG", "d2/q.png", "d2/q.jpg"]
    _touch(*(inp / r for r in rels))
    plan = plan_outputs(collect_inputs(inp), tmp_path / "out", fmt="png")
    by_rel = {it.rel: it.output for it in plan.inputs.items}
    flipped = collect_inputs(inp)
    flipped.items.reverse()
    assert {it.rel: it.output for it in plan_outputs(flipped, tmp_path / "out", fmt="png").inputs.items} == by_rel
    for k in range(3):
        for it in select_shard(plan.inputs.items, f"{k}/3"):
            assert it.output == by_rel[it.rel]
    outs = [str(p).casefold() for p in by_rel.values()]
    assert len(outs) == len(set(outs))


def test_single_photo_default_beside_it(tmp_path: Path) -> None:
    photo = tmp_path / "holiday.JPG"
    _touch(photo)
    plan = plan_outputs(collect_inputs(photo), None)
    assert plan.where == tmp_path / "holiday-no-people.JPG"
    assert plan.inputs.items[0].output == plan.where
    assert plan_outputs(collect_inputs(photo), None, fmt="png").where == tmp_path / "holiday-no-people.png"
    rel = collect_inputs(Path(os.path.relpath(photo)))
    assert plan_outputs(rel, None).where == Path(os.path.relpath(photo)).with_name("holiday-no-people.JPG")


def test_defaults_for_folders_globs_and_lists(tmp_path: Path) -> None:
    _touch(tmp_path / "shots" / "a.jpg", tmp_path / "shots" / "b.png")
    assert default_output(collect_inputs(tmp_path / "shots"), None) == tmp_path / "shots-no-people"
    assert default_output(collect_inputs(str(tmp_path / "shots" / "a*.jpg")), None) == tmp_path / "shots-no-people"
    listing = tmp_path / "todo.txt"
    listing.write_text("shots/a.jpg\n")
    assert default_output(collect_inputs(listing), None) == tmp_path / "todo-no-people"


def test_unsafe_plans_are_refused(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    _touch(inp / "photos" / "photos" / "x.jpg", inp / "y.jpg")
    with pytest.raises(UsageError, match="photos/x.jpg would be written inside the input folder"):
        plan_outputs(collect_inputs(inp / "photos"), inp)  # out is the input's parent: photos/x.jpg lands in it
    with pytest.raises(UsageError, match="inside the input folder"):
        plan_outputs(collect_inputs(inp), inp / "out")
    with pytest.raises(UsageError, match="cache folder"):
        plan_outputs(collect_inputs(inp), tmp_path / "out", cache_root=inp / ".cache")
    with pytest.raises(UsageError, match="inside the cache folder"):
        plan_outputs(collect_inputs(inp), tmp_path / "cache" / "out", cache_root=tmp_path / "cache")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is an existing file"):
        plan_outputs(collect_inputs(inp), tmp_path / "file")
    photo = inp / "y.jpg"
    with pytest.raises(UsageError, match="would overwrite the input file"):
        plan_outputs(collect_inputs(photo), inp)
    assert plan_outputs(collect_inputs(inp), tmp_path / "out", cache_root=tmp_path / "cache").where == tmp_path / "out"


def test_list_file_folders_count_as_input_folders(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "x.jpg", tmp_path / "b" / "y.jpg")
    listing = tmp_path / "l.txt"
    listing.write_text(f"{tmp_path / 'a' / 'x.jpg'}\n{tmp_path / 'b' / 'y.jpg'}\n")
    with pytest.raises(UsageError, match="inside the input folder"):
        plan_outputs(collect_inputs(listing), tmp_path / "b" / "out")
    plan = plan_outputs(collect_inputs(listing), tmp_path / "out")
    assert sorted(p.output.name for p in plan.inputs.items) == ["x.jpg", "y.jpg"]


def test_unplanned_sets_are_planned_by_the_runner(tmp_path: Path) -> None:
    """The Python API (Pipeline.run on an unplanned InputSet) gets the same checks."""
    from remove_people.config import Config
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.runner import Pipeline

    _touch(tmp_path / "in" / "a.jpg")
    cfg = Config.load([], [])
    cfg.select("inpaint", "telea")
    cfg.select("detect", "masks")
    cfg.data["detect"]["masks"]["path"] = str(tmp_path / "in")
    pipe = Pipeline(cfg, cache=ArtifactCache(tmp_path / "cache"))
    try:
        with pytest.raises(UsageError, match="inside the input folder"):
            pipe.run(InputSet(collect_inputs(tmp_path / "in").items, tmp_path / "in", []), tmp_path / "in" / "out")
    finally:
        pipe.close()
