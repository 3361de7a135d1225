"""SIGTERM handled like Ctrl-C: the run stops cleanly, prints its summary and exits 130.

Why: ``kill PID``, ``timeout``, systemd, Docker and CI runners stop a process with
SIGTERM, not SIGINT. Left to Python's default, SIGTERM ended a run at once with exit
143, no summary, inpainting workers orphaned and a ``leaked semaphore`` warning from
multiprocessing. Turned into ``KeyboardInterrupt``, it takes the same, tested path as
Ctrl-C: finished outputs are complete, temp files are removed, workers are stopped, and
the README's exit code for "interrupted" (130) is returned.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        # None: a handler installed outside Python; the default is the closest we can restore.
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
