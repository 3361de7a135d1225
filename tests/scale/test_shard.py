"""``--shard I/N``: N machines split one folder with no coordinator.

Asserted: the shards of a real folder (../shared/data/coco-person) are disjoint and
cover every input exactly once, the choice does not depend on listing order, and a
malformed spec fails with one line.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from remove_people.errors import UsageError
from remove_people.pipeline.inputs import collect_inputs, select_shard, shard_of


@pytest.fixture(scope="module")
def coco_items(shared: Path) -> list:
    items = collect_inputs(shared / "data" / "coco-person" / "images").items
    assert len(items) == 135
    return items


def test_three_shards_cover_every_input_exactly_once(coco_items: list) -> None:
    shards = [select_shard(coco_items, f"{i}/3") for i in range(3)]
    counts = Counter(it.rel for shard in shards for it in shard)
    assert set(counts) == {it.rel for it in coco_items}
    assert set(counts.values()) == {1}
    # A stable hash spreads a folder evenly enough that no machine idles (135/3 = 45 each).
    assert all(30 <= len(s) <= 60 for s in shards), [len(s) for s in shards]


def test_shard_ignores_listing_order(coco_items: list) -> None:
    shuffled = list(coco_items)
    random.Random(0).shuffle(shuffled)
    for i in range(3):
        assert {it.rel for it in select_shard(shuffled, f"{i}/3")} == {it.rel for it in select_shard(coco_items, f"{i}/3")}


def test_shard_of_is_the_same_on_every_machine() -> None:
    # sha256 of the relative path, not Python's per-process salted hash(): these values are
    # what every machine, Python version and run computes, so a changed hash fails here.
    assert [shard_of(f"{n:012d}.jpg", 3) for n in (139, 790, 802, 1000)] == [0, 2, 1, 0]
    assert shard_of("sub/dir/x.png", 7) == 3
    assert shard_of("a/b.jpg", 1) == 0


@pytest.mark.parametrize("spec", ["3/3", "-1/3", "1", "a/b", "0/0"])
def test_bad_shard_spec_is_one_clear_line(coco_items: list, spec: str) -> None:
    with pytest.raises(UsageError) as err:
        select_shard(coco_items, spec)
    assert "--shard" in str(err.value) and "\n" not in str(err.value)
