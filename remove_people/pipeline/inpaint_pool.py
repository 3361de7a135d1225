"""Inpainting in worker processes, so every CPU core fills holes while the main process detects.

Why processes, not threads: on a CPU the inpainter is most of a run. Our PatchMatch
(``patchmatch``, the default) spreads one fill over the threads it is given, but a
photo's fills still have serial steps between passes; ``pypatchmatch`` is single-threaded
native code whose random seed is process-global (threads would make results depend on
scheduling); and torch on a few cores spends much of a DeepFillv2 pass in ops that do not
spread over threads. N worker processes with ``cores / N`` threads each keep all cores
busy, and the main process goes on detecting the next batch meanwhile.

Why results do not change: each worker rebuilds the very same plugin class from the
same params (the cache identity is computed in the main process from those params),
and seeded inpainters set their seed before every call.

Safety:
- workers ignore Ctrl-C; the main process handles it and stops them, so an
  interrupted run behaves as without workers (complete files only, resume later);
- a worker whose parent dies (``kill -9``) exits at once instead of lingering;
- a worker that dies (out of memory) fails only the photos it had, with one line
  each; the pool is rebuilt for the rest of the run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class InpaintReply:
    """What a worker sends back: the filled image, or why it failed (never a live exception:
    a plugin's exception class may not survive pickling, and that would break the pool)."""

    result: np.ndarray | None
    seconds: float
    error: str | None = None
    #: ``True`` when the error is a ``RemovePeopleError`` (its message is already user-facing).
    known: bool = False


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_memory_mb() -> float | None:
    """Memory the system can still hand out (``MemAvailable``), or ``None`` where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def parse_workers(setting: Any) -> int | None:
    """``run.inpaint_workers`` as a count, or ``None`` for ``auto``; anything else is a usage error."""
    if setting in (None, "auto"):
        return None
    if isinstance(setting, bool) or not str(setting).strip().isdigit():
        from remove_people.errors import UsageError

        raise UsageError(f"run.inpaint_workers: expected auto or a count of processes (0 = none), got {setting!r}")
    return int(setting)


def plan_workers(setting: Any, inpainter: Any, images: int) -> tuple[int, int]:
    """``(workers, threads per worker)`` for ``run.inpaint_workers`` (``auto`` or a count).

    ``auto``: no workers when the inpainter runs on a GPU (the accelerator is the
    parallelism there), for a single photo (starting workers costs more than it saves),
    or on one core; otherwise one worker per core, at most 8, and no more than half the
    available memory holds at the inpainter's ``worker_memory_mb`` each (a DeepFillv2
    worker carries torch and its own generator: about 1 GB).
    """
    cores = cpu_cores()
    workers = parse_workers(setting)
    if workers is None:
        if images < 2 or cores < 2 or inpainter.uses_accelerator():
            return 0, 0
        workers = min(cores, 8)
        free = available_memory_mb()
        if free is not None:
            workers = min(workers, int(free / 2 // max(1, inpainter.worker_memory_mb)))
        if workers < 2:  # one worker beside the main process only moves the work elsewhere
            return 0, 0
    if workers <= 0:
        return 0, 0
    return workers, max(1, cores // workers)


# -- the worker side ------------------------------------------------------------------------

_STAGE: Any = None
_THREADS = 1


def _exit_with_parent() -> None:
    """Leave as soon as the parent is gone, so a killed run leaves no busy orphans."""
    parent = mp.parent_process()
    if parent is None:
        return
    from multiprocessing.connection import wait

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="rp-parent-watch", daemon=True).start()


def _init_worker(stage_cls: type, params: Any, threads: int, weights_settings: dict[str, Any]) -> None:
    """Runs once in each worker: thread limits first (before torch or OpenCV start their pools).

    ``weights_settings``: the parent's ``--model-dir`` / ``--offline`` (``weights.configure``),
    so the worker finds the same weight files as the parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    _exit_with_parent()
    import cv2

    cv2.setNumThreads(threads)
    from remove_people.models.locations import configure

    configure(**weights_settings)
    global _STAGE, _THREADS
    _STAGE = stage_cls(params)
    _THREADS = threads


def _started() -> None:
    """A no-op task: submitting one per worker makes the pool start them all at once."""


def run_inpaint(stage: Any, image: np.ndarray, mask: np.ndarray, exclude: np.ndarray | None = None) -> InpaintReply:
    """Fill one photo with ``stage``, turning a per-photo failure into a reply (here or in a worker)."""
    import cv2

    from remove_people.errors import RemovePeopleError, short_reason

    t = time.perf_counter()
    try:
        out = stage.inpaint(image, mask, exclude) if exclude is not None else stage.inpaint(image, mask)
        return InpaintReply(out, time.perf_counter() - t)
    except RemovePeopleError as err:
        return InpaintReply(None, time.perf_counter() - t, short_reason(err), known=True)
    except (ValueError, RuntimeError, MemoryError, cv2.error) as err:
        return InpaintReply(None, time.perf_counter() - t, f"{type(err).__name__}: {err}")


def _inpaint_in_worker(image: np.ndarray, mask: np.ndarray, exclude: np.ndarray | None = None) -> InpaintReply:
    if "torch" in sys.modules:  # set lazily: only torch inpainters pay for importing torch
        import torch

        if torch.get_num_threads() != _THREADS:
            torch.set_num_threads(_THREADS)
    try:
        return run_inpaint(_STAGE, image, mask, exclude)
    except Exception as err:  # noqa: BLE001 - an odd plugin exception must not break the pool
        return InpaintReply(None, 0.0, f"{type(err).__name__}: {err}")


# -- the main-process side --------------------------------------------------------------------


def _weights_settings() -> dict[str, Any]:
    from remove_people.models.locations import configured

    return configured()


class InpaintPool:
    """A pool of worker processes, each holding its own copy of one inpainter plugin.

    Started on the first ``submit`` (so a run that needs no inpainting starts nothing).
    """

    def __init__(self, inpainter: Any, workers: int, threads: int) -> None:
        self._cls = type(inpainter)
        self._params = inpainter.params
        self.workers = workers
        self.threads = threads
        self._pool: ProcessPoolExecutor | None = None
        #: Bumped each time a broken pool is replaced, so that several futures failing
        #: together replace it once, not once each (which would kill the fresh one).
        self.generation = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),  # fork after torch/OpenCV threads start can deadlock
                initializer=_init_worker,
                initargs=(self._cls, self._params, self.threads, _weights_settings()),
            )
            # Start every worker now, with Ctrl-C ignored: a terminal's Ctrl-C reaches the whole
            # process group, and a worker still starting up would print a traceback for it.
            # (An ignored signal stays ignored across the exec that starts a worker.)
            in_main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
            try:
                for _ in range(self.workers):
                    pool.submit(_started)
            finally:
                if previous is not None:  # None: a handler installed outside Python, left as it was
                    signal.signal(signal.SIGINT, previous)
            self._pool = pool
        return self._pool

    def submit(self, image: np.ndarray, mask: np.ndarray, exclude: np.ndarray | None = None) -> Future:
        """Fill ``mask`` in ``image`` in a worker; the future yields an ``InpaintReply``.

        The future carries ``generation``: pass it to ``restart`` if it fails with
        ``BrokenProcessPool``.
        """
        try:
            fut = self._executor().submit(_inpaint_in_worker, image, mask, exclude)
        except BrokenProcessPool:
            self.restart(self.generation)
            fut = self._executor().submit(_inpaint_in_worker, image, mask, exclude)
        fut.generation = self.generation  # type: ignore[attr-defined]
        return fut

    def restart(self, generation: int) -> None:
        """Drop the pool of ``generation`` if it is still the current one (a worker died)."""
        if generation == self.generation:
            self.close(force=True)
            self.generation += 1

    def close(self, force: bool = False) -> None:
        """Stop the workers: politely at the end of a run, at once (``force``) on Ctrl-C or a crash."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if force:
            procs = list(getattr(pool, "_processes", {}).values())  # no public handle on the workers
            # A photo may be half-way into the pipe to a worker we are about to stop: the queue's
            # feeder thread would then block on that write forever, and joining it (the executor
            # does, and so does the interpreter at exit) would hang the process. What is still
            # queued is dropped anyway.
            call_queue = getattr(pool, "_call_queue", None)
            if call_queue is not None:
                call_queue.cancel_join_thread()
            result_queue = getattr(pool, "_result_queue", None)  # (shutdown() drops the executor's reference)
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
            # The other way round: a worker stopped half-way through writing its result leaves a
            # partial message in the result pipe. The executor's thread sees the pipe readable,
            # blocks in recv() for the rest, and the interpreter joins that thread at exit: runs
            # hung after printing their summary (SIGTERM with two workers: 2 runs in 26; 0 in 60
            # with this; faulthandler showed the thread in recv). Once the workers are gone this
            # process holds the pipe's last write end: closing it turns the wait into end-of-file,
            # which the executor treats as a broken pool, and its thread ends.
            if result_queue is not None and not any(p.is_alive() for p in procs):
                result_queue._writer.close()
        else:
            pool.shutdown(wait=True, cancel_futures=True)
