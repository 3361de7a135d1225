"""Inpainting in worker processes (``pipeline/inpaint_pool.py``): same bytes, failures stay per photo.

Why these tests: the pool exists for speed, and speed must not change a single output
byte, lose a photo when a worker fails or dies, or leave busy processes behind a
killed run. Real COCO photos and their COCO person masks, real PatchMatch and OpenCV.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from remove_people.config import Config, build_stage
from remove_people.pipeline.cache import ArtifactCache
from remove_people.pipeline.inpaint_pool import InpaintPool, plan_workers
from remove_people.pipeline.inputs import collect_inputs
from remove_people.pipeline.runner import Pipeline
from remove_people.stages.inpaint.opencv import TeleaInpainter

from helpers.telea_variants import DyingOnceTelea, RefusingTelea

#: Three photos with persons (different sizes), one without.
PHOTOS = ("000000425989.jpg", "000000223747.jpg", "000000183872.jpg", "000000555009.jpg")


@pytest.fixture()
def photos(shared: Path, tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for name in PHOTOS:
        (src / name).write_bytes((shared / "data/coco-person/images" / name).read_bytes())
    return src


def _run(shared: Path, photos: Path, out: Path, inpainter: str, workers: int, swap: type | None = None) -> dict:
    cfg = Config.load(
        overrides=[
            "detect.plugin=masks",
            f"detect.masks.path={shared / 'data/coco-person/annotations/instances.json'}",
            f"inpaint.plugin={inpainter}",
            f"run.inpaint_workers={workers}",
            "run.batch_size=2",
        ]
    )
    pipe = Pipeline(cfg, cache=ArtifactCache(out.parent / f"{out.name}-cache", enabled=False))
    if swap is not None:
        pipe.inpainter = swap(pipe.inpainter.params)
    try:
        summary = pipe.run(collect_inputs(photos), out)
    finally:
        pipe.close()
    return {
        "summary": summary,
        "bytes": {p.name: p.read_bytes() for p in sorted(out.iterdir())},
    }


def test_workers_write_the_same_bytes_as_one_process(shared: Path, photos: Path, tmp_path: Path) -> None:
    """PatchMatch is seeded per call, so two workers must reproduce the in-process outputs exactly."""
    alone = _run(shared, photos, tmp_path / "alone", "patchmatch", 0)
    pooled = _run(shared, photos, tmp_path / "pooled", "patchmatch", 2)
    assert alone["summary"].exit_code() == 0 and pooled["summary"].exit_code() == 0
    statuses = sorted(o.status for o in pooled["summary"].outcomes)
    assert statuses == ["changed", "changed", "changed", "unchanged"], statuses
    assert pooled["bytes"].keys() == alone["bytes"].keys() == set(PHOTOS)
    for name in PHOTOS:
        assert pooled["bytes"][name] == alone["bytes"][name], name
    # Not a pass-through: the photos with persons really were inpainted.
    assert pooled["bytes"]["000000183872.jpg"] != (photos / "000000183872.jpg").read_bytes()
    assert pooled["summary"].stage_seconds.get("inpaint", 0) > 0  # worker time is reported


def test_a_photo_failing_in_a_worker_fails_alone(shared: Path, photos: Path, tmp_path: Path) -> None:
    got = _run(shared, photos, tmp_path / "out", "telea", 2, swap=RefusingTelea)
    summary = got["summary"]
    failed = [o for o in summary.outcomes if o.status == "failed"]
    assert [o.rel for o in failed] == ["000000223747.jpg"]
    assert "refused on purpose" in failed[0].message and "000000223747.jpg" in failed[0].message
    assert summary.exit_code() == 1
    assert set(got["bytes"]) == set(PHOTOS) - {"000000223747.jpg"}  # the others were written


def test_a_worker_that_dies_is_replaced_and_its_photo_retried(
    shared: Path, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RP_TEST_DIE_MARKER", str(tmp_path / "died"))
    got = _run(shared, photos, tmp_path / "out", "telea", 2, swap=DyingOnceTelea)
    reference = _run(shared, photos, tmp_path / "ref", "telea", 0)
    assert (tmp_path / "died").exists(), "the worker never died: the test did not test anything"
    assert got["summary"].exit_code() == 0, [o.message for o in got["summary"].outcomes]
    assert got["bytes"] == reference["bytes"]


def test_workers_leave_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed run must not leave workers busy (or holding the terminal's pipes) behind."""
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, sys, time
            import numpy as np
            from remove_people.pipeline.inpaint_pool import InpaintPool
            from remove_people.config import build_stage
            from helpers.telea_variants import SlowTelea

            if __name__ == "__main__":  # spawned workers import this file again
                pool = InpaintPool(SlowTelea(build_stage("inpaint", "telea").params), 2, 1)
                img = np.zeros((32, 32, 3), np.uint8); hole = np.zeros((32, 32), np.uint8); hole[8:16, 8:16] = 255
                futs = [pool.submit(img, hole) for _ in range(2)]
                while len(pool._pool._processes) < 2:
                    time.sleep(0.05)
                time.sleep(1.0)
                print(json.dumps(list(pool._pool._processes)), flush=True)
                time.sleep(60)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    pids = json.loads(line)
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "workers outlived their killed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_plan_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from remove_people.errors import UsageError
    from remove_people.pipeline import inpaint_pool

    cpu = build_stage("inpaint", "telea")
    monkeypatch.setattr(inpaint_pool, "cpu_cores", lambda: 4)
    monkeypatch.setattr(inpaint_pool, "available_memory_mb", lambda: 64_000.0)
    assert plan_workers("auto", cpu, 1) == (0, 0)  # one photo: starting workers costs more than it saves
    assert plan_workers("auto", cpu, 100) == (4, 1)
    assert plan_workers(0, cpu, 100) == (0, 0)
    assert plan_workers("3", cpu, 100) == (3, 1)
    assert plan_workers(2, cpu, 100) == (2, 2)
    # Memory caps auto: half of 2.5 GB free holds one 1 GB worker -> not worth a pool; 5 GB -> 2.
    big = type("Big", (TeleaInpainter,), {"worker_memory_mb": 1000})(cpu.params)
    monkeypatch.setattr(inpaint_pool, "available_memory_mb", lambda: 2_500.0)
    assert plan_workers("auto", big, 100) == (0, 0)
    monkeypatch.setattr(inpaint_pool, "available_memory_mb", lambda: 5_000.0)
    assert plan_workers("auto", big, 100) == (2, 2)
    assert plan_workers(3, big, 100) == (3, 1)  # an explicit count is the user's call
    monkeypatch.setattr(inpaint_pool, "cpu_cores", lambda: 1)
    assert plan_workers("auto", cpu, 100) == (0, 0)
    with pytest.raises(UsageError, match="run.inpaint_workers"):
        plan_workers("many", cpu, 100)

    class OnGpu(TeleaInpainter):
        def uses_accelerator(self) -> bool:
            return True

    assert plan_workers("auto", OnGpu(cpu.params), 100) == (0, 0)


def test_pool_is_started_only_when_used(tmp_path: Path) -> None:
    pool = InpaintPool(build_stage("inpaint", "telea"), 2, 1)
    assert pool._pool is None
    pool.close()  # closing an unstarted pool is a no-op


def test_a_bad_worker_count_fails_before_any_work(tmp_path: Path) -> None:
    from remove_people.errors import UsageError

    # The setting's type and range are checked when the configuration is built, before any Pipeline.
    with pytest.raises(UsageError, match="run.inpaint_workers=many: expected an integer from 0 to 256 or auto"):
        Config.load(overrides=["run.inpaint_workers=many", "inpaint.plugin=telea"])
    cfg = Config.load(overrides=["inpaint.plugin=telea"])
    cfg.run["inpaint_workers"] = "many"  # set behind the checker's back: the pipeline still refuses it
    with pytest.raises(UsageError, match="expected auto or a count"):
        Pipeline(cfg, cache=ArtifactCache(tmp_path / "cache", enabled=False))


def test_a_forced_close_frees_the_executor_thread_from_a_half_written_result() -> None:
    """A worker stopped while writing its result leaves a partial message in the result pipe; the
    executor's thread then blocked in recv() for the rest, and the interpreter joins that thread at
    exit: a run hung after Ctrl-C/SIGTERM about 1 time in 10. Here the partial message is written
    on purpose (a length header promising 1,000 bytes, then 3): after ``close(force=True)`` the
    thread must end, not wait forever."""
    img = np.zeros((32, 32, 3), np.uint8)
    hole = np.zeros((32, 32), np.uint8)
    hole[8:16, 8:16] = 255
    pool = InpaintPool(build_stage("inpaint", "telea"), workers=1, threads=1)
    assert pool.submit(img, hole).result(timeout=120) is not None
    executor = pool._pool
    thread = executor._executor_manager_thread
    os.write(executor._result_queue._writer.fileno(), struct.pack("!i", 1000) + b"abc")
    time.sleep(0.5)  # the thread sees the pipe readable and waits in recv() for the other 997 bytes
    pool.close(force=True)
    thread.join(timeout=20)
    assert not thread.is_alive(), "the executor's thread still waits for the rest of a result nobody will write"
