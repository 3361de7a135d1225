"""The cache's marker, entry schemas and clear (pipeline/cache_layout.py, pipeline/cache.py).

Why unit tests beside tests/faults/test_cache_safety.py: each schema rule (the detect
records, which files an entry may name) is checked here directly, including the detect
stage, whose damaged entries the CLI tests cannot reach without loading YOLO.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from remove_people.errors import UsageError
from remove_people.pipeline.cache import ArtifactCache, make_key
from remove_people.pipeline.cache_layout import ENTRY_SCHEMAS, MARKER_NAME, foreign_reason, meta_problem, read_marker
from remove_people.stages.detect.base import Instance


def _cache(tmp_path: Path) -> tuple[ArtifactCache, list[str]]:
    warnings: list[str] = []
    return ArtifactCache(tmp_path / "cache", warn=warnings.append), warnings


def _filled(tmp_path: Path) -> tuple[ArtifactCache, dict[str, str]]:
    cache, _ = _cache(tmp_path)
    keys = {s: make_key(s, "x") for s in ("detect", "refine", "inpaint")}
    mask = np.zeros((6, 8), bool)
    mask[1:3, 2:5] = True
    cache.put_instances(keys["detect"], [Instance(mask, 0.9, "person", 0, (2.0, 1.0, 5.0, 3.0))], {"image": "a.jpg"})
    cache.put_mask(keys["refine"], mask.astype(np.uint8) * 255, {"image": "a.jpg", "persons": 1})
    cache.put_result(keys["inpaint"], np.full((6, 8, 3), 7, np.uint8), {"image": "a.jpg"})
    return cache, keys


def _edit_meta(cache: ArtifactCache, stage: str, key: str, change) -> None:
    path = cache.entry_dir(stage, key) / "meta.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def test_a_new_cache_is_marked_and_its_entries_pass_their_schema(tmp_path: Path) -> None:
    cache, keys = _filled(tmp_path)
    assert read_marker(cache.root) == 1
    for stage, key in keys.items():
        meta = json.loads((cache.entry_dir(stage, key) / "meta.json").read_text())
        assert meta_problem(stage, key, meta) is None
    fresh = ArtifactCache(cache.root)
    assert len(fresh.get_instances(keys["detect"])) == 1
    assert fresh.get_mask(keys["refine"], (6, 8))[1]["persons"] == 1
    assert fresh.get_result(keys["inpaint"], (6, 8)) is not None
    assert fresh.stats.corrupt == 0


BAD_META = {
    "detect": [
        lambda m: {**m, "instances": "abc"},
        lambda m: {**m, "instances": [{**m["instances"][0], "score": float("nan")}]},
        lambda m: {**m, "instances": [{**m["instances"][0], "mask": "instance_999.png"}]},
        lambda m: {**m, "instances": [{**m["instances"][0], "box": [1, 2]}]},
        lambda m: {**m, "instances": [{**m["instances"][0], "class_id": "0"}]},
    ],
    "refine": [
        lambda m: {"files": {}},
        lambda m: {**m, "persons": "abc"},
        lambda m: {**m, "persons": -1},
        lambda m: {**m, "files": {}},
        lambda m: {**m, "files": {"../../../etc/passwd": "0" * 64}},
        lambda m: {**m, "stage": "inpaint"},
        lambda m: [m],
    ],
    "inpaint": [
        lambda m: {**m, "files": {"result.png": "abc"}},
        lambda m: {**m, "format": 99},
        lambda m: {**m, "key": "0" * 64},
    ],
}


@pytest.mark.parametrize("stage,n", [(s, i) for s, fs in BAD_META.items() for i in range(len(fs))])
def test_a_schema_breaking_entry_is_a_miss_and_is_removed(tmp_path: Path, stage: str, n: int) -> None:
    """Case 10: JSON that parses but breaks the schema is damage: recomputed, never a traceback."""
    cache, keys = _filled(tmp_path)
    _edit_meta(cache, stage, keys[stage], BAD_META[stage][n])
    warnings: list[str] = []
    again = ArtifactCache(cache.root, warn=warnings.append)
    getter = {"detect": again.get_instances, "refine": lambda k: again.get_mask(k, (6, 8)), "inpaint": again.get_result}[stage]
    assert getter(keys[stage]) is None
    assert again.stats.corrupt == 1 and len(warnings) == 1
    assert not cache.entry_dir(stage, keys[stage]).exists()


def test_a_wrong_sized_mask_or_result_is_damage(tmp_path: Path) -> None:
    cache, keys = _filled(tmp_path)
    assert cache.get_mask(keys["refine"], (7, 8)) is None
    assert cache.get_result(keys["inpaint"], (6, 9)) is None
    assert cache.stats.corrupt == 2


def test_the_schema_is_declared_in_one_place_and_extends() -> None:
    """Another artifact for a stage is one name in its schema (here, a third mask for refine)."""
    from dataclasses import replace

    refine = ENTRY_SCHEMAS["refine"]
    meta = {"stage": "refine", "key": "k", "format": 1, "persons": 0, "files": {"mask.png": "a" * 64, "exclude.png": "b" * 64}}
    assert meta_problem("refine", "k", meta) is None  # issue 15's exclusion mask is declared already
    meta["files"]["shadow.png"] = "c" * 64
    assert "shadow.png" in meta_problem("refine", "k", meta)
    ENTRY_SCHEMAS["refine"] = replace(refine, optional_files=(*refine.optional_files, "shadow.png"))
    try:
        assert meta_problem("refine", "k", meta) is None
    finally:
        ENTRY_SCHEMAS["refine"] = refine


def test_foreign_and_other_version_folders_are_left_alone(tmp_path: Path) -> None:
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    warnings: list[str] = []
    cache = ArtifactCache(foreign, warn=warnings.append)
    cache.put_mask(make_key("refine", "y"), np.zeros((2, 2), np.uint8), {"persons": 0})
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert len(warnings) == 1 and "not a remove-people cache" in warnings[0]
    assert "notes.txt" in (foreign_reason(foreign) or "")
    with pytest.raises(UsageError, match="not a remove-people cache"):
        ArtifactCache(foreign).clear()
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / MARKER_NAME).write_text("Signature: 8a477f597d28d172789f06886806bc55\n# remove-people artifact cache, format 7\n")
    with pytest.raises(UsageError, match="format 7"):
        ArtifactCache(newer).clear()


def test_clear_never_follows_links_and_reports_what_it_left(tmp_path: Path) -> None:
    cache, keys = _filled(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mask.png").write_bytes(b"precious")
    entry = cache.entry_dir("refine", keys["refine"])
    os.symlink(outside / "mask.png", entry.parent / ("e" * 64))  # an "entry" that is a link to a file
    os.symlink(outside, cache.root / "inpaint" / "ff")  # a "shard" that is a link to a folder
    os.mkfifo(entry / "result.png")  # a FIFO inside an entry, under a name refine never writes
    done = cache.clear()
    assert done.removed == 3
    assert (outside / "mask.png").read_bytes() == b"precious"
    assert len(done.left) == 3, done.left
    assert os.path.islink(entry.parent / ("e" * 64)) and os.path.islink(cache.root / "inpaint" / "ff")
