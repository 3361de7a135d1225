"""COCO subset selection and safe file names, on the shared coco-person annotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from remove_people.errors import UsageError
from remove_people.evaluation.coco_subset import CocoSubset, safe_image_path


@pytest.fixture(scope="module")
def coco(shared: Path) -> CocoSubset:
    d = shared / "data" / "coco-person"
    return CocoSubset.load(d / "annotations" / "instances.json", d / "images")


def test_counts_match_the_dataset_readme(coco: CocoSubset) -> None:
    assert len(coco.records) == 135 and not coco.problems and not coco.missing()
    val = coco.select(split="val2017")
    assert len(val.records) == 59
    assert len(val.select(with_persons=True).records) == 47
    assert len(val.select(with_persons=False).records) == 12
    assert all(r.persons == 0 for r in coco.select(with_persons=False).records)


def test_ids_limit_seed_and_person_area(coco: CocoSubset) -> None:
    assert coco.select(image_ids=[5001, 139]).ids == [139, 5001]
    assert coco.select(limit=4).ids == sorted(coco.ids)[:4]
    a = coco.select(limit=5, seed=7).ids
    assert a == coco.select(limit=5, seed=7).ids and a != coco.select(limit=5, seed=8).ids and len(set(a)) == 5
    big = coco.select(min_person_area=0.2)
    assert big.records and all(r.largest_person_frac >= 0.2 for r in big.records)
    assert len(big.records) < len(coco.select(with_persons=True).records)
    with pytest.raises(UsageError, match="not in"):
        coco.select(image_ids=[123456789])


def test_crowd_regions_are_counted(coco: CocoSubset) -> None:
    rec = next(r for r in coco.records if r.id == 5001)
    assert rec.crowd_persons >= 1 and rec.persons > rec.crowd_persons


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", "a/../../x.jpg", "C:\\Windows\\x.jpg", "\\\\server\\share\\x.jpg", "..\\x.jpg", ""],
)
def test_names_that_escape_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    path, why = safe_image_path(tmp_path, name)
    assert path is None and why


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    os.symlink("/etc", root / "etc")
    path, why = safe_image_path(root, "etc/passwd")
    assert path is None and "symlink" in why
    ok, why = safe_image_path(root, "sub/a.jpg")
    assert ok == root / "sub" / "a.jpg" and why is None


def test_refused_records_are_reported_with_id_and_field(tmp_path: Path, shared: Path) -> None:
    src = json.loads((shared / "data" / "coco-person" / "annotations" / "instances.json").read_text())
    src["images"][0]["file_name"] = "../../etc/passwd"
    ann = tmp_path / "bad.json"
    ann.write_text(json.dumps(src))
    sub = CocoSubset.load(ann, shared / "data" / "coco-person" / "images")
    bad_id = src["images"][0]["id"]
    assert any(f"image id {bad_id}" in p and "../../etc/passwd" in p and "file_name" in p for p in sub.problems)
    assert bad_id not in sub.select().ids


def test_unreadable_annotations_name_the_file(tmp_path: Path, shared: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="x.json: not a COCO annotation file"):
        CocoSubset.load(bad, shared / "data" / "coco-person" / "images")
