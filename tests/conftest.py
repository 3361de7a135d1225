"""Shared test fixtures: where ../shared is, and ultralytics kept offline.

Why environment variables at import time: ultralytics reads them when it is first
imported, and writes a settings file into YOLO_CONFIG_DIR, which must not be the
user's home during tests.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_VERBOSE", "False")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="rp-yolo-cfg-"))
os.environ.setdefault("REMOVE_PEOPLE_OFFLINE", "1")
# Tests never write the user's caches: weights cache / sha256 memo and the artifact cache go to temp folders.
os.environ.setdefault("REMOVE_PEOPLE_HOME", tempfile.mkdtemp(prefix="rp-home-"))
os.environ.setdefault("REMOVE_PEOPLE_CACHE", tempfile.mkdtemp(prefix="rp-cache-"))

from remove_people.shared_data import find_shared_dir, shared_candidates  # noqa: E402 - after the YOLO_* settings

REPO = Path(__file__).resolve().parents[1]
SHARED = (find_shared_dir() or shared_candidates()[0]).resolve()
os.environ.setdefault("REMOVE_PEOPLE_MODEL_DIR", str(SHARED / "weights"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only ``../shared`` folder beside the checkout (weights, data, fixtures)."""
    if not (SHARED / "README.md").exists():
        pytest.fail(f"../shared not found at {SHARED}; set REMOVE_PEOPLE_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def yolo_weights(shared: Path) -> Path:
    return shared / "weights" / "yolo11n-seg_from_openvino_int8.pt"


@pytest.fixture(scope="session")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with TorchScript stand-ins of big-lama.pt and migan_traced.pt (see torchscript_standins.py)."""
    from helpers.torchscript_standins import save_lama, save_migan

    folder = tmp_path_factory.mktemp("standins")
    save_lama(folder / "big-lama.pt")
    save_migan(folder / "migan_traced.pt")
    return folder


@pytest.fixture()
def standin_table(standins: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The weights table's lama and migan entries with the stand-ins' MD5s (this process only), so the
    stand-ins pass the checksum gate as the published files would; returns the stand-ins' folder."""
    import dataclasses

    from remove_people.models.hashing import md5_file
    from remove_people.models.weights_table import WEIGHTS

    for name, fname in (("lama", "big-lama.pt"), ("migan", "migan_traced.pt")):
        monkeypatch.setitem(WEIGHTS, name, dataclasses.replace(WEIGHTS[name], md5=md5_file(standins / fname)))
    return standins
