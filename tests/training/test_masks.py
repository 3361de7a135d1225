"""Mask generators: convention, hole ratios, reproducibility, the CLI command."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.training.masks import (
    MaskMixer,
    PersonMasks,
    generate_masks,
    hole_ratio,
    lines_circles_mask,
    mask_rng,
)


@pytest.fixture(scope="module")
def persons(shared: Path) -> PersonMasks:
    return PersonMasks(shared / "data" / "coco-person" / "annotations" / "instances.json")


def test_lines_circles_ratio_and_convention() -> None:
    ratios = []
    for i in range(40):
        m = lines_circles_mask(128, mask_rng(3, i), (0.05, 0.4))
        assert m.dtype == np.uint8 and m.shape == (128, 128)
        assert set(np.unique(m)) <= {0, 255}
        ratios.append(hole_ratio(m))
    assert min(ratios) >= 0.05 and max(ratios) < 0.6
    assert np.std(ratios) > 0.05  # a range of hole ratios, not one


def test_seeded_reproducible(persons: PersonMasks) -> None:
    assert np.array_equal(lines_circles_mask(64, mask_rng(1, 2)), lines_circles_mask(64, mask_rng(1, 2)))
    assert not np.array_equal(lines_circles_mask(64, mask_rng(1, 2)), lines_circles_mask(64, mask_rng(1, 3)))
    assert np.array_equal(persons.sample(96, mask_rng(5, 1)), persons.sample(96, mask_rng(5, 1)))


def test_person_masks(persons: PersonMasks) -> None:
    assert len(persons) > 100
    ratios = [hole_ratio(persons.sample(128, mask_rng(0, i))) for i in range(30)]
    assert min(ratios) > 0.005 and max(ratios) < 0.8
    mixer = MaskMixer(persons, p_persons=0.5)
    assert mixer(64, mask_rng(0, 0)).shape == (64, 64)


def test_generate_files_and_command(tmp_path: Path, shared: Path) -> None:
    from typer.testing import CliRunner

    from remove_people.commands.masks import app

    paths = generate_masks("lines-circles", 3, 64, tmp_path / "a", seed=7)
    assert [p.name for p in paths] == [f"lines-circles_{i:06d}.png" for i in range(3)]
    ann = shared / "data" / "coco-person" / "annotations" / "instances.json"
    res = CliRunner().invoke(app, ["generate", "--kind", "persons", "--n", "2", "--size", "48",
                                   "--out", str(tmp_path / "b"), "--seed", "7", "--annotations", str(ann)])
    assert res.exit_code == 0, res.output
    files = sorted((tmp_path / "b").iterdir())
    assert [f.name for f in files] == ["persons_000000.png", "persons_000001.png"]  # no temp files left
    m = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert m.shape == (48, 48) and m.dtype == np.uint8 and m.max() == 255
    res2 = CliRunner().invoke(app, ["generate", "--kind", "persons", "--n", "2", "--size", "48",
                                    "--out", str(tmp_path / "c"), "--seed", "7", "--annotations", str(ann)])
    assert res2.exit_code == 0
    assert (tmp_path / "c" / "persons_000000.png").read_bytes() == files[0].read_bytes()
    # the same masks as the library call with the same seed
    again = generate_masks("lines-circles", 3, 64, tmp_path / "d", seed=7)
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(paths, again))
