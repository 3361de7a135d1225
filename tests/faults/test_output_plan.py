"""The output plan through the real CLI (issue 20 items 1-4 and 12, issue 16 item 2): no output
overwrites another, nothing is written into an input tree or the cache, a bad ``--out``
fails once up front, hidden image files are reported, and one photo works without ``--out``.

Why ``--masks`` with an all-zero mask: every photo then passes through unchanged, so each
output must be byte-identical to its own input, which proves which input it came from
(and that nothing was lost) without loading YOLO. The single-photo test uses the real
default detector, with the reference run's detections in its cache.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.faultkit import Reference, error_lines, run_raw, seed_detect_cache, sha, snapshot, untouched

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]


def photo(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".png": "PNG"}[path.suffix.lower()]  # '..jpg' has no extension for Pillow
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def zero_mask(tmp_path: Path) -> Path:
    m = tmp_path / "zero.png"
    Image.new("L", (40, 30), 0).save(m)
    return m


def run(args: list[str], tmp_path: Path, cwd: Path | None = None):
    """``remove-people run ARGS`` with every photo passed through (all-zero mask), telea, a JSON summary."""
    return run_raw(["run", *args, "--masks", str(zero_mask(tmp_path)), "-i", "telea", "--json", "--cache-dir", str(tmp_path / "cache")], cwd=cwd)


def outputs_by_input(summary: dict) -> dict[str, Path]:
    return {o["rel"]: Path(o["output"]) for o in summary["outcomes"]}


def test_same_name_other_suffix_with_format(tmp_path: Path) -> None:
    """Case 1: a.jpg + a.png with --format png: two outputs, each from its own input, a warning."""
    inp = tmp_path / "in"
    photo(inp / "a.jpg", COLORS[0])
    photo(inp / "a.png", COLORS[1])
    with untouched(inp):
        done = run([str(inp), "-o", str(tmp_path / "out"), "--format", "png"], tmp_path)
    assert done.rc == 0, done.stderr
    outs = outputs_by_input(done.summary)
    assert outs == {"a.png": tmp_path / "out" / "a.png", "a.jpg": tmp_path / "out" / "a-2.png"}  # its own name wins
    for rel, color in (("a.jpg", COLORS[0]), ("a.png", COLORS[1])):
        px = np.asarray(Image.open(outs[rel]).convert("RGB"), np.int16)
        assert np.abs(px - np.array(color)).max() <= 3, (rel, px[0, 0])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-2.png", "a.png"]
    lines = [ln for ln in error_lines(done.stderr) if ln.startswith("warning: a.jpg:")]
    assert len(lines) == 1 and "written as a-2.png" in lines[0], done.stderr


def test_names_differing_only_in_case(tmp_path: Path) -> None:
    """Case 1: a.jpg + a.JPG are one file on macOS/Windows disks: both kept, byte for byte."""
    inp = tmp_path / "in"
    photo(inp / "a.jpg", COLORS[0])
    photo(inp / "a.JPG", COLORS[1])
    with untouched(inp):
        done = run([str(inp), "-o", str(tmp_path / "out")], tmp_path)
    assert done.rc == 0, done.stderr
    outs = outputs_by_input(done.summary)
    assert len({str(p).casefold() for p in outs.values()}) == 2, outs
    for rel, out in outs.items():
        assert out.read_bytes() == (inp / rel).read_bytes(), rel  # nothing overwritten
    assert sum("differing only in case" in ln for ln in error_lines(done.stderr)) == 1, done.stderr


def test_list_naming_one_file_name_in_two_folders(tmp_path: Path) -> None:
    """Case 1: a list naming x/a.jpg and y/a.jpg by absolute path (both would be a.jpg), and the
    same photo twice: every photo written once, none lost."""
    inp = tmp_path / "in"
    x, y = photo(inp / "x" / "a.jpg", COLORS[0]), photo(inp / "y" / "a.jpg", COLORS[1])
    listing = tmp_path / "list.txt"
    listing.write_text(f"{x}\n{y}\n{x}\n")
    with untouched(inp, listing):
        done = run([str(listing), "-o", str(tmp_path / "out")], tmp_path)
    assert done.rc == 0, done.stderr
    s = done.summary
    assert s["images"] == 2, s  # the repeated line is processed once, and said so
    assert any("processed once" in w for w in s["warnings"]), s["warnings"]
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["a-2.jpg", "a.jpg"]
    assert sorted(sha(p) for p in written) == sorted([sha(x), sha(y)])


def test_nested_layout_is_refused_before_any_write(tmp_path: Path) -> None:
    """Case 2: run c5/photos --out c5 would write photos/x.jpg into the input tree and overwrite
    the input x.mask.png: refused up front, one line, exit 2, nothing written."""
    c5 = tmp_path / "c5"
    photo(c5 / "photos" / "photos" / "x.jpg", COLORS[0])
    Image.new("L", (40, 30), 0).save(c5 / "photos" / "x.mask.png")
    with untouched(c5):
        done = run([str(c5 / "photos"), "--out", str(c5), "--save-masks"], tmp_path)
    assert done.rc == 2, done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "inside the input folder" in lines[0], lines
    assert "Traceback" not in done.stderr


def test_flat_folder_photo_and_its_mask_name(tmp_path: Path) -> None:
    """Case 2: b.jpg and b.mask.png side by side with --save-masks: b.jpg's mask keeps
    b.mask.png, the photo named b.mask.png gets b.mask-2.png; nothing lost."""
    inp = tmp_path / "in"
    photo(inp / "b.jpg", COLORS[0])
    photo(inp / "b.mask.png", COLORS[1])
    out = tmp_path / "out"
    with untouched(inp):
        done = run([str(inp), "-o", str(out), "--save-masks"], tmp_path)
    assert done.rc == 0, done.stderr
    assert outputs_by_input(done.summary) == {"b.jpg": out / "b.jpg", "b.mask.png": out / "b.mask-2.png"}
    assert (out / "b.jpg").read_bytes() == (inp / "b.jpg").read_bytes()
    assert (out / "b.mask-2.png").read_bytes() == (inp / "b.mask.png").read_bytes()
    for mask in (out / "b.mask.png", out / "b.mask-2.mask.png"):  # each photo's own mask
        with Image.open(mask) as m:
            assert m.mode == "L" and m.size == (40, 30) and m.getextrema() == (0, 0)


def test_output_subfolder_symlinked_into_the_input(tmp_path: Path) -> None:
    """Case 3: out/sub -> in/sub would put results and masks inside the input: refused."""
    inp, out = tmp_path / "in", tmp_path / "out"
    photo(inp / "sub" / "y.jpg", COLORS[0])
    photo(inp / "z.jpg", COLORS[1])
    out.mkdir()
    os.symlink(inp / "sub", out / "sub")
    with untouched(inp, out):
        done = run([str(inp), "-o", str(out), "--save-masks"], tmp_path)
    assert done.rc == 2, done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and "through a symlink" in lines[0], lines


def test_cache_inside_the_input_is_refused(tmp_path: Path) -> None:
    """Case 4: a cache inside the input folder (by option or by $REMOVE_PEOPLE_CACHE) is refused."""
    inp = tmp_path / "in"
    photo(inp / "a.jpg", COLORS[0])
    with untouched(inp):
        by_option = run_raw(
            ["run", str(inp), "-o", str(tmp_path / "o1"), "--masks", str(zero_mask(tmp_path)), "-i", "telea", "--cache-dir", str(inp / "cache")]
        )
        by_env = run_raw(
            ["run", str(inp), "-o", str(tmp_path / "o2"), "--masks", str(zero_mask(tmp_path)), "-i", "telea"],
            env={"REMOVE_PEOPLE_CACHE": str(inp / ".cache")},
        )
    for done in (by_option, by_env):
        assert done.rc == 2, done.stderr
        lines = error_lines(done.stderr)
        assert len(lines) == 1 and "is inside the input folder" in lines[0] and "cache" in lines[0], lines
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    # With --no-cache there is no cache to refuse.
    done = run_raw(["run", str(inp), "-o", str(tmp_path / "o3"), "--masks", str(zero_mask(tmp_path)), "-i", "telea", "--no-cache"],
                   env={"REMOVE_PEOPLE_CACHE": str(inp / ".cache")})  # fmt: skip
    assert done.rc == 0, done.stderr


def test_out_naming_an_existing_file_fails_once(tmp_path: Path) -> None:
    """Case 12: --out FILE is one usage error up front, not one failure per image."""
    inp = tmp_path / "in"
    for i, c in enumerate(COLORS):
        photo(inp / f"p{i}.jpg", c)
    target = tmp_path / "afile"
    target.write_text("mine")
    with untouched(inp, target):
        done = run([str(inp), "-o", str(target)], tmp_path)
        under = run([str(inp), "-o", str(target / "sub")], tmp_path)
    for d in (done, under):
        assert d.rc == 2, d.stderr
        lines = error_lines(d.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: --out") and "file" in lines[0], lines


def test_hidden_image_names_are_reported(tmp_path: Path) -> None:
    """Case 12: '..jpg' (a hidden name) is not processed silently: one warning names it."""
    inp = tmp_path / "in"
    photo(inp / "..jpg", COLORS[0])
    photo(inp / "a.jpg", COLORS[1])
    with untouched(inp):
        done = run([str(inp), "-o", str(tmp_path / "out")], tmp_path)
    assert done.rc == 0, done.stderr
    assert [o["rel"] for o in done.summary["outcomes"]] == ["a.jpg"]
    notes = [ln for ln in error_lines(done.stderr) if "hidden" in ln]
    assert len(notes) == 1 and "'..jpg'" in notes[0], done.stderr
    # Named directly, it is processed.
    single = run([str(inp / "..jpg"), "-o", str(tmp_path / "out2")], tmp_path)
    assert single.rc == 0 and single.summary["unchanged"] == 1, single.stderr


def test_one_photo_without_out_relative_and_absolute(reference: Reference, tmp_path: Path) -> None:
    """Issue 16 item 2: `remove-people run photo.jpg` (relative and absolute) writes
    photo-no-people.jpg beside the photo and exits 0, with the default detector."""
    name = "000000425989.jpg"  # has a person
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(reference.inputs / name, folder / name)
    cache = tmp_path / "cache"
    seed_detect_cache(reference, cache)  # the reference's YOLO detections: no model load
    expected = reference.out / name
    result = folder / "000000425989-no-people.jpg"
    before = snapshot(folder / name)
    for spec, cwd in ((name, folder), (str(folder / name), tmp_path)):
        done = run_raw(["run", spec, "-i", "telea", "--cache-dir", str(cache)], cwd=cwd)
        assert done.rc == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert result.read_bytes() == expected.read_bytes(), spec  # the person is removed, as in the reference
        assert f"outputs: {Path(spec).with_name(result.name)}" in done.stderr
        result.unlink()
    assert sorted(p.name for p in folder.iterdir()) == [name]
    assert snapshot(folder / name) == before
    # --format and --save-masks follow the same name.
    done = run_raw(["run", name, "-i", "telea", "--cache-dir", str(cache), "--format", "png", "--save-masks", "--json"], cwd=folder)
    assert done.rc == 0, done.stderr
    assert json.loads(done.stdout)["outcomes"][0]["output"] == "000000425989-no-people.png"
    assert sorted(p.name for p in folder.iterdir()) == sorted([name, "000000425989-no-people.mask.png", "000000425989-no-people.png"])
