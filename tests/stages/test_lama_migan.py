"""The ``lama`` and ``migan`` inpainters and their torch base, through TorchScript stand-ins.

The stand-ins (tests/helpers/torchscript_standins.py) have the published files' call signatures
and raise on any input that breaks the networks' conventions (value range, mask
polarity and values, size), and they fill a hole with the mean colour of the *known*
pixels; so on a flat-coloured photo with a red hole, the right fill is the flat colour,
and a wrong polarity or value range shows in the result.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from remove_people.config import build_stage
from remove_people.errors import UsageError
from remove_people.stages.inpaint.torch_base import autocast_context

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")  # TorchScript is deprecated upstream

FILES = {"lama": "big-lama.pt", "migan": "migan_traced.pt"}
FLAT = (60, 120, 180)


def make(name: str, standins: Path, **over: object) -> object:
    """The plugin on a stand-in given by path (trusted: it is not the published file)."""
    settings = {"weights": str(standins / FILES[name]), "trust_weights": True, "device": "cpu", **over}
    return build_stage("inpaint", name, **settings)


def flat_with_red_holes(h: int, w: int, boxes: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    image = np.empty((h, w, 3), np.uint8)
    image[:] = FLAT
    hole = np.zeros((h, w), np.uint8)
    for y0, x0, y1, x1 in boxes:
        hole[y0:y1, x0:x1] = 255
    image[hole > 0] = (255, 0, 0)
    return image, hole


def test_standins_refuse_broken_conventions(standins: Path) -> None:
    """The convention checks below can fail: the stand-ins reject each broken input."""
    lama = torch.jit.load(str(standins / FILES["lama"]))
    image, mask = torch.rand(1, 3, 16, 24), torch.zeros(1, 1, 16, 24)
    for bad, why in (
        ((image * 255, mask), "lie in \\[0, 1\\]"),
        ((image, mask + 0.5), "0 or 1"),
        ((image[:, :, :15], mask[:, :, :15]), "multiples of 8"),
    ):
        with pytest.raises(Exception, match=why):
            lama(*bad)
    migan = torch.jit.load(str(standins / FILES["migan"]))
    known = torch.ones(1, 1, 512, 512)
    rgb = torch.rand(1, 3, 512, 512) * 2 - 1
    for x, why in (
        (torch.cat([known - 0.5, rgb * 255], 1), "lie in \\[-1, 1\\]"),
        (torch.cat([known, rgb], 1), "known - 0.5"),
        (torch.cat([known - 0.5, rgb], 1)[:, :, :256], "512"),
        (torch.cat([0.5 - known, rgb], 1), "erased"),  # polarity flipped: the 'hole' still holds pixels
    ):
        with pytest.raises(Exception, match=why):
            migan(x)


@pytest.mark.parametrize("name", ["lama", "migan"])
def test_fill_respects_range_polarity_and_changes_only_hole_pixels(name: str, standins: Path) -> None:
    # Odd sizes and a hole near the border: crops are not multiples of 8 (or 512) and must be padded.
    image, hole = flat_with_red_holes(301, 417, [(100, 150, 181, 233), (270, 390, 301, 417)])
    inp = make(name, standins)
    out = inp.inpaint(image, hole)
    inside = hole > 0
    assert np.array_equal(out[~inside], image[~inside])
    # The known pixels' mean is the flat colour: the hole comes back flat, not red (polarity, range).
    assert np.abs(out[inside].astype(int) - FLAT).max() <= 1


@pytest.mark.parametrize("name", ["lama", "migan"])
def test_padding_mirrors_image_and_hole_to_the_network_size(name: str, standins: Path) -> None:
    inp = make(name, standins)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real = inp.forward

    def spy(model: object, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        seen.append((image.numpy().copy(), hole.numpy().copy()))
        return real(model, image, hole)

    inp.forward = spy  # type: ignore[method-assign]
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)
    crop_hole = np.zeros((37, 50), np.uint8)
    crop_hole[30:37, 40:50] = 255  # touches the bottom-right corner: its mirror lies in the padding
    out = inp.fill([crop], [crop_hole])[0]
    assert out.shape == (37, 50, 3)
    image, hole = seen[0]
    want = (40, 56) if name == "lama" else (512, 512)
    assert image.shape == (1, 3, *want) and hole.shape == (1, 1, *want)
    pad = ((0, want[0] - 37), (0, want[1] - 50))
    assert np.array_equal(hole[0, 0], np.pad(crop_hole > 0, pad, mode="symmetric").astype(np.float32))
    # The network gets its own value range, from the weights table ([0, 1] LaMa, [-1, 1] MI-GAN).
    lo, hi = inp.preprocessing().value_range
    assert (lo, hi) == ((0.0, 1.0) if name == "lama" else (-1.0, 1.0))
    unit = (image[0].transpose(1, 2, 0) - lo) / (hi - lo)
    assert np.allclose(unit * 255, np.pad(crop, pad + ((0, 0),), mode="symmetric"), atol=1e-3)


@pytest.mark.parametrize("name", ["lama", "migan"])
def test_batch_equals_single(name: str, standins: Path) -> None:
    """Four equal windows run as one batch give exactly what they give one at a time."""
    boxes = [(40, 40, 80, 90), (40, 240, 80, 290), (200, 40, 240, 90), (200, 240, 240, 290)]
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (320, 340, 3), dtype=np.uint8)
    _, hole = flat_with_red_holes(320, 340, boxes)
    params = dict(margin=0.2, min_margin=20)
    single, batched = make(name, standins, batch_size=1, **params), make(name, standins, batch_size=4, **params)
    calls = {"single": 0, "batched": 0}
    for key, inp in (("single", single), ("batched", batched)):
        real = inp.forward

        def counted(model: object, im: torch.Tensor, h: torch.Tensor, key: str = key, real=real) -> torch.Tensor:  # noqa: ANN001
            calls[key] += 1
            return real(model, im, h)

        inp.forward = counted  # type: ignore[method-assign]
    a, b = single.inpaint(image, hole), batched.inpaint(image, hole)
    assert calls == {"single": 4, "batched": 1}
    assert np.array_equal(a, b)
    assert not np.array_equal(a[hole > 0], image[hole > 0])


@pytest.mark.parametrize("name, biggest", [("lama", 1024), ("migan", 512)])
def test_the_network_sees_the_crop_not_the_photo(name: str, biggest: int, standins: Path) -> None:
    """Memory follows the crop: a 2000x2600 photo with a small and a huge hole feeds the network
    a small window and a window scaled to ``max_side``, never the photo."""
    image, hole = flat_with_red_holes(2000, 2600, [(300, 200, 350, 260), (850, 1450, 1950, 2550)])
    inp = make(name, standins)
    shapes: list[tuple[int, ...]] = []
    real = inp.forward
    inp.forward = lambda model, im, h: shapes.append(tuple(im.shape)) or real(model, im, h)  # type: ignore[method-assign]
    out = inp.inpaint(image, hole)
    assert np.array_equal(out[hole == 0], image[hole == 0])
    assert sum(s[0] for s in shapes) == 2 and max(max(s[2:]) for s in shapes) <= biggest
    if name == "lama":  # the small hole's window: 50x60 plus 128 px of context each side, padded to 8
        assert min(shapes) == (1, 3, 312, 320)


def test_cache_identity_needs_no_model_and_the_model_loads_once(standins: Path) -> None:
    inp = make("migan", standins)
    ident = inp.identity()
    assert len(ident["weights"]) == 64 and inp._model is None
    image, hole = flat_with_red_holes(64, 64, [(20, 20, 40, 40)])
    inp.inpaint(image, hole)
    model = inp._model
    assert model is not None
    inp.inpaint(image, hole)
    assert inp._model is model
    inp.close()
    assert inp._model is None


def test_real_scene_only_hole_pixels_change(shared: Path, standins: Path) -> None:
    scene = shared / "data" / "scenes"
    image = cv2.cvtColor(cv2.imread(str(scene / "images" / "migan_object_03.png")), cv2.COLOR_BGR2RGB)
    hole = cv2.imread(str(scene / "masks" / "migan_object_03.png"), cv2.IMREAD_GRAYSCALE)
    inside = hole > 127
    for name in ("lama", "migan"):
        out = make(name, standins).inpaint(image, hole)
        assert np.array_equal(out[~inside], image[~inside]), name
        assert (out[inside] != image[inside]).any(), name


@pytest.mark.parametrize(
    "name, setting, why",
    [
        ("lama", {"precision": "fp16"}, "FFT"),
        ("migan", {"strategy": "full"}, "use crop"),
        ("migan", {"max_side": 1024}, "from 16 to 512"),
        ("migan", {"max_side": None}, "at most 512"),
        ("migan", {"precision": "fp8"}, "fp8"),
        ("lama", {"device": "gpu"}, "device"),
        ("lama", {"batch_size": 0}, "batch_size"),
    ],
)
def test_settings_the_networks_cannot_run_are_usage_errors(name: str, setting: dict, why: str, standins: Path) -> None:
    with pytest.raises(UsageError, match=why):
        make(name, standins, **setting)


def test_half_precision_applies_on_cuda_only(standins: Path) -> None:
    """fp16 is accepted for MI-GAN; on the CPU it runs in fp32 (CPU half precision is slow and lossy)."""
    inp = make("migan", standins, precision="fp16")
    image, hole = flat_with_red_holes(64, 64, [(20, 20, 40, 40)])
    inp.inpaint(image, hole)
    assert inp._device.type == "cpu" and inp._dtype == torch.float32


def test_autocast_reaches_inside_torchscript() -> None:
    """The half-precision path (CUDA here) relies on autocast acting inside a TorchScript module.

    No GPU on these machines: shown with the CPU's bf16 autocast, the same mechanism.
    """
    net = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode(), autocast_context("cpu", torch.bfloat16):
        assert net(x).dtype == torch.bfloat16
    with torch.inference_mode(), autocast_context("cpu", torch.float32):
        assert net(x).dtype == torch.float32
