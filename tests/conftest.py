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

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REMOVE_PEOPLE_SHARED", REPO.parent / "shared")).resolve()
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
