"""Helpers for the fault suite (imported by the tests and by conftest.py): run the real ``remove-people run`` CLI in a subprocess,
kill or interrupt it, and check what it left on disk.

Why subprocesses: the promises under test (atomic outputs, a cache that survives
SIGKILL, exit code 130 on Ctrl-C, two runs sharing folders) are about processes
and file systems, so the tests use real processes, real YOLO weights from
``../shared`` and real COCO photos, never mocks of our own code.

Why the reference run's detect cache is reused by the fast tests: loading the YOLO
model costs ~15 s on a busy 2-core machine; the fast tests seed a fresh cache with
the reference run's *detect* entries so they exercise select/refine/inpaint/write
and the cache in a few seconds. The slow tests start from nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from remove_people.pipeline.atomic import is_temp_name
from remove_people.pipeline.cache import ENTRY_TEMP_PREFIX

#: COCO val2017 photos (small, so a run is quick): three with persons, one without.
PHOTOS = ("000000425989.jpg", "000000223747.jpg", "000000183872.jpg", "000000555009.jpg")


def cli_env() -> dict[str, str]:
    """The environment of a child run: offline, the shared weights, unbuffered output."""
    env = dict(os.environ)
    env.update(
        REMOVE_PEOPLE_OFFLINE="1",
        YOLO_OFFLINE="1",
        YOLO_AUTOINSTALL="False",
        YOLO_VERBOSE="False",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    return env


def run_args(inp: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    """argv of ``remove-people run`` with the deterministic telea inpainter and a JSON summary."""
    return [
        sys.executable, "-m", "remove_people.cli", "run", str(inp), "--out", str(out),
        "--cache-dir", str(cache), "--inpainter", "telea", "--json", "--quiet", *extra,
    ]  # fmt: skip


@dataclass
class Done:
    """A finished child run: exit code, streams, and the parsed ``--json`` summary (if any)."""

    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def summary(self) -> dict:
        return json.loads(self.stdout)


def run_raw(args: list[str], cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None) -> Done:
    """``remove-people ARGS`` in a child process, exactly as given (no options added)."""
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "remove_people.cli", *args],
        capture_output=True, text=True, env={**cli_env(), **(env or {})}, timeout=timeout, cwd=cwd,
    )  # fmt: skip
    return Done(p.returncode, p.stdout, p.stderr, time.perf_counter() - t)


def error_lines(stderr: str) -> list[str]:
    """The lines a user reads on stderr (progress-bar redraws dropped)."""
    return [ln for ln in stderr.replace("\r", "\n").splitlines() if ln.strip() and not re.search(r"\beta\b", ln)]


def assert_failed_alone(p: subprocess.CompletedProcess, expected: dict[str, str]) -> dict:
    """A run where exactly the files of ``expected`` failed, each with one line on stderr naming it
    and carrying its phrase, and no traceback; exit 1 (the run went on). Returns the JSON summary."""
    assert "Traceback" not in p.stderr, p.stderr
    assert p.returncode == 1, p.stderr
    s = json.loads(p.stdout)
    reasons = {f["file"]: f["reason"] for f in s["failures"]}
    assert set(reasons) == set(expected), reasons
    for name, phrase in expected.items():
        assert phrase in reasons[name] and "\n" not in reasons[name], (name, reasons[name])
        assert sum(ln.startswith(f"failed: {name}:") for ln in p.stderr.splitlines()) == 1, (name, p.stderr)
    return s


def snapshot(*paths: Path) -> dict[str, str]:
    """Everything under ``paths``: each file's sha256, where each symlink points, what each
    special file is (FIFOs, sockets are listed, never opened). Folders by relative path."""
    out: dict[str, str] = {}
    for root in paths:
        if not os.path.lexists(root):
            out[str(root)] = "missing"
            continue
        entries = [Path(root)] if not Path(root).is_dir() or Path(root).is_symlink() else []
        if not entries:
            for dirpath, dirnames, files in os.walk(root):
                entries += [Path(dirpath) / n for n in dirnames + files]
        for p in entries:
            key = str(p)
            mode = os.lstat(p).st_mode
            if stat.S_ISLNK(mode):
                out[key] = "link->" + os.readlink(p)
            elif stat.S_ISREG(mode):
                out[key] = sha(p)
            elif stat.S_ISDIR(mode):
                out[key] = "dir"
            else:
                out[key] = f"special {stat.S_IFMT(mode)}"
    return out


@contextmanager
def untouched(*paths: Path) -> Iterator[None]:
    """Assert that nothing under ``paths`` (the inputs of a hardening test) changed in the block:
    no file written, added, removed or relinked."""
    before = snapshot(*paths)
    yield
    after = snapshot(*paths)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"inputs changed: {changed[:10]}"


#: Runs argv[1:] and prints its peak RSS (KB) as the last line of stderr. A wrapper of its own, because
#: RUSAGE_CHILDREN in this process is the largest of *all* children so far (earlier tests' YOLO runs too).
_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")


def run_measured(args: list[str], timeout: float) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run a child (full argv); (result, seconds, its own peak RSS in MB, measured by a wrapper process)."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, env=cli_env(), timeout=timeout)
    seconds = time.perf_counter() - t
    err, _, peak = p.stderr.rstrip("\n").rpartition("\n")
    p.stderr = err
    return p, seconds, int(peak) // 1024


def run_cli(inp: Path, out: Path, cache: Path, *extra: str, timeout: float = 300) -> Done:
    t = time.perf_counter()
    p = subprocess.run(run_args(inp, out, cache, *extra), capture_output=True, text=True, env=cli_env(), timeout=timeout)
    return Done(p.returncode, p.stdout, p.stderr, time.perf_counter() - t)


def start_cli(inp: Path, out: Path, cache: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        run_args(inp, out, cache, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )


def kill_at(inp: Path, out: Path, cache: Path, seconds: float, *extra: str) -> int | None:
    """Start a run and SIGKILL it after ``seconds``; the exit code if it finished first, else None."""
    proc = start_cli(inp, out, cache, *extra)
    try:
        proc.wait(timeout=seconds)
        proc.communicate()
        return proc.returncode
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return None


def kill_when(inp: Path, out: Path, cache: Path, ready, *extra: str, timeout: float = 120) -> int | None:
    """Start a run and SIGKILL it as soon as ``ready()`` is true (polled every 5 ms).

    Why polling: a kill timed by a file appearing lands at the same point of the run on a
    fast or a loaded machine. Returns the exit code if the run finished first, else None.
    """
    proc = start_cli(inp, out, cache, *extra)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.communicate()
    return None if proc.returncode == -signal.SIGKILL else proc.returncode


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hashes(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file below ``folder`` (symlinks followed, loops not)."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            p = Path(dirpath) / name
            if p.is_file():
                out[p.relative_to(folder).as_posix()] = sha(p)
    return out


def assert_outputs_sound(out: Path) -> dict[str, str]:
    """Every file under ``out`` is a complete image and none is a temp file; returns their hashes."""
    hashes = {}
    if not out.exists():
        return hashes
    for p in sorted(out.rglob("*")):
        if p.is_dir():
            continue
        assert not is_temp_name(p.name), f"temp file left visible: {p}"
        assert not p.name.startswith("."), f"hidden leftover in the output folder: {p}"
        with Image.open(p) as im:
            im.load()  # decodes every pixel: a truncated file raises here
        hashes[p.relative_to(out).as_posix()] = sha(p)
    return hashes


def cache_entries(cache: Path) -> dict[str, int]:
    """Complete entries per stage, and no leftover ``.tmp-*`` folder counted as one."""
    return {stage: len(complete_entries(cache, stage)) for stage in ("detect", "refine", "inpaint")}


def complete_entries(cache: Path, stage: str) -> list[Path]:
    """The entry folders of ``stage`` that a reader would use: renamed into place, with a meta.json.

    Why the name check: a writer's ``.tmp-*`` folder also holds a meta.json just before its
    rename, and pathlib's ``*`` matches dot-names, so a plain glob counts a half-made entry.
    """
    return [m.parent for m in (cache / stage).glob("*/*/meta.json") if not m.parent.name.startswith(ENTRY_TEMP_PREFIX)]


def assert_cache_sound(cache: Path) -> None:
    """No entry without its meta (a half entry), and every file matches the checksum in meta.json."""
    for stage in ("detect", "refine", "inpaint"):
        for d in (cache / stage).glob("*/*"):
            if d.name.startswith(ENTRY_TEMP_PREFIX):
                continue  # a crashed writer's temp folder: never read as an entry (names never match a key)
            meta = json.loads((d / "meta.json").read_text())
            for name, digest in meta["files"].items():
                assert sha(d / name) == digest, f"corrupt cache file {d / name}"


@dataclass
class Reference:
    """An uninterrupted run of the fault photos: the bytes every other run must reproduce."""

    inputs: Path
    out: Path
    cache: Path
    hashes: dict[str, str]
    input_hashes: dict[str, str]
    seconds: float
    summary: dict


def seed_detect_cache(reference: Reference, cache: Path) -> None:
    """Copy the reference's detect entries into ``cache`` so a run skips loading YOLO."""
    shutil.copytree(reference.cache / "detect", cache / "detect")


# -- COCO annotation files (issue 20 items 8 and 9) ---------------------------------------------

#: The photos of a COCO case: (file name, colour); each has one person-shaped square in its record.
COCO_PHOTOS = (("a.png", (10, 200, 30)), ("b.png", (200, 10, 30)), ("c.png", (30, 10, 200)))


def coco_photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, color in COCO_PHOTOS:
        Image.new("RGB", (64, 48), color).save(folder / name)
    return folder


def coco_doc() -> dict:
    """A valid COCO instances file for ``coco_photos``: image ids 1, 2, 3, one person each."""
    return {
        "images": [{"id": i + 1, "file_name": name, "width": 64, "height": 48} for i, (name, _) in enumerate(COCO_PHOTOS)],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0,
             "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]]}
            for i in (1, 2, 3)
        ],
    }  # fmt: skip

