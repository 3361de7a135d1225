"""Atomic writes: the target is either the old file or the complete new one, and no temp is left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remove_people.pipeline import atomic
from remove_people.pipeline.atomic import atomic_open, atomic_write_bytes, is_temp_name


def test_write_creates_parents_and_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.png"
    atomic_write_bytes(target, b"hello")
    assert target.read_bytes() == b"hello"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]


def test_replace_failure_keeps_old_target_and_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.jpg"
    target.write_bytes(b"old complete file")

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_failure_without_old_target_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic.os, "replace", lambda s, d: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "new.png", b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


def test_exception_in_body_discards_partial_write(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as fh:
            fh.write(b"partial")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_fsync_failure_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def bad_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(atomic.os, "fsync", bad_fsync)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_bytes(tmp_path / "x.png", b"data")
    assert list(tmp_path.iterdir()) == []


def test_temp_is_hidden_in_same_folder(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "photo 1.jpg"
    seen: list[str] = []
    with atomic_open(target, "wb") as fh:
        seen = [p.name for p in target.parent.iterdir()]
        fh.write(b"1")
    assert len(seen) == 1 and seen[0].startswith(".photo 1.jpg.") and is_temp_name(seen[0])
    assert not is_temp_name("photo.jpg")
    assert target.read_bytes() == b"1"


def test_text_mode(tmp_path: Path) -> None:
    with atomic_open(tmp_path / "m.json", "w", encoding="utf-8") as fh:
        fh.write("{\"ü\": 1}")
    assert (tmp_path / "m.json").read_text(encoding="utf-8") == "{\"ü\": 1}"


def test_rejects_non_write_modes(tmp_path: Path) -> None:
    for mode in ("rb", "ab", "r+b"):
        with pytest.raises(ValueError):
            with atomic_open(tmp_path / "x", mode):
                pass


def test_overwrite_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    atomic_write_bytes(target, b"one")
    ino_before = os.stat(target).st_ino
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.stat(target).st_ino != ino_before  # a new file was renamed over, not rewritten in place
