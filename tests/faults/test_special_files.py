"""Files that are not photos, runs stopped by SIGTERM, and photos with more than one frame
(issue 20 items 6 and 12), through the real CLI.

Why these together: each is about what reading an input may do to the process (block
forever, fill memory, lose frames) or what a stop signal leaves behind, so each runs
the CLI in a child process with a hard timeout, and checks time and memory where the
failure was a hang or a runaway.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.faultkit import (
    Reference,
    assert_failed_alone,
    assert_outputs_sound,
    error_lines,
    run_cli,
    run_measured,
    run_raw,
    seed_detect_cache,
    start_cli,
    untouched,
)


def _special_files(folder: Path) -> tuple[dict[str, str], socket.socket]:
    """A FIFO and a (bound, live) socket with photo names: name -> the phrase its one line must carry."""
    os.mkfifo(folder / "fifo.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.jpg"))
    return {"fifo.jpg": "named pipe (FIFO)", "sock.jpg": "socket"}, sock


def _photos(folder: Path, n: int = 2) -> list[str]:
    names = []
    for i in range(n):
        Image.new("RGB", (40, 30), (40 * i, 100, 200)).save(folder / f"p{i}.png")
        names.append(f"p{i}.png")
    return names


def test_fifo_socket_and_device_are_refused_not_read(tmp_path: Path) -> None:
    """Case 6: fifo.jpg in the folder hung the run forever; /dev/zero in a list file grew memory
    to 7 GB. Each is now one line (only regular files are read), the photos still run, and
    the run is quick and small."""
    inp = tmp_path / "in"
    inp.mkdir()
    bad, sock = _special_files(inp)
    good = _photos(inp)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([str(inp / "fifo.jpg"), "/dev/zero", "/dev/urandom", *(str(inp / g) for g in good)]) + "\n")
    mask = tmp_path / "zero.png"
    Image.new("L", (40, 30), 0).save(mask)
    common = ["--masks", str(mask), "-i", "telea", "--json", "--cache-dir", str(tmp_path / "cache")]
    with sock, untouched(inp, listing):
        cli = [sys.executable, "-m", "remove_people.cli", "run"]
        folder_run, t1, rss1 = run_measured([*cli, str(inp), "-o", str(tmp_path / "o1"), *common], timeout=120)
        list_run, t2, rss2 = run_measured([*cli, str(listing), "-o", str(tmp_path / "o2"), *common], timeout=120)
    expected_list = {"fifo.jpg": "named pipe (FIFO)", "zero": "device", "urandom": "device"}
    for p, expected in ((folder_run, bad), (list_run, expected_list)):
        s = assert_failed_alone(p, {name: f"{phrase}, not a regular image file" for name, phrase in expected.items()})
        assert {o["rel"] for o in s["outcomes"] if o["status"] == "unchanged"} == set(good)
    assert max(t1, t2) < 60, (t1, t2)
    assert max(rss1, rss2) < 1500, (rss1, rss2)


def test_fifo_named_as_input_mask_or_annotations_is_a_usage_error(tmp_path: Path) -> None:
    """A FIFO given as INPUT, --masks or --annotations: one line, exit 2, nothing opened."""
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    photos = tmp_path / "in"
    photos.mkdir()
    _photos(photos, 1)
    json_fifo = tmp_path / "ann.json"
    os.mkfifo(json_fifo)
    with untouched(photos):
        runs = [
            run_raw(["run", str(fifo), "-o", str(tmp_path / "o1"), "-i", "telea"], timeout=60),
            run_raw(["run", str(photos), "-o", str(tmp_path / "o2"), "--masks", str(fifo), "-i", "telea"], timeout=60),
            run_raw(["run", str(photos), "-o", str(tmp_path / "o3"), "--masks", str(json_fifo), "-i", "telea"], timeout=60),
            run_raw(["coco", "-a", str(json_fifo), "--images", str(photos), "-o", str(tmp_path / "o4"), "-i", "telea"], timeout=60),
        ]
    for done in runs:
        assert done.rc == 2, done.stderr
        lines = error_lines(done.stderr)
        assert len(lines) == 1 and "named pipe (FIFO)" in lines[0], lines


def test_sigterm_stops_like_ctrl_c(reference: Reference, tmp_path: Path) -> None:
    """Case 12: SIGTERM (kill, timeout, systemd, CI) ended a run with 143, no summary and a
    leaked-semaphore warning. Now: exit 130 (the README's "interrupted"), the JSON summary,
    no traceback or warning, complete outputs, and a re-run finishes to the reference bytes.
    Inpainting runs in two worker processes, whose semaphores the warning was about."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    seed_detect_cache(reference, cache)
    with untouched(reference.inputs):
        proc = start_cli(reference.inputs, out, cache, "--batch-size", "1", "--workers", "2")
        deadline = time.monotonic() + 120
        while proc.poll() is None and not any(out.glob("*.jpg")) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before SIGTERM could be sent"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr and "leaked" not in stderr, stderr
        s = json.loads(stdout)
        assert s["interrupted"] is True and s["exit_code"] == 130
        left = assert_outputs_sound(out)
        assert left and all(reference.hashes[k] == v for k, v in left.items())
        done = run_cli(reference.inputs, out, cache)
        assert done.rc == 0 and assert_outputs_sound(out) == reference.hashes


def test_multi_frame_inputs_warn_and_keep_the_first_frame(tmp_path: Path) -> None:
    """Case 12: an APNG, a multi-page TIFF and an animated WebP each get one warning naming the
    file (only the first frame is processed); a changed result is that first frame alone."""
    inp = tmp_path / "in"
    inp.mkdir()
    first, second = Image.new("RGB", (40, 30), (200, 30, 30)), Image.new("RGB", (40, 30), (30, 200, 30))
    first.save(inp / "anim.png", save_all=True, append_images=[second])
    first.save(inp / "pages.tif", save_all=True, append_images=[second, second])
    first.save(inp / "anim.webp", save_all=True, append_images=[second], lossless=True)
    first.save(inp / "still.png")
    hole = np.zeros((30, 40), np.uint8)
    hole[10:20, 15:25] = 255
    mask = tmp_path / "hole.png"
    Image.fromarray(hole).save(mask)
    out = tmp_path / "out"
    with untouched(inp):
        p = run_raw(["run", str(inp), "-o", str(out), "--masks", str(mask), "-i", "telea", "--json", "--format", "png",
                     "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert p.rc == 0, p.stderr
    notes = [ln for ln in error_lines(p.stderr) if ln.startswith("warning:")]
    for name, phrase in (("anim.png", "2 frames"), ("pages.tif", "3 pages"), ("anim.webp", "2 frames")):
        mine = [ln for ln in notes if ln.startswith(f"warning: {name}:") and "only the first" in ln]
        assert len(mine) == 1 and phrase in mine[0], notes
    assert not any("still.png" in ln for ln in notes)
    outs = {o["rel"]: o["output"] for o in p.summary["outcomes"]}
    assert sorted(Path(v).name for v in outs.values()) == ["anim-2.png", "anim.png", "pages.png", "still.png"]
    for name in ("anim.png", "pages.tif", "anim.webp"):
        with Image.open(outs[name]) as im:
            assert getattr(im, "n_frames", 1) == 1, name
            assert np.array_equal(np.asarray(im.convert("RGB"))[0, 0], [200, 30, 30]), name
