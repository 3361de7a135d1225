"""The evaluation data's folders (in the shared data folder, ``remove_people/shared_data.py``), and
reading it as plain arrays.

Why a helper: every eval command defaults to the read-only ``../shared`` folder (or
``$REMOVE_PEOPLE_SHARED``, or ``eval.shared`` in the config), and a missing folder must say
exactly which option to pass instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from remove_people.shared_data import shared_dir


def coco_person_dir(configured: str | None = None) -> Path:
    return shared_dir(configured) / "data" / "coco-person"


def scenes_dir(configured: str | None = None) -> Path:
    return shared_dir(configured) / "data" / "scenes"


def load_rgb(path: Path) -> np.ndarray:
    """An upright RGB uint8 array; bad files raise ``InputError`` naming the file."""
    from remove_people.pipeline.image_reader import read_image

    return read_image(Path(path)).rgb


def load_hole(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A hole mask (uint8, 255 = hole) of exactly ``shape``; a size mismatch is an error, not a resize."""
    from remove_people.errors import InputError
    from remove_people.pipeline.mask_reader import read_mask

    m = read_mask(Path(path))
    if m.shape != shape:
        raise InputError(path, f"mask is {m.shape[1]}x{m.shape[0]} but its image is {shape[1]}x{shape[0]}; give a mask of the same size")
    return np.where(m > 127, 255, 0).astype(np.uint8)
