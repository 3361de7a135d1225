"""SIGKILL a real run at many moments, then re-run: nothing half-written, finished work reused,
final bytes identical to an uninterrupted run (issue 10 item 1).

Why SIGKILL: no handler runs, so only the write discipline (temp file + rename for outputs,
temp folder + rename for cache entries) stands between a kill and a corrupt file.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Callable

import pytest

from helpers.faultkit import (
    Reference,
    assert_cache_sound,
    assert_outputs_sound,
    cache_entries,
    complete_entries,
    kill_at,
    kill_when,
    run_cli,
    seed_detect_cache,
    tree_hashes,
)


def _kill_and_resume(reference: Reference, work: Path, when: float | Callable[[], bool]) -> dict:
    """One trial: kill at ``when`` (seconds, or once a condition holds), check the leftovers,
    re-run, check the result. Returns what the kill left."""
    out, cache = work / "out", work / "cache"
    if callable(when):
        rc = kill_when(reference.inputs, out, cache, when, "--batch-size", "1")
    else:
        rc = kill_at(reference.inputs, out, cache, when)
    # Whatever exists after the kill is complete and exactly what the uninterrupted run wrote.
    left = assert_outputs_sound(out)
    for rel, digest in left.items():
        assert digest == reference.hashes[rel], f"{rel}: a finished-looking output differs from the reference"
    if cache.exists():
        assert_cache_sound(cache)
    entries = cache_entries(cache)

    done = run_cli(reference.inputs, out, cache)
    assert done.rc == 0, done.stderr
    s = done.summary
    hits = s["cache"]["hits"]
    # Finished stages are reused: every complete entry left by the killed run is a hit.
    # (The runner looks up refine first, and detect only for images whose refine entry is
    # missing; detect entries of a batch are all written before its refine entries.)
    assert hits["refine"] == entries["refine"], (entries, s["cache"])
    assert hits["inpaint"] == entries["inpaint"], (entries, s["cache"])
    assert hits["detect"] == entries["detect"] - entries["refine"], (entries, s["cache"])
    assert s["cache"]["corrupt"] == 0
    assert assert_outputs_sound(out) == reference.hashes
    assert_cache_sound(cache)
    assert tree_hashes(reference.inputs) == reference.input_hashes
    return {"rc": rc, "entries": entries, "kept_outputs": len(left)}


def test_kill_fast(reference: Reference, tmp_path: Path) -> None:
    """Two kills, timed by what appears on disk (detect entries seeded, so YOLO never loads):
    once the first refined mask is cached (mid refine/inpaint), and once the first output exists."""
    conditions = {
        "after-first-mask": lambda: bool(complete_entries(tmp_path / "k0" / "cache", "refine")),
        "after-first-output": lambda: any((tmp_path / "k1" / "out").glob("*.jpg")),
    }
    for i, (name, cond) in enumerate(conditions.items()):
        work = tmp_path / f"k{i}"
        seed_detect_cache(reference, work / "cache")
        facts = _kill_and_resume(reference, work, cond)
        assert facts["rc"] is None, f"{name}: the run finished before the kill"


@pytest.mark.slow
@pytest.mark.timeout(2400)  # 20 x (kill + YOLO re-run): over the suite's default 600 s on 2 cores
def test_kill_at_twenty_seeded_moments(reference: Reference, tmp_path: Path) -> None:
    """20 kills at seeded moments, uniform over a clean run's duration, from an empty cache (YOLO included).

    The duration is timed on a clean run made now, not taken from the session's reference run:
    that first run also paid one-time costs (the detectors' OpenVINO export, numba's compile),
    so moments drawn over it fell after a later run had already finished.
    """
    timing = run_cli(reference.inputs, tmp_path / "timing" / "out", tmp_path / "timing" / "cache")
    assert timing.rc == 0, timing.stderr
    shutil.rmtree(tmp_path / "timing")
    rng = random.Random(1010)
    moments = sorted(rng.uniform(0.0, timing.seconds) for _ in range(20))
    facts = []
    for i, t in enumerate(moments):
        work = tmp_path / f"k{i:02d}"
        facts.append((round(t, 2), _kill_and_resume(reference, work, t)))
        shutil.rmtree(work)
    # The kills must really have landed across the stages, not all before or after the work.
    killed = [f for _, f in facts if f["rc"] is None]
    assert len(killed) >= 15, facts
    assert any(f["entries"]["detect"] == 0 for f in killed), facts  # before any detect entry
    assert any(0 < f["entries"]["detect"] for f in killed), facts  # after detect
    print("kill moments and leftovers:", facts)
