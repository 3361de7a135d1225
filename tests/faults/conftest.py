"""Fixtures of the fault suite: the photos and one uninterrupted reference run (see faultkit.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.faultkit import PHOTOS, Reference, assert_outputs_sound, run_cli, tree_hashes


@pytest.fixture(scope="session")
def photos(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with copies of the fault photos (copies in a temp folder: tests hash inputs)."""
    d = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        shutil.copy(shared / "data" / "coco-person" / "images" / name, d / name)
    return d


@pytest.fixture(scope="session")
def reference(photos: Path, tmp_path_factory: pytest.TempPathFactory, yolo_weights: Path) -> Reference:
    assert yolo_weights.exists()
    base = tmp_path_factory.mktemp("reference")
    before = tree_hashes(photos)
    done = run_cli(photos, base / "out", base / "cache")
    assert done.rc == 0, done.stderr
    s = done.summary
    assert s["changed"] == 3 and s["unchanged"] == 1, s  # three photos have persons, one has none
    assert tree_hashes(photos) == before
    return Reference(photos, base / "out", base / "cache", assert_outputs_sound(base / "out"), before, done.seconds, s)


