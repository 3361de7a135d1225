"""``remove-people models`` through the real entry point, with ../shared/weights as model folder."""

from __future__ import annotations

from pathlib import Path

from types import SimpleNamespace

import pytest

from remove_people.cli import main
from remove_people.models.weights_entry import Role, WeightsEntry
from remove_people.models.weights_table import WEIGHTS, register_entry, unregister_entry
SHARED_NAMES = ("yolo11n-seg-openvino-int8", "yolov8n-seg-tflite-int8", "vgg16-features-pool3", "alexnet-features")


@pytest.fixture()
def env(tmp_path: Path, shared: Path) -> dict[str, str]:
    return {
        "REMOVE_PEOPLE_HOME": str(tmp_path / "home"),
        "REMOVE_PEOPLE_MODEL_DIR": str(shared / "weights"),
        "REMOVE_PEOPLE_OFFLINE": "1",
        "COLUMNS": "250",  # wide enough that rich does not fold names
    }


class _Runner:
    """``main(["models", ...])`` with ``env`` set, returning its exit code and everything it printed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def invoke(self, args: list[str], env: dict[str, str]) -> SimpleNamespace:
        with self.monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            code = main(["models", *args])
        out = self.capsys.readouterr()
        return SimpleNamespace(exit_code=code, output=out.out + out.err)


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> _Runner:
    return _Runner(monkeypatch, capsys)


def _row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f" {name} " in line)


def test_list_shows_shared_files_present(runner: _Runner, env: dict[str, str], shared: Path) -> None:
    res = runner.invoke(["list", "--offline"], env=env)
    assert res.exit_code == 0, res.output
    for name in SHARED_NAMES:
        row = _row(res.output, name)
        assert "yes (model-dir)" in row and str(shared / "weights") in row
    assert "substitute (yolo11n-seg-openvino-int8)" in _row(res.output, "yolo11n-seg")
    assert "CC BY-NC 4.0" in _row(res.output, "deepfillv2-places2-tf")
    assert " no " in _row(res.output, "deepfillv2-places2-tf")
    assert "AGPL-3.0" in _row(res.output, "yolo11x-seg")


def test_list_with_model_dir_option_and_role(runner: _Runner, env: dict[str, str], shared: Path) -> None:
    env = {**env, "REMOVE_PEOPLE_MODEL_DIR": ""}
    res = runner.invoke(["list", "--model-dir", str(shared / "weights"), "--role", "loss_backbone"], env=env)
    assert res.exit_code == 0, res.output
    assert "yes (model-dir)" in _row(res.output, "vgg16-features-pool3")
    assert "yolo11n-seg" not in res.output


def test_info_shows_entry_and_where(runner: _Runner, env: dict[str, str], shared: Path) -> None:
    res = runner.invoke(["info", "deepfillv2-places2-tf"], env=env)
    assert res.exit_code == 0, res.output
    for text in ("states_tf_places2.pth", "[-1, 1]", "1 = hole", "256", "CC BY-NC 4.0", "load_generator"):
        assert text in res.output
    res = runner.invoke(["info", "vgg16-features-pool3"], env=env)
    assert str(shared / "weights" / "vgg16_features_pool3.pth") in res.output
    assert runner.invoke(["info", "nope"], env=env).exit_code == 2


def test_verify_ok_then_mismatch(runner: _Runner, env: dict[str, str], tmp_path: Path) -> None:
    res = runner.invoke(["verify"], env=env)
    assert res.exit_code == 0, res.output
    assert res.output.count(" ok ") >= 4
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "alexnet_features.pth").write_bytes(b"corrupt")
    res = runner.invoke(["verify", "--model-dir", str(bad)], env=env)
    assert res.exit_code == 1
    assert "MISMATCH" in res.output


def test_fetch_offline_names_the_file_and_exits_1(runner: _Runner, env: dict[str, str]) -> None:
    res = runner.invoke(["fetch", "deepfillv2-places2-pt", "--offline"], env=env)
    assert res.exit_code == 1
    assert "put states_pt_places2.pth" in res.output
    assert runner.invoke(["fetch", "nope"], env=env).exit_code == 2


def test_fetch_downloads_into_cache(runner: _Runner, env: dict[str, str], shared: Path, tmp_path: Path) -> None:
    src = shared / "weights" / "alexnet_features.pth"
    e = WeightsEntry(
        name="test-fetch",
        role=Role.METRIC_BACKBONE,
        filename="fetched.pth",
        urls=(src.as_uri(),),  # file:// keeps the test off the network
        sha256=WEIGHTS["alexnet-features"].sha256,
        size=src.stat().st_size,
    )
    register_entry(e)
    try:
        res = runner.invoke(["fetch", "test-fetch", "--online"], env={**env, "REMOVE_PEOPLE_MODEL_DIR": ""})
    finally:
        unregister_entry("test-fetch")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "home" / "models" / "fetched.pth").stat().st_size == src.stat().st_size


def test_fetch_openvino_makes_the_detector_export_ahead_of_a_run(runner: _Runner, env: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    res = runner.invoke(["fetch", "yolo11n-seg-openvino-int8", "vgg16-features-pool3", "--openvino"], env=env)
    assert res.exit_code == 0, res.output
    exports = list((tmp_path / "home" / "models" / "openvino").glob("*_openvino_model"))
    assert len(exports) == 1 and list(exports[0].glob("*.xml"))
    assert f"yolo11n-seg-openvino-int8: {exports[0]}" in res.output.replace("\n", "")
    # Only detector weights have an OpenVINO export; the loss backbone is listed as it is.
    assert "vgg16-features-pool3: " in res.output and res.output.count("_openvino_model") == 1
