"""The one options layer: flags and ``--set`` reach the chosen plugin in any order, ``--model-dir`` /
``--offline`` travel in the Config (not ``os.environ``), ``models list`` looks weights up as ``run``
does, and the messages a first run meets name the next step."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.cli import main
from remove_people.commands.options import build_config, pipeline_plugins
from remove_people.config import build_stage
from remove_people.models.locations import configured
from remove_people.models.weights_entry import Role, WeightsEntry
from remove_people.models.weights_table import register_entry, unregister_entry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def photo(tmp_path: Path, shared: Path) -> tuple[Path, Path]:
    """One real photo as PNG (lossless, so results compare exactly) and a rectangular hole mask for it."""
    src = next((shared / "data/coco-person/images").glob("*.jpg"))
    rgb = cv2.imread(str(src))
    (tmp_path / "in").mkdir()
    img = tmp_path / "in" / "p.png"
    cv2.imwrite(str(img), rgb)
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    mask[h // 3 : h // 2, w // 3 : w // 2] = 255
    m = tmp_path / "hole.png"
    cv2.imwrite(str(m), mask)
    return img, m


@pytest.mark.parametrize(
    "argv",
    [
        ["-i", "telea", "--set", "inpaint.radius=3"],
        ["--set", "inpaint.radius=3", "-i", "telea"],
        ["--set", "inpaint.radius=3", "--set", "inpaint.plugin=telea"],
    ],
    ids=["-i first", "--set first", "--set plugin after"],
)
def test_set_reaches_the_chosen_inpainter_in_either_order(argv: list[str], photo, tmp_path: Path, capsys) -> None:
    img, hole = photo
    out = tmp_path / "out"
    code = main(["run", str(img), "-o", str(out), "--masks", str(hole), "--refiner", "none", "--no-cache",
                 "--workers", "0", "--json", "--quiet", *argv])  # fmt: skip
    res = capsys.readouterr()
    assert code == 0, res.err
    result = cv2.imread(str(out / "p.png"))
    rgb = cv2.cvtColor(cv2.imread(str(img)), cv2.COLOR_BGR2RGB)
    mask = cv2.imread(str(hole), cv2.IMREAD_GRAYSCALE)
    want3 = build_stage("inpaint", "telea", radius=3).inpaint(rgb, mask)
    want5 = build_stage("inpaint", "telea", radius=5).inpaint(rgb, mask)
    got = cv2.cvtColor(result, cv2.COLOR_BGR2RGB)
    assert not np.array_equal(want3, want5)  # the radius matters, so the comparison can fail
    assert np.array_equal(got, want3), "the run did not use telea with radius 3"


def test_pconv_weights_reach_pconv_from_either_side(photo, tmp_path: Path, capsys) -> None:
    img, hole = photo
    weights = tmp_path / "my-run" / "model.pt"
    for overrides, plugins in (
        (["inpaint.weights=" + str(weights)], {"inpaint": ("--inpainter", "pconv")}),
        (["inpaint.weights=" + str(weights), "inpaint.plugin=pconv"], {}),
    ):
        cfg = build_config((), overrides, plugins=plugins)
        assert cfg.plugin_name("inpaint") == "pconv"
        assert build_stage("inpaint", config=cfg).params.weights == str(weights)
        assert "weights" not in cfg.plugin_params("inpaint", "patchmatch")
    # End to end, --set before -i: pconv's own look-up names the file (exit 2: nothing could start).
    code = main(["run", str(img), "-o", str(tmp_path / "out"), "--masks", str(hole), "--set", f"inpaint.weights={weights}",
                 "-i", "pconv", "--workers", "0", "--quiet", "--no-cache"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"weight file not found: {weights}" in err, err
    assert not (tmp_path / "out" / "p.png").exists()


def test_shared_key_goes_to_the_chosen_plugin_only() -> None:
    cfg = build_config((), ["inpaint.max_side=300"], plugins={"inpaint": ("-i", "telea")})
    assert cfg.plugin_params("inpaint", "telea")["max_side"] == 300
    assert cfg.plugin_params("inpaint", "patchmatch")["max_side"] == 768


def test_set_comes_after_the_flags() -> None:
    cfg = build_config(
        (), ["inpaint.feather=5", "run.batch_size=2"],
        plugins=pipeline_plugins(inpainter="telea"),
        flags=[("--feather 3", "inpaint.feather", 3), ("--batch-size 4", "run.batch_size", 4)],
    )  # fmt: skip
    assert cfg.plugin_params("inpaint")["feather"] == 5 and cfg.run["batch_size"] == 2


def test_model_dir_and_offline_travel_in_the_config_not_the_environment(tmp_path: Path, shared: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", "")
    monkeypatch.delenv("REMOVE_PEOPLE_OFFLINE", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    def environment() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "YOLO_OFFLINE"}  # ultralytics' own switch may be set

    env_before, before = environment(), configured()
    code = main(["models", "list", "--model-dir", str(shared / "weights"), "--offline"])
    out = capsys.readouterr().out
    assert code == 0
    assert "yes (model-dir)" in out  # the folder was searched ...
    assert environment() == env_before  # ... without writing REMOVE_PEOPLE_* into the environment ...
    assert configured() == before  # ... and the setting does not outlive the command
    cfg = build_config((), [], model_dir=shared / "weights", offline=True)
    assert cfg.models == {"dir": str(shared / "weights"), "offline": True}


def _run_script(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "remove-people"
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([str(script), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_models_list_shows_the_detector_run_uses_with_the_relative_env_folder(tmp_path: Path) -> None:
    """The issue's acceptance: `export REMOVE_PEOPLE_MODEL_DIR=../shared/weights; remove-people models list`."""
    res = _run_script(["models", "list"], cwd=REPO, env={"REMOVE_PEOPLE_MODEL_DIR": "../shared/weights", "COLUMNS": "300"})
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if " yolo11n-seg (run's detector) " in line)
    assert "yes, substitute (yolo11n-seg-openvino-int8)" in row and "yolo11n-seg_from_openvino_int8.pt" in row


def _refused_url() -> str:
    """An address on this machine where nothing listens: the connection is refused at once."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/yolo-test.pt"


def test_download_failure_says_what_to_do_without_network(tmp_path: Path, photo, monkeypatch, capsys) -> None:
    img, _ = photo
    entry = WeightsEntry(name="yolo-unreachable", role=Role.DETECTOR, filename="yolo-unreachable.pt", urls=(_refused_url(),))
    register_entry(entry)
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", "")
    try:
        code = main(["run", str(img), "-o", str(tmp_path / "out"), "--detector-weights", "yolo-unreachable", "--online", "--quiet"])
    finally:
        unregister_entry("yolo-unreachable")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err  # nothing ran
    assert len(lines) == 1 and lines[0].startswith("error: could not download 'yolo-unreachable'")
    for step in ("--model-dir", "--offline", "remove-people models fetch yolo-unreachable", "put yolo-unreachable.pt"):
        assert step in lines[0]
    assert not (tmp_path / "out").exists()


def test_substitute_notice_silent_under_quiet_and_once_in_coco(tmp_path: Path, shared: Path) -> None:
    env = {"REMOVE_PEOPLE_MODEL_DIR": str(shared / "weights"), "REMOVE_PEOPLE_CACHE": str(tmp_path / "cache")}
    photo = next((shared / "data/coco-person/images").glob("*.jpg"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / photo.name).write_bytes(photo.read_bytes())
    notice = "'yolo11n-seg' not found; using substitute"
    quiet = _run_script(["run", "in", "-o", "out1", "-i", "telea", "--quiet"], cwd=tmp_path, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert notice not in quiet.stderr and quiet.stderr.strip() == ""
    ann = shared / "data/coco-person/annotations/instances.json"
    coco = _run_script(["coco", "-a", str(ann), "--images", str(shared / "data/coco-person/images"), "-o", "out3",
                        "--limit", "1", "-i", "telea", "--write", "both", "--no-cache"], cwd=tmp_path, env=env)  # fmt: skip
    assert coco.returncode == 0, coco.stderr
    assert coco.stderr.count(notice) == 1  # said (no --quiet), once


def test_models_loaded_line_is_honest(tmp_path: Path, photo, capsys, monkeypatch) -> None:
    img, hole = photo
    monkeypatch.setenv("COLUMNS", "200")
    base = ["run", str(img.parent), "--masks", str(hole), "--refiner", "none", "-i", "telea", "--workers", "0"]
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main([*base, "-o", str(tmp_path / "o1"), *cache]) == 0
    first = capsys.readouterr().err
    assert "models loaded: detect:masks" in first and "everything came from the cache" not in first
    assert main([*base, "-o", str(tmp_path / "o2"), *cache]) == 0
    assert "models loaded: none (everything came from the cache)" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "o3"), "--no-cache"]) == 0
    assert "everything came from the cache" not in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["run", str(bad), "-o", str(tmp_path / "o4"), "-i", "telea", *cache]) == 1
    failed = capsys.readouterr().err
    assert "everything came from the cache" not in failed and "models loaded: none" in failed


def test_json_summary_still_machine_readable(photo, tmp_path: Path, capsys) -> None:
    img, hole = photo
    code = main(["run", str(img), "-o", str(tmp_path / "o"), "--masks", str(hole), "-i", "telea", "--json", "--quiet", "--no-cache"])
    s = json.loads(capsys.readouterr().out)
    assert code == 0 and s["changed"] == 1
