"""The YOLO detector's runtimes: PyTorch and OpenVINO give the same persons, on real photos.

Why these tests: ``backend: auto`` runs the detector in OpenVINO on a CPU, and a start-up
shortcut skips ultralytics' CPU warm-up (which only imports torchvision so NMS uses its
kernel). Both are speed levers that must not move a mask, so each is checked against
the plain PyTorch path on coco-person photos with 0 to 19 persons, with the real weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from remove_people.config import Config, build_stage
from remove_people.errors import UsageError
from remove_people.pipeline.image_reader import read_image
from remove_people.stages.detect.base import Frame, Instance

pytest.importorskip("openvino")

# coco-person photos with 1, 5, 19, 11, 2 and 6 persons (YOLO11n), and one with none.
PHOTOS = ("000000000139", "000000000790", "000000005001", "000000064523", "000000069468", "000000034417", "000000000802")


def frames(shared: Path) -> list[Frame]:
    out = []
    for stem in PHOTOS:
        path = shared / "data" / "coco-person" / "images" / f"{stem}.jpg"
        out.append(Frame(read_image(path).rgb, path, Path(path.name)))
    return out


def detector(**params: str):
    return build_stage("detect", config=Config.load(overrides=[f"detect.yolo.{k}={v}" for k, v in params.items()]))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture(scope="module")
def torch_instances(shared: Path) -> list[list[Instance]]:
    """The reference: PyTorch, with torchvision imported (so ultralytics uses torchvision's NMS)."""
    import torchvision  # noqa: F401

    det = detector(backend="torch")
    return det.detect(frames(shared))


def test_openvino_f32_finds_the_same_persons_as_pytorch(shared, torch_instances):
    det = detector(backend="openvino", openvino_precision="f32")
    got = det.detect(frames(shared))
    # The point of f32: OpenVINO's CPU plugin would pick bf16 on AMX/AVX-512-bf16 CPUs otherwise.
    assert det.runtime_precision() == "f32"
    assert sum(len(x) for x in torch_instances) >= 40  # the photos really hold persons
    for stem, ours, ref in zip(PHOTOS, got, torch_instances):
        assert len(ours) == len(ref), stem
        for a, b in zip(ours, ref):
            assert abs(a.score - b.score) < 0.01, stem
            assert iou(a.mask, b.mask) >= 0.99, stem
            assert np.allclose(a.box, b.box, atol=1.0), stem


def test_openvino_export_is_made_once_in_the_user_cache(shared, tmp_path, monkeypatch, caplog):
    from remove_people.models import openvino_runtime

    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "home"))
    calls = []
    real_export = openvino_runtime._export
    monkeypatch.setattr(openvino_runtime, "_export", lambda pt: calls.append(pt) or real_export(pt))
    one = detector(backend="openvino")
    assert one.model is not None
    two = detector(backend="openvino")
    assert two.model is not None
    assert len(calls) == 1  # the second detector found the finished export
    said = [r.getMessage() for r in caplog.records if "to OpenVINO" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("exporting yolo11n-seg")  # the first run's pause is explained, once
    root = tmp_path / "home" / "models" / "openvino"
    exports = [p for p in root.iterdir() if p.name.endswith("_openvino_model")]
    assert len(exports) == 1 and next(exports[0].glob("*.xml")).with_suffix(".bin").is_file()
    assert not [p for p in root.iterdir() if p.name.startswith(".export-")]  # no temp folder left
    # Nothing written beside the source weights (../shared is read-only for users too).
    weights = one.weights_path()
    assert not list(weights.parent.glob(f"{weights.stem}*_openvino_model"))


def test_cache_key_follows_what_moves_masks_and_needs_no_torch():
    """f32 OpenVINO and PyTorch share a key (float noise, like the device); a setting allowing bf16 does not."""
    key = {
        (b, p): json.dumps(detector(backend=b, openvino_precision=p).identity(), sort_keys=True)
        for b, p in (("torch", "f32"), ("torch", "auto"), ("openvino", "f32"), ("auto", "f32"), ("openvino", "auto"), ("auto", "auto"))
    }
    assert key[("torch", "f32")] == key[("torch", "auto")] == key[("openvino", "f32")] == key[("auto", "f32")]
    assert key[("openvino", "auto")] == key[("auto", "auto")] != key[("openvino", "f32")]
    # Computing keys resolves nothing that needs torch, so a fully cached run never imports it.
    code = ("import sys; from remove_people.config import Config, build_stage; "
            "build_stage('detect', config=Config.load()).identity(); print('torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("key, value", [("backend", "tensorrt"), ("openvino_precision", "int8")])
def test_bad_backend_settings_are_refused_before_loading(key, value):
    # Refused when the configuration is built (the Params field's choices), before any detector exists.
    with pytest.raises(UsageError, match=f"detect.yolo.{key}={value}: expected one of"):
        detector(**{key: value})


SUBPROCESS = r"""
import json, sys
import numpy as np
from pathlib import Path
from remove_people.config import Config, build_stage
from remove_people.pipeline.image_reader import read_image
from remove_people.stages.detect.base import Frame
paths = [Path(p) for p in json.loads(sys.argv[1])]
det = build_stage("detect", config=Config.load(overrides=["detect.yolo.backend=torch"]))
found = det.detect([Frame(read_image(p).rgb, p, Path(p.name)) for p in paths])
np.savez_compressed(sys.argv[2], **{f"{i}_{k}": inst.mask for i, insts in enumerate(found) for k, inst in enumerate(insts)})
print(json.dumps({"torchvision": "torchvision" in sys.modules, "counts": [len(x) for x in found],
                  "scores": [[i.score for i in x] for x in found]}))
"""


def test_skipping_the_cpu_warmup_keeps_torchvision_out_and_masks_equal(shared, tmp_path, torch_instances):
    """A fresh process never imports torchvision (ultralytics then runs its own NMS), and finds
    exactly the masks this process found with torchvision's NMS (the ``torch_instances`` fixture)."""
    paths = [str(f.path) for f in frames(shared)]
    out = tmp_path / "masks.npz"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", SUBPROCESS, json.dumps(paths), str(out)], check=False,
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["torchvision"] is False
    assert res["counts"] == [len(x) for x in torch_instances]
    masks = np.load(out)
    for i, insts in enumerate(torch_instances):
        assert res["scores"][i] == pytest.approx([x.score for x in insts], abs=1e-6)
        for k, inst in enumerate(insts):
            assert np.array_equal(masks[f"{i}_{k}"], inst.mask), (PHOTOS[i], k)
