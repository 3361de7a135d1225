"""Ctrl-C, two runs sharing folders, and a damaged cache (issue 10 items 2-4).

Why these three together: each is a real run of the CLI against the reference photos,
and each must end with the reference's exact bytes and a sound cache.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from helpers.faultkit import (
    Reference,
    assert_cache_sound,
    assert_outputs_sound,
    cache_entries,
    run_cli,
    seed_detect_cache,
    start_cli,
    tree_hashes,
)


def test_sigint_stops_cleanly_with_summary_and_130(reference: Reference, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    seed_detect_cache(reference, cache)
    proc = start_cli(reference.inputs, out, cache, "--batch-size", "1")
    deadline = time.monotonic() + 120
    while proc.poll() is None and not any(out.glob("*.jpg")) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before Ctrl-C could be sent"
    proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    s = json.loads(stdout)  # a summary was printed, and it says what happened
    assert s["interrupted"] is True and s["exit_code"] == 130
    assert 1 <= s["changed"] + s["unchanged"] < 4
    left = assert_outputs_sound(out)  # nothing half-written, no temp files
    assert left and all(reference.hashes[k] == v for k, v in left.items())
    assert_cache_sound(cache)
    # Re-running resumes to the reference's bytes.
    done = run_cli(reference.inputs, out, cache)
    assert done.rc == 0 and assert_outputs_sound(out) == reference.hashes
    assert tree_hashes(reference.inputs) == reference.input_hashes


def _two_at_once(reference: Reference, out: Path, cache: Path, *extra: str) -> None:
    procs = [start_cli(reference.inputs, out, cache, *extra) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "damaged entry" not in err
    assert assert_outputs_sound(out) == reference.hashes  # no interleaved or partial file
    assert_cache_sound(cache)
    assert not list(cache.glob("*/*/.tmp-*")), "a writer's temp folder was left behind"
    counts = cache_entries(cache)
    assert counts == {"detect": 4, "refine": 4, "inpaint": 3}, counts
    assert tree_hashes(reference.inputs) == reference.input_hashes


def test_two_runs_at_once_share_cache_and_output(reference: Reference, tmp_path: Path) -> None:
    """Both runs compute and write the same refine/inpaint entries and outputs at the same time."""
    seed_detect_cache(reference, tmp_path / "cache")
    _two_at_once(reference, tmp_path / "out", tmp_path / "cache", "--batch-size", "1")


@pytest.mark.slow
def test_two_runs_at_once_from_an_empty_cache(reference: Reference, tmp_path: Path) -> None:
    """Both load YOLO and race on every stage, detect included."""
    _two_at_once(reference, tmp_path / "out", tmp_path / "cache")


def _damage(cache: Path) -> list[Path]:
    """Four kinds of damage to four different entries that the next run must read."""
    refine = sorted((cache / "refine").glob("*/*"))
    inpaint = sorted((cache / "inpaint").glob("*/*"))
    hurt = []
    m = refine[0] / "mask.png"  # truncated (a copy cut short)
    m.write_bytes(m.read_bytes()[:100])
    hurt.append(refine[0])
    r = inpaint[0] / "result.png"  # garbled in the middle, same length (bit rot)
    data = bytearray(r.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    r.write_bytes(bytes(data))
    hurt.append(inpaint[0])
    (inpaint[1] / "meta.json").write_text("{not json")  # garbled metadata
    hurt.append(inpaint[1])
    (inpaint[2] / "result.png").unlink()  # a file missing from its entry
    hurt.append(inpaint[2])
    return hurt


def test_corrupt_cache_is_detected_recomputed_and_reported_once(reference: Reference, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    shutil.copytree(reference.cache, cache)
    hurt = _damage(cache)
    done = run_cli(reference.inputs, out, cache)
    assert done.rc == 0, done.stderr
    s = done.summary
    assert s["cache"]["corrupt"] == len(hurt), s["cache"]
    assert done.stderr.count("damaged entry") == 1, done.stderr  # said once, not once per entry
    assert "Traceback" not in done.stderr
    assert assert_outputs_sound(out) == reference.hashes  # recomputed, not served damaged
    assert "detect:yolo" not in s["models_loaded"]  # only the damaged stages were redone
    assert_cache_sound(cache)  # the damaged entries were replaced by good ones
    again = run_cli(reference.inputs, tmp_path / "out2", cache)
    assert again.summary["cache"]["corrupt"] == 0 and again.summary["models_loaded"] == []
