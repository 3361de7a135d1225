"""Every usage error of every command: one line on stderr, no traceback, exit code 2, nothing written.

Why through the real entry point (``remove_people.cli:main``, and the ``remove-people``
script for a few): the handler that turns typer's exceptions into one line is what
broke on a clean install (it imported ``click``, which typer no longer installs), and
only the entry point exercises it. CI runs this file in a fresh venv holding only what
``pyproject.toml`` declares.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from remove_people.cli import app, main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def work(tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder holding one photo (``in/a.jpg``), a COCO file and a bad config; the cwd."""
    (tmp_path / "in").mkdir()
    photo = next((shared / "data/coco-person/images").glob("*.jpg"))
    (tmp_path / "in" / "a.jpg").write_bytes(photo.read_bytes())
    (tmp_path / "bad.yaml").write_text("run:\n  batch_size: lots\n")
    (tmp_path / "notyaml.yaml").write_text("run: [unclosed\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "afile").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    return tmp_path


ANN = "{shared}/data/coco-person/annotations/instances.json"
IMGS = "{shared}/data/coco-person/images"
COCO = ["coco", "-a", ANN, "--images", IMGS, "-o", "out"]

# (argv, a fragment the one line must contain). Each command and each option a user can
# mistype, as they would mistype it.
CASES: list[tuple[list[str], str]] = [
    # the program and its commands
    ([], "missing command; choose one of run"),
    (["frobnicate"], "no such command 'frobnicate'"),
    (["--bogus"], "no such option: --bogus"),
    (["run"], "missing argument 'INPUT'"),
    (["run", "in", "--bogus"], "no such option: --bogus"),
    (["run", "in", "extra"], "unexpected extra argument"),
    (["models"], "missing command; choose one of list"),
    (["eval"], "missing command; choose one of inpaint"),
    (["train"], "missing command; choose one of pconv"),
    (["masks"], "missing command; choose one of generate"),
    (["cache"], "missing command; choose one of info"),
    (["cache", "wipe"], "no such command 'wipe'"),
    # run: every option with a value
    (["run", "in", "--quality", "500"], "--quality 500: expected an integer from 1 to 100"),
    (["run", "in", "--quality", "0"], "--quality 0: expected an integer from 1 to 100"),
    (["run", "in", "--quality", "high"], "'--quality'"),
    (["run", "in", "--format", "gif"], "--format gif: expected one of jpeg"),
    (["run", "in", "--max-pixels", "-5"], "--max-pixels -5: expected an integer from 1"),
    (["run", "in", "--max-pixels", "many"], "'--max-pixels'"),
    (["run", "in", "--batch-size", "0"], "--batch-size 0: expected an integer from 1"),
    (["run", "in", "--workers", "-1"], "--workers -1: expected an integer from 0 to 256"),
    (["run", "in", "--feather", "-3"], "--feather -3: expected an integer from 0"),
    (["run", "in", "--feather", "100000"], "--feather 100000: expected an integer from 0 to 1024"),
    (["run", "in", "--min-person-area", "2"], "--min-person-area 2.0: expected a finite number from 0 to 1"),
    (["run", "in", "--max-person-area", "nan"], "--max-person-area nan: expected a finite number"),
    (["run", "in", "--min-conf", "-0.1"], "--min-conf -0.1: expected a finite number from 0 to 1"),
    (["run", "in", "--keep", "tallest"], "--keep 'tallest': expected largest, center or a number"),
    (["run", "in", "--keep-mask", "nope.png"], "--keep-mask nope.png: no such file"),
    (["run", "in", "-i", "no-such-fill"], "--inpainter no-such-fill: unknown inpainter 'no-such-fill'; valid inpainters"),
    (["run", "in", "--detector", "sam"], "--detector sam: unknown detector 'sam'"),
    (["run", "in", "--refiner", "grow"], "--refiner grow: unknown refiner 'grow'"),
    (["run", "in", "--masks", "m", "--detector", "yolo"], "--masks uses the masks detector"),
    (["run", "in", "--refiner", "none", "--shadows"], "--shadows works with the morphology refiner"),
    (["run", "in", "--executor", "spark"], "--executor spark: valid executors"),
    (["run", "in", "--stage-concurrency", "detect=0"], "--stage-concurrency 'detect=0'"),
    (["run", "in", "--ray-address", "auto"], "need --executor ray"),
    (["run", "in", "--shard", "3/2"], "--shard"),
    (["run", "in", "--config", "missing.yaml"], "missing.yaml: cannot read config"),
    (["run", "in", "--config", "bad.yaml"], "bad.yaml: run.batch_size = 'lots': expected an integer"),
    (["run", "in", "--config", "notyaml.yaml"], "notyaml.yaml: not valid YAML"),
    (["run", "in", "--detector-weights", "yolo99-seg"], "unknown weights 'yolo99-seg'"),
    (["run", "nothing-here"], "nothing-here"),
    (["run", "in", "--masks", "nowhere"], "--masks nowhere: no such file or folder"),
    (["run", "in", "--cache-dir", "afile"], "--cache-dir afile: is a file, not a folder"),
    (["run", "in", "--executor", "local", "--stage-batch-size", "load"], "--stage-batch-size 'load'"),
    # run: --set, each way a setting can be wrong (issue 20, items 7 and 11)
    (["run", "in", "--set", "refine.morphology.dilate=100000"], "--set refine.morphology.dilate=100000: expected an integer from 0 to 512"),
    (["run", "in", "--set", "run.batch_size=abc"], "--set run.batch_size=abc: expected an integer"),
    (["run", "in", "--set", "run.max_pixels=abc"], "--set run.max_pixels=abc: expected an integer"),
    (["run", "in", "--set", "run.torch_threads=abc"], "--set run.torch_threads=abc: expected an integer from 1 to 1024 or null"),
    (["run", "in", "--set", "run.cache_dir=123"], "--set run.cache_dir=123: expected a path or null"),
    (["run", "in", "--set", "refine.dilate_frac=nan"], "--set refine.dilate_frac=nan: expected a finite number from 0 to 1"),
    (["run", "in", "--set", "inpaint.radius=!!python/object/apply:os.system ['touch pwned']"], "YAML tags are not accepted"),
    (["run", "in", "--set", "run.format=!ruby x"], "YAML tags are not accepted"),
    (["run", "in", "--set", "refine.dilat=3"], "morphology has no parameter 'dilat'; valid: dilate"),
    (["run", "in", "--set", "run.bogus=1"], "unknown key 'bogus' in run; valid: batch_size"),
    (["run", "in", "--set", "nosection.x=1"], "unknown section 'nosection'"),
    (["run", "in", "--set", "refine"], "expected SECTION.KEY=VALUE"),
    (["run", "in", "--set", "detect.yolo.conf=1.5"], "--set detect.yolo.conf=1.5: expected a finite number from 0 to 1"),
    (["run", "in", "--set", "detect.yolo.classes=person"], "expected a list of integers"),
    (["run", "in", "--set", "inpaint.plugin=no-such-fill"], "unknown inpainter 'no-such-fill'"),
    (["run", "in", "--set", "inpaint.deepfillv2.precision=fp8"], "expected one of fp32, fp16, bf16"),
    (["run", "in", "--set", "detect.yolo.device=tpu"], "--set detect.yolo.device=tpu: expected a device"),
    (["run", "in", "--set", "executor.ray.detect.batch_size=0"], "expected an integer from 1 to 1024"),
    (["run", "in", "--set", "select.keep_mask=[1]"], "expected a text or null"),
    (["run", "in", "--set", "run.skip_existing=maybe"], "expected true or false"),
    (["run", "in", "--set", "models.offline=sometimes"], "expected true or false or null"),
    # coco
    (["coco"], "missing option '--annotations'"),
    (["coco", "-a", ANN], "missing option '--images'"),
    ([*COCO, "--write", "pdf"], "--write pdf: valid: images, json, both"),
    ([*COCO, "--image-ids", "1,x"], "--image-ids '1,x': expected comma-separated integers"),
    ([*COCO, "--limit", "0"], "'--limit'"),
    ([*COCO, "--min-person-area", "3"], "'--min-person-area'"),
    ([*COCO, "-i", "no-such-fill"], "--inpainter no-such-fill: unknown inpainter"),
    ([*COCO, "--set", "refine.dilate=-1"], "--set refine.dilate=-1: expected an integer from 0 to 512"),
    ([*COCO, "--config", "bad.yaml"], "expected an integer"),
    (["coco", "-a", "missing.json", "--images", IMGS, "-o", "out"], "missing.json"),
    # eval
    (["eval", "inpaint", "--limit", "0"], "'--limit'"),
    (["eval", "inpaint", "--sets", "faces"], "--sets faces: valid sets"),
    (["eval", "inpaint", "--inpainters", "telea,no-such-fill"], "--inpainters no-such-fill: unknown inpainter 'no-such-fill'"),
    (["eval", "inpaint", "--masks", "m"], "--masks and --peer go with --images"),
    (["eval", "inpaint", "--seed", "-1"], "'--seed'"),
    (["eval", "inpaint", "--set", "eval.hole_ratio=[0.5]"], "expected a list of 2 finite numbers"),
    (["eval", "inpaint", "--set", "eval.hole_max_persons=0"], "expected an integer from 1 to 50"),
    (["eval", "detect", "--detector", "sam"], "--detector sam: valid: yolo, masks"),
    (["eval", "detect", "--conf", "2"], "'--conf'"),
    (["eval", "detect", "--max-det", "0"], "'--max-det'"),
    (["eval", "detect", "--image-ids", "x"], "--image-ids 'x'"),
    (["eval", "detect", "--set", "eval.detect_conf=-1"], "expected a finite number from 0 to 1"),
    (["eval", "removal", "in"], "give ORIGINALS and RESULTS"),
    (["eval", "removal", "in", "data", "--split", "val2017"], "go with --annotations"),
    (["eval", "removal", "--worst", "-1"], "'--worst'"),
    (["eval", "removal", "in", "nowhere"], "nowhere: not a folder"),
    (["eval", "removal", "in", "data", "--min-inside", "2"], "'--min-inside'"),
    (["eval", "removal", "in", "data", "--conf", "-1"], "'--conf'"),
    # models
    (["models", "list", "--role", "painter"], "--role painter: valid roles"),
    (["models", "fetch"], "missing argument 'NAME...'"),
    (["models", "fetch", "nope"], "unknown weights 'nope'"),
    (["models", "info", "nope"], "unknown weights 'nope'"),
    (["models", "info"], "missing argument 'NAME'"),
    (["models", "verify", "--set", "models.dir=7"], "--set models.dir=7: expected a path or null"),
    # train
    (["train", "pconv"], "missing option '--data'"),
    (["train", "pconv", "--data", "nowhere"], "--data nowhere is not a folder"),
    (["train", "pconv", "--data", "data", "--device", "gpu"], "--split split.csv: no such file"),
    (["train", "pconv", "--data", "data", "--split", "afile", "--device", "gpu"], "--device gpu: expected auto, cpu, cuda or cuda:N"),
    (["train", "pconv", "--data", "data", "--split", "afile", "--out", "afile"], "--out afile: is a file"),
    (["train", "pconv", "--data", "data", "--batch-size", "0"], "'--batch-size'"),
    (["train", "pconv", "--data", "data", "--lr", "-1"], "'--lr'"),
    (["train", "pconv", "--data", "data", "--p-persons", "2"], "'--p-persons'"),
    (["train", "pconv", "--data", "data", "--size", "100000"], "'--size'"),
    (["train", "deepfillv2", "--data", "data", "--split", "afile", "--layout", "onnx"], "--layout must be tf or pt"),
    (["train", "deepfillv2", "--data", "data", "--split", "afile", "--device", "tpu"], "--device tpu"),
    (["train", "deepfillv2", "--data", "data", "--split", "nope.csv"], "--split nope.csv: no such file"),
    (["train", "deepfillv2", "--data", "data", "--steps", "0"], "'--steps'"),
    (["train", "deepfillv2", "--data", "data", "--gan-weight", "-1"], "'--gan-weight'"),
    # masks
    (["masks", "generate", "--kind", "blobs", "--n", "1", "--out", "m"], "unknown mask kind 'blobs'"),
    (["masks", "generate", "--kind", "persons", "--n", "0", "--out", "m"], "'--n'"),
    (["masks", "generate", "--kind", "persons", "--n", "1", "--size", "100000", "--out", "m"], "'--size'"),
    (["masks", "generate", "--kind", "persons", "--n", "1", "--out", "m", "--min-ratio", "0.5", "--max-ratio", "0.1"], "--min-ratio"),
    (["masks", "generate", "--kind", "persons", "--n", "1", "--out", "m", "--annotations", "none.json"], "annotations not found"),
    (["masks", "generate", "--kind", "persons", "--n", "1", "--out", "afile"], "--out afile: is a file, not a folder"),
    # cache
    (["cache", "clear", "--stage", "decode"], "--stage decode: valid stages"),
    (["cache", "info", "--cache-dir"], "'--cache-dir' requires an argument"),
    # plugins
    (["plugins", "--set", "inpaint.radius=3"], "patchmatch has no parameter 'radius'"),
]


def _argv(case: list[str], shared: Path) -> list[str]:
    return [a.format(shared=shared) for a in case]


def _case_id(case: tuple[list[str], str]) -> str:
    return " ".join(case[0])[:60] or "(no arguments)"


def _assert_one_line(code: int, err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}, stderr: {err}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("error: "), lines[0]
    assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_usage_error_is_one_line_and_exit_2(case: tuple[list[str], str], work: Path, shared: Path, capsys) -> None:
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    code = main(_argv(case[0], shared))
    out = capsys.readouterr()
    _assert_one_line(code, out.err, case[1])
    assert out.out == ""
    # Nothing ran: no output folder, no new file anywhere in the scratch folder.
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before


def test_every_command_has_usage_error_cases() -> None:
    """A new command (or a renamed one) must come with its own mistyped-usage cases above."""
    import typer

    def leaves(cmd, path):  # noqa: ANN001
        subs = getattr(cmd, "commands", None)
        if not subs:
            yield path
            return
        for name, sub in subs.items():
            yield from leaves(sub, [*path, name])

    covered = [tuple(argv) for argv, _ in CASES]
    root = typer.main.get_command(app)
    for path in leaves(root, []):
        assert any(c[: len(path)] == tuple(path) for c in covered), f"no usage-error case for `remove-people {' '.join(path)}`"


def test_no_module_imports_click() -> None:
    """click is not a dependency (typer vendors its own copy since 0.29); importing it breaks a clean install."""
    pattern = re.compile(r"^\s*(import click\b|from click\b)", re.M)
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "remove_people").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def _script() -> str:
    """The installed ``remove-people`` console script of this interpreter's environment."""
    here = Path(sys.executable).parent / "remove-people"
    found = str(here) if here.exists() else shutil.which("remove-people")
    if not found:
        pytest.fail("the remove-people console script is not installed (pip install -e .)")
    return found


@pytest.mark.parametrize(
    "args, fragment",
    [
        ([], "missing command"),
        (["run"], "missing argument 'INPUT'"),
        (["run", "x", "--bogus"], "no such option: --bogus"),
        (["frobnicate"], "no such command 'frobnicate'"),
        (["run", "x", "--quality", "500"], "--quality 500"),
    ],
)
def test_console_script_usage_errors(args: list[str], fragment: str, tmp_path: Path) -> None:
    """The issue's acceptance, through the real script in a subprocess (a fresh interpreter:
    nothing a test imported earlier can hide a missing dependency)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([_script(), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    _assert_one_line(res.returncode, res.stderr, fragment)
    assert "click" not in res.stderr


def test_help_keeps_brackets_and_reads_right(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich markup must not eat ``[ray]`` or ``[default: …]``; the usage line names INPUT plainly;
    flags carry no ``<bool>`` label."""
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert "pip install 'remove-people[ray]'" in " ".join(text.split())
    assert "run [OPTIONS] INPUT" in text and "{input}" not in text and "{INPUT}" not in text
    assert "<bool>" not in text
    assert main(["masks", "generate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "[default: ../shared/data/coco-person/annotations/instances.json]" in text
    assert "[0.01 lines-circles, 0.02 persons]" in text
