"""Full disk and read-only output (issue 10 item 5): a clear report, writing stops, finished
outputs stay complete, a non-zero exit, and the inputs are untouched.

Why real mounts: ENOSPC and EROFS come from the kernel; a tmpfs of 2 MB and a read-only
bind mount give the real errors. Mounting needs root (and a permissive container), so
the tests skip with the reason where it is not allowed, as in most CI runners.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.faultkit import Reference, assert_outputs_sound, run_cli, tree_hashes


def _mount(args: list[str]) -> None:
    p = subprocess.run(["mount", *args], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount here ({p.stderr.strip() or p.returncode}); needs root in a container that allows mounts")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs filled up to ~48 KB free: room for one reference output, not four."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    d = tmp_path / "tiny"
    d.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)])
    try:
        filler = d / "filler"
        with open(filler, "wb") as fh:  # fill to the brim, then give back a little
            try:
                while True:
                    fh.write(bytes(65536))
                    fh.flush()
            except OSError:
                pass
        with open(filler, "r+b") as fh:
            fh.truncate(max(0, filler.stat().st_size - 50_000))
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder bind-mounted read-only (root ignores chmod 555, a read-only mount it cannot)."""
    d = tmp_path / "ro"
    d.mkdir()
    _mount(["--bind", str(d), str(d)])
    try:
        _mount(["-o", "remount,bind,ro", str(d)])
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_full_output_disk_stops_keeps_finished_and_fails(reference: Reference, tmp_path: Path, tiny_disk: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(reference.cache, cache)  # all cached: only the writes are under test
    out = tiny_disk / "out"
    done = run_cli(reference.inputs, out, cache, "--batch-size", "1")
    assert done.rc == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "No space left on device" in done.stderr
    assert done.stderr.count("stopped after") == 1, done.stderr  # one clear stop line
    s = done.summary
    # How many of the 4 (all cached, so fast) images were already in flight when the first
    # write failed is a race; the stop itself is the one "stopped after" line above.
    assert s["failed"] >= 1 and s["images"] <= 4
    kept = assert_outputs_sound(out)  # only complete files, no temp files left on the full disk
    assert 1 <= len(kept) < 4
    assert all(reference.hashes[k] == v for k, v in kept.items())
    assert tree_hashes(reference.inputs) == reference.input_hashes


def test_full_cache_disk_goes_on_uncached(reference: Reference, tmp_path: Path, tiny_disk: Path) -> None:
    """The cache only saves time: a full cache disk is reported once and the outputs still come."""
    cache = tiny_disk / "cache"
    cache.mkdir()
    try:  # fills the rest of the disk (the default detector's cache entries are larger than the room left)
        shutil.copytree(reference.cache / "detect", cache / "detect")
    except shutil.Error as err:
        assert all("No space left" in str(e) for e in err.args[0]), err
    done = run_cli(reference.inputs, tmp_path / "out", cache)
    assert done.rc == 0, done.stderr
    assert done.stderr.count("cache: cannot write") == 1, done.stderr
    assert assert_outputs_sound(tmp_path / "out") == reference.hashes
    assert not list(cache.glob("*/*/.tmp-*"))
    assert tree_hashes(reference.inputs) == reference.input_hashes


def test_read_only_output_folder(reference: Reference, tmp_path: Path, read_only_dir: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(reference.cache, cache)
    done = run_cli(reference.inputs, read_only_dir / "out", cache, "--batch-size", "1")
    assert done.rc == 1
    assert "Traceback" not in done.stderr
    assert "Read-only file system" in done.stderr
    assert done.stderr.count("stopped after") == 1, done.stderr
    # Writes already in flight when the first one failed report their own line; no more.
    assert sum("Read-only" in ln for ln in done.stderr.splitlines()) <= 4, done.stderr
    assert not any(read_only_dir.iterdir())
    assert tree_hashes(reference.inputs) == reference.input_hashes
