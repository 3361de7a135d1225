"""Acceptance for ``--executor ray``: the same pipeline on a local Ray gives the same bytes.

A dozen real COCO photos (10 with persons, 2 without) go through the CLI twice, with
the shared YOLO weights and the deterministic ``telea`` inpainter: once with the local
executor, once as a Ray Data job on ``ray.init(num_cpus=2)``. Asserted: every output
file is byte-identical, both caches hold the very same entries (same keys, same bytes),
and a later local run over the Ray-filled cache loads no model and misses nothing.

Marked ``ray``: it needs the optional extra and starts Ray (~10-20 s), so the default
suite skips it; CI runs it in its second step (``pytest -m ray``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remove_people.cli import main

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    """A small local Ray for this module: 2 CPUs, a 200 MB object store, no dashboard."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def dozen(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A list file naming 12 images of ../shared/data/coco-person (read in place, never copied)."""
    root = shared / "data" / "coco-person"
    coco = json.loads((root / "annotations" / "instances.json").read_text())
    with_person = {a["image_id"] for a in coco["annotations"] if a["category_id"] == 1}
    images = sorted(coco["images"], key=lambda r: r["file_name"])
    picks = [i["file_name"] for i in images if i["id"] in with_person][:10]
    picks += [i["file_name"] for i in images if i["id"] not in with_person][:2]
    listing = tmp_path_factory.mktemp("inputs") / "dozen.txt"
    listing.write_text("".join(f"{root / 'images' / name}\n" for name in picks))
    return listing


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, dict]:
    code = main(["run", *args, "--inpainter", "telea", "--json", "--quiet"])
    out = capsys.readouterr()
    summary = json.loads(out.out) if out.out.strip().startswith("{") else {"stdout": out.out}
    summary["stderr"] = out.err
    return code, summary


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_ray_executor_matches_local_byte_for_byte(local_ray, dozen: Path, tmp_path: Path, yolo_weights: Path, capsys) -> None:
    common = [str(dozen), "--detector-weights", str(yolo_weights)]
    code, local = run_cli([*common, "--out", str(tmp_path / "out-local"), "--cache-dir", str(tmp_path / "cache-local")], capsys)
    assert code == 0, local["stderr"]
    code, on_ray = run_cli(
        [*common, "--out", str(tmp_path / "out-ray"), "--cache-dir", str(tmp_path / "cache-ray"), "--executor", "ray"], capsys
    )
    assert code == 0, on_ray["stderr"]

    # The content is real work: persons found and removed, and the two empty photos copied through.
    assert local["images"] == 12 and local["changed"] >= 8 and local["unchanged"] >= 2 and local["persons"] >= 10
    for key in ("images", "persons", "changed", "unchanged", "failed"):
        assert on_ray[key] == local[key], key
    assert on_ray["settings"]["executor"] == "ray"
    assert on_ray["models_loaded"] == local["models_loaded"] == ["detect:yolo", "inpaint:telea", "refine:morphology"]
    assert on_ray["cache"]["misses"] == local["cache"]["misses"]

    out_local, out_ray = tree(tmp_path / "out-local"), tree(tmp_path / "out-ray")
    assert len(out_local) == 12 and sorted(out_ray) == sorted(out_local)
    differing = [name for name in out_local if out_local[name] != out_ray[name]]
    assert not differing, f"outputs differ: {differing}"

    cache_local, cache_ray = tree(tmp_path / "cache-local"), tree(tmp_path / "cache-ray")
    assert sum(1 for k in cache_local if k.endswith("meta.json")) >= 12 + 12 + 10  # detect + refine + inpaint entries
    assert sorted(cache_ray) == sorted(cache_local)
    differing = [name for name in cache_local if cache_local[name] != cache_ray[name]]
    assert not differing, f"cache entries differ: {differing[:5]}"

    # The Ray-filled cache serves a later local run completely.
    code, again = run_cli([*common, "--out", str(tmp_path / "out-again"), "--cache-dir", str(tmp_path / "cache-ray")], capsys)
    assert code == 0, again["stderr"]
    assert again["models_loaded"] == []
    assert all(n == 0 for n in again["cache"]["misses"].values()), again["cache"]
    assert tree(tmp_path / "out-again") == out_local


def test_ray_executor_fails_a_bad_input_alone(local_ray, dozen: Path, tmp_path: Path, yolo_weights: Path, capsys) -> None:
    (tmp_path / "in").mkdir()
    bad = tmp_path / "in" / "broken.jpg"  # outside --out: the output folder may not be inside an input folder
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    listing = tmp_path / "with-bad.txt"
    listing.write_text(dozen.read_text().splitlines()[0] + f"\n{bad}\n")
    code, summary = run_cli(
        [str(listing), "--detector-weights", str(yolo_weights), "--out", str(tmp_path / "out"),
         "--cache-dir", str(tmp_path / "cache"), "--executor", "ray"], capsys,
    )
    assert code == 1
    assert summary["changed"] == 1 and summary["failed"] == 1
    (failure,) = summary["failures"]
    assert failure["file"] == "broken.jpg" and "broken.jpg" in failure["reason"] and "\n" not in failure["reason"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [Path(dozen.read_text().splitlines()[0]).name]
