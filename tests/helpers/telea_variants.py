"""Telea plugins that fail, die or stall on purpose, for the inpainting pool's tests.

Why in the helper package: the pool's worker processes import these classes by module
name (they are pickled by reference), and a child script of the kill test does too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from remove_people.stages.inpaint.opencv import TeleaInpainter

#: The height of 000000223747.jpg: the photo the failing plugin below refuses.
FAIL_HEIGHT = 370


class RefusingTelea(TeleaInpainter):
    """Telea that raises on one photo (by its height), as a plugin bug or a bad crop would."""

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if image.shape[0] == FAIL_HEIGHT:
            raise ValueError("refused on purpose")
        return super().inpaint(image, mask)


class DyingOnceTelea(TeleaInpainter):
    """Telea whose worker process dies (as an out-of-memory kill would) the first time only."""

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        marker = Path(os.environ["RP_TEST_DIE_MARKER"])
        if not marker.exists():
            marker.write_text("died")
            os._exit(1)
        return super().inpaint(image, mask)


class SlowTelea(TeleaInpainter):
    """Telea that first sleeps a minute: a worker busy when its parent dies."""

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        time.sleep(60)
        return super().inpaint(image, mask)
