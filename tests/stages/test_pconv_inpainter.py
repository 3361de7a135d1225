"""The ``pconv`` inpainter: a checkpoint from a short CPU training fills a real photo's hole, and only it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from remove_people.errors import UsageError
from remove_people.stages import INPAINTERS

PARAMS = dict(strategy="crop", margin=0.5, min_margin=32, max_side=512, feather=0, device="cpu", batch_size=2)


@pytest.fixture(scope="module")
def checkpoint(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from remove_people.training.configs import PConvTrainConfig
    from remove_people.training.pconv import train_pconv

    out = tmp_path_factory.mktemp("pconv-run")
    cfg = PConvTrainConfig(
        data=str(shared / "data" / "train256"), out=str(out), epochs=1, finetune_epochs=0, batch_size=2, size=64,
        width=8, seed=0, workers=0, limit_train=4, limit_val=2, checkpoint_every=0, p_persons=0.5,
        annotations=str(shared / "data" / "coco-person" / "annotations" / "instances.json"),
        vgg_weights=str(shared / "weights" / "vgg16_features_pool3.pth"), progress=False,
    )
    summary = train_pconv(cfg)
    assert summary["finished"]
    return out / "model.pt"


def test_plugin_inpaints_only_the_hole(shared: Path, checkpoint: Path) -> None:
    cls = INPAINTERS.get("pconv")
    inp = cls.from_mapping({**PARAMS, "weights": str(checkpoint)})
    assert cls.pad_multiple == 256
    # the cache identity needs no model
    ident = inp.identity()
    assert len(ident["weights"]) == 64 and inp._model is None
    scene = shared / "data" / "scenes"
    image = cv2.cvtColor(cv2.imread(str(scene / "images" / "migan_object_03.png")), cv2.COLOR_BGR2RGB)
    hole = cv2.imread(str(scene / "masks" / "migan_object_03.png"), cv2.IMREAD_GRAYSCALE)
    out = inp.inpaint(image, hole)
    assert inp._model is not None
    assert out.shape == image.shape and out.dtype == np.uint8
    inside = hole > 127
    assert np.array_equal(out[~inside], image[~inside])
    assert (out[inside] != image[inside]).any()
    inp.close()


def test_full_strategy_and_batched_crops(checkpoint: Path) -> None:
    inp = INPAINTERS.get("pconv").from_mapping({**PARAMS, "strategy": "full", "weights": str(checkpoint)})
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (100, 300, 3), dtype=np.uint8)
    hole = np.zeros((100, 300), np.uint8)
    hole[10:30, 10:40] = 255
    hole[60:90, 250:290] = 255
    out = inp.inpaint(image, hole)
    assert np.array_equal(out[hole == 0], image[hole == 0])
    crops = INPAINTERS.get("pconv").from_mapping({**PARAMS, "min_margin": 4, "margin": 0.1, "weights": str(checkpoint)})
    out2 = crops.inpaint(image, hole)
    assert np.array_equal(out2[hole == 0], image[hole == 0])


def test_missing_weights_is_a_usage_error() -> None:
    inp = INPAINTERS.get("pconv").from_mapping({**PARAMS, "weights": None})
    with pytest.raises(UsageError):
        inp.weights_identity()
