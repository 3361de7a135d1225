"""The one look-up of the shared data folder (``remove_people/shared_data.py``): its order, and a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from remove_people.errors import UsageError
from remove_people.shared_data import coco_person_annotations, find_shared_dir, shared_dir


def test_the_setting_then_the_environment_then_the_default(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    (other / "data").mkdir(parents=True)
    monkeypatch.setenv("REMOVE_PEOPLE_SHARED", str(shared))
    assert shared_dir() == shared
    assert shared_dir(other) == other  # eval.shared wins over the environment
    assert coco_person_annotations() == shared / "data/coco-person/annotations/instances.json"
    assert coco_person_annotations().is_file()


def test_a_folder_without_data_is_passed_over_and_nothing_found_is_one_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("REMOVE_PEOPLE_SHARED", str(empty))
    monkeypatch.chdir(tmp_path)  # no ../shared here
    found = find_shared_dir()
    assert found != empty  # only a folder with data/ counts (beside the checkout, if there is one)
    monkeypatch.setattr("remove_people.shared_data.shared_candidates", lambda configured=None: [empty])
    with pytest.raises(UsageError, match=r"shared data folder was not found \(looked in .*empty\); set REMOVE_PEOPLE_SHARED"):
        shared_dir()
