"""``remove-people models`` (the typer sub-app) with ../shared/weights as model folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from remove_people.commands.models import app
from remove_people.models import weights as W

runner = CliRunner()
SHARED_NAMES = ("yolo11n-seg-openvino-int8", "yolov8n-seg-tflite-int8", "vgg16-features-pool3", "alexnet-features")


@pytest.fixture()
def env(tmp_path: Path, shared: Path) -> dict[str, str]:
    return {
        "REMOVE_PEOPLE_HOME": str(tmp_path / "home"),
        "REMOVE_PEOPLE_MODEL_DIR": str(shared / "weights"),
        "REMOVE_PEOPLE_OFFLINE": "1",
        "COLUMNS": "250",  # wide enough that rich does not fold names
    }


def _row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f" {name} " in line)


def test_list_shows_shared_files_present(env: dict[str, str], shared: Path) -> None:
    res = runner.invoke(app, ["list", "--offline"], env=env)
    assert res.exit_code == 0, res.output
    for name in SHARED_NAMES:
        row = _row(res.output, name)
        assert "yes (model-dir)" in row and str(shared / "weights") in row
    assert "substitute (yolo11n-seg-openvino-int8)" in _row(res.output, "yolo11n-seg")
    assert "CC BY-NC 4.0" in _row(res.output, "deepfillv2-places2-tf")
    assert " no " in _row(res.output, "deepfillv2-places2-tf")
    assert "AGPL-3.0" in _row(res.output, "yolo11x-seg")


def test_list_with_model_dir_option_and_role(env: dict[str, str], shared: Path) -> None:
    env = {**env, "REMOVE_PEOPLE_MODEL_DIR": ""}
    res = runner.invoke(app, ["list", "--model-dir", str(shared / "weights"), "--role", "loss_backbone"], env=env)
    assert res.exit_code == 0, res.output
    assert "yes (model-dir)" in _row(res.output, "vgg16-features-pool3")
    assert "yolo11n-seg" not in res.output


def test_info_shows_entry_and_where(env: dict[str, str], shared: Path) -> None:
    res = runner.invoke(app, ["info", "deepfillv2-places2-tf"], env=env)
    assert res.exit_code == 0, res.output
    for text in ("states_tf_places2.pth", "[-1, 1]", "1 = hole", "256", "CC BY-NC 4.0", "load_generator"):
        assert text in res.output
    res = runner.invoke(app, ["info", "vgg16-features-pool3"], env=env)
    assert str(shared / "weights" / "vgg16_features_pool3.pth") in res.output
    assert runner.invoke(app, ["info", "nope"], env=env).exit_code == 2


def test_verify_ok_then_mismatch(env: dict[str, str], tmp_path: Path) -> None:
    res = runner.invoke(app, ["verify"], env=env)
    assert res.exit_code == 0, res.output
    assert res.output.count(" ok ") >= 4
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "alexnet_features.pth").write_bytes(b"corrupt")
    res = runner.invoke(app, ["verify", "--model-dir", str(bad)], env=env)
    assert res.exit_code == 1
    assert "MISMATCH" in res.output


def test_fetch_offline_names_the_file_and_exits_1(env: dict[str, str]) -> None:
    res = runner.invoke(app, ["fetch", "deepfillv2-places2-pt", "--offline"], env=env)
    assert res.exit_code == 1
    assert "put states_pt_places2.pth" in res.output
    assert runner.invoke(app, ["fetch", "nope"], env=env).exit_code == 2


def test_fetch_downloads_into_cache(env: dict[str, str], shared: Path, tmp_path: Path) -> None:
    src = shared / "weights" / "alexnet_features.pth"
    e = W.WeightsEntry(
        name="test-fetch",
        role=W.Role.METRIC_BACKBONE,
        filename="fetched.pth",
        urls=(src.as_uri(),),  # file:// keeps the test off the network
        sha256=W.WEIGHTS["alexnet-features"].sha256,
        size=src.stat().st_size,
    )
    W.register_entry(e)
    try:
        res = runner.invoke(app, ["fetch", "test-fetch", "--online"], env={**env, "REMOVE_PEOPLE_MODEL_DIR": ""})
    finally:
        W.unregister_entry("test-fetch")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "home" / "models" / "fetched.pth").stat().st_size == src.stat().st_size


def test_fetch_openvino_makes_the_detector_export_ahead_of_a_run(env: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    res = runner.invoke(app, ["fetch", "yolo11n-seg-openvino-int8", "vgg16-features-pool3", "--openvino"], env=env)
    assert res.exit_code == 0, res.output
    exports = list((tmp_path / "home" / "models" / "openvino").glob("*_openvino_model"))
    assert len(exports) == 1 and list(exports[0].glob("*.xml"))
    assert f"yolo11n-seg-openvino-int8: {exports[0]}" in res.output.replace("\n", "")
    # Only detector weights have an OpenVINO export; the loss backbone is listed as it is.
    assert "vgg16-features-pool3: " in res.output and res.output.count("_openvino_model") == 1
