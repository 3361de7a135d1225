"""The cache deletes and trusts only what it wrote (issue 20 items 5 and 10), through the real CLI.

Why: ``cache clear --cache-dir DIR`` deleted 14 source files of a folder that was not a
cache and said "removed 0 entries"; a symlink in a cache ended ``clear`` in a traceback;
entries whose JSON parsed but lacked keys aborted a run. Each case below hashes every
file it must not touch (the inputs, the folder mistaken for a cache, the targets of the
planted links) before and after.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import remove_people

from helpers.faultkit import Reference, assert_outputs_sound, error_lines, run_cli, run_raw, seed_detect_cache, untouched

MARKER = "CACHEDIR.TAG"


@pytest.fixture
def small_run(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three small photos with one hole each (--masks, telea): a cache with refine and inpaint entries."""
    inp, masks = tmp_path / "in", tmp_path / "masks"
    inp.mkdir()
    masks.mkdir()
    hole = np.zeros((30, 40), np.uint8)
    hole[8:20, 10:25] = 255
    for i in range(3):
        Image.new("RGB", (40, 30), (60 * i, 120, 200)).save(inp / f"p{i}.png")
        Image.fromarray(hole).save(masks / f"p{i}.png")
    args = ["run", str(inp), "--masks", str(masks), "-i", "telea", "--json", "--quiet"]
    return inp, args


def _run(args: list[str], out: Path, cache: Path):
    return run_raw([*args, "-o", str(out), "--cache-dir", str(cache)])


def test_clear_refuses_a_folder_that_is_not_a_cache(tmp_path: Path) -> None:
    """Case 5: a copy of remove_people/stages given as --cache-dir: exit 2, one line, nothing deleted."""
    victim = tmp_path / "stages"
    shutil.copytree(Path(remove_people.__file__).parent / "stages", victim)
    with untouched(victim):
        done = run_raw(["cache", "clear", "--cache-dir", str(victim)])
        done_stage = run_raw(["cache", "clear", "--cache-dir", str(victim), "--stage", "detect"])
    for d in (done, done_stage):
        assert d.rc == 2, d.stderr
        lines = error_lines(d.stderr)
        assert len(lines) == 1 and "not a remove-people cache" in lines[0] and "nothing deleted" in lines[0], lines
        assert "removed" not in d.stdout


def test_clear_leaves_symlinks_and_what_they_point_to(small_run, tmp_path: Path) -> None:
    """Case 5: links planted at every level of a real cache: no traceback, every entry removed,
    every link left (and reported), nothing outside the root touched."""
    inp, args = small_run
    cache = tmp_path / "cache"
    assert _run(args, tmp_path / "out", cache).rc == 0
    assert (cache / MARKER).is_file()
    outside = tmp_path / "outside"
    (outside / "d").mkdir(parents=True)
    (outside / "d" / "meta.json").write_text("{}")
    (outside / "file.png").write_bytes(b"precious")
    refine_shard = next((cache / "refine").iterdir())
    entry = next(refine_shard.iterdir())
    links = [
        (cache / "detect", outside),  # a whole stage folder
        (cache / "refine" / "zz", outside),  # a shard
        (refine_shard / ("f" * 64), outside / "d"),  # an entry
        (entry / "mask2.png", outside / "file.png"),  # a file inside an entry
        (cache / "inpaint" / "dangling", tmp_path / "nowhere"),
        (cache / "loop", cache / "loop"),
    ]
    for link, target in links:
        os.symlink(target, link)
    with untouched(inp, outside):
        info = run_raw(["cache", "info", "--cache-dir", str(cache)])
        done = run_raw(["cache", "clear", "--cache-dir", str(cache)])
    assert info.rc == 0 and "Traceback" not in info.stderr, info.stderr
    assert done.rc == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "removed 6 entries" in done.stdout  # 3 refine + 3 inpaint
    left = [ln for ln in error_lines(done.stderr) if ln.startswith("left ")]
    assert len(left) == 1, done.stderr
    for link, _ in links:
        assert os.path.islink(link), link  # the links themselves are not the cache's to delete
    remaining = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if not p.is_symlink() and p.is_file())
    assert remaining == [MARKER], remaining


def test_a_symlinked_entry_is_recomputed_not_followed(small_run, tmp_path: Path) -> None:
    """A refine entry replaced by a link to a copy outside the cache: the run recomputes it and
    removes the link only; the copy outside is untouched."""
    inp, args = small_run
    cache = tmp_path / "cache"
    first = _run(args, tmp_path / "o1", cache)
    assert first.rc == 0
    entry = next(p for p in (cache / "refine").glob("*/*") if p.is_dir())
    copy = tmp_path / "outside-entry"
    shutil.copytree(entry, copy)
    shutil.rmtree(entry)
    os.symlink(copy, entry)
    with untouched(inp, copy):
        again = _run(args, tmp_path / "o2", cache)
    assert again.rc == 0, again.stderr
    assert again.summary["cache"]["corrupt"] == 1
    assert not entry.is_symlink() and (entry / "meta.json").is_file()
    for name in ("p0.png", "p1.png", "p2.png"):
        assert (tmp_path / "o2" / name).read_bytes() == (tmp_path / "o1" / name).read_bytes()


def test_an_unmarked_cache_of_the_previous_version_is_adopted(small_run, tmp_path: Path) -> None:
    """Upgrading: a cache written before the marker existed is used as it is (every entry hits),
    marked once, and can be cleared."""
    inp, args = small_run
    cache = tmp_path / "cache"
    assert _run(args, tmp_path / "o1", cache).rc == 0
    (cache / MARKER).unlink()  # what the previous version left
    with untouched(inp):
        again = _run(args, tmp_path / "o2", cache)
    assert again.rc == 0, again.stderr
    assert again.summary["cache"]["hits"]["refine"] == 3 and again.summary["cache"]["misses"]["inpaint"] == 0
    assert (cache / MARKER).is_file()
    (cache / MARKER).unlink()
    done = run_raw(["cache", "clear", "--cache-dir", str(cache)])
    assert done.rc == 0 and "removed 6 entries" in done.stdout, done.stderr
    assert sorted(p.name for p in cache.iterdir()) == [MARKER]


def test_a_foreign_folder_is_never_written_as_a_cache(small_run, tmp_path: Path) -> None:
    """A non-empty folder without the marker given as --cache-dir for a run: one warning, the run
    goes on without caching (exit 0), and the folder is untouched."""
    inp, args = small_run
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with untouched(inp, foreign):
        done = _run(args, tmp_path / "out", foreign)
    assert done.rc == 0, done.stderr
    warn = [ln for ln in error_lines(done.stderr) if "not a remove-people cache" in ln]
    assert len(warn) == 1 and "going on without caching" in warn[0], done.stderr
    assert done.summary["changed"] == 3


def _damage_entries(cache: Path) -> int:
    """Entries whose JSON still parses but breaks the schema, and files that are not files (case 10)."""
    refine = sorted(p for p in (cache / "refine").glob("*/*") if p.is_dir())
    inpaint = sorted(p for p in (cache / "inpaint").glob("*/*") if p.is_dir())
    assert len(refine) >= 3 and len(inpaint) >= 2

    def edit(entry: Path, change) -> None:
        meta = json.loads((entry / "meta.json").read_text())
        (entry / "meta.json").write_text(json.dumps(change(meta)))

    edit(refine[0], lambda m: {"files": {}})
    edit(refine[1], lambda m: {**m, "persons": "abc"})
    edit(inpaint[0], lambda m: {**m, "files": {"../../../../etc/passwd": "0" * 64}})
    (refine[2] / "meta.json").unlink()
    os.symlink("/dev/zero", refine[2] / "meta.json")  # must not be read
    (inpaint[1] / "result.png").unlink()
    os.mkfifo(inpaint[1] / "result.png")  # must not block
    return 5


def test_damaged_entries_are_recomputed(reference: Reference, tmp_path: Path) -> None:
    """Case 10: {"files": {}}, "persons": "abc", a file name climbing out of the entry, a meta.json
    linked to /dev/zero and a FIFO as result.png: each is detected, recomputed (no YOLO), and the
    outputs match the reference byte for byte."""
    cache = tmp_path / "cache"
    seed_detect_cache(reference, cache)
    assert run_cli(reference.inputs, tmp_path / "o1", cache).rc == 0
    damaged = _damage_entries(cache)
    with untouched(reference.inputs):
        done = run_cli(reference.inputs, tmp_path / "o2", cache, timeout=120)
    assert done.rc == 0, done.stderr
    assert "Traceback" not in done.stderr
    s = done.summary
    assert s["cache"]["corrupt"] == damaged, s["cache"]
    assert s["models_loaded"] and not any(m.startswith("detect") for m in s["models_loaded"]), s["models_loaded"]
    assert sum("damaged entry" in ln for ln in error_lines(done.stderr)) == 1, done.stderr
    assert assert_outputs_sound(tmp_path / "o2") == reference.hashes
    again = run_cli(reference.inputs, tmp_path / "o3", cache)
    assert again.rc == 0 and again.summary["cache"]["corrupt"] == 0 and again.summary["models_loaded"] == []
