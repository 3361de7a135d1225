"""DeepFillv2 generator: parity with the reference on both published layouts, loading, batching.

The fixtures are random-weight checkpoints in the released format and the
reference implementation's outputs on a real image and hole; their READMEs give
the recipe and the tolerances used here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from remove_people.models.deepfillv2 import (
    FUSE_WEIGHT_KEY,
    LAYOUT_KEYS,
    DeepFillv2Generator,
    SNPatchGANDiscriminator,
    detect_layout,
    load_generator,
    make_input,
    nearest_indices,
    tf_same_pad,
)

FIXTURES = {"tf": ("deepfillv2_tf", "random_G_seed1101.pth"), "pt": ("deepfillv2_pt", "random_G_seed2202.pth")}
#: per array: (max abs, mean abs), from the fixture READMEs
TOLERANCE = {"stage1": (2e-4, 1e-5), "stage2": (1e-3, 2e-5), "output": (1e-3, 2e-5)}


def fixture_dir(shared: Path, layout: str) -> Path:
    return shared / "fixtures" / FIXTURES[layout][0]


@pytest.fixture(scope="module")
def checkpoints(shared: Path) -> dict[str, dict]:
    """The raw checkpoint of each layout (``{'G': state_dict}``), loaded once."""
    return {
        layout: torch.load(fixture_dir(shared, layout) / name, map_location="cpu", weights_only=True)
        for layout, (_, name) in FIXTURES.items()
    }


@pytest.fixture(scope="module")
def dev_input(shared: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixture's image in [-1, 1] (1, 3, H, W) and binary hole mask (1, 1, H, W), per the README recipe."""
    d = fixture_dir(shared, "tf") / "dev_256x256"
    image = np.asarray(Image.open(d / "input.png").convert("RGB"), dtype=np.float32) / 255.0
    mask = np.asarray(Image.open(d / "mask.png"), dtype=np.float32) / 255.0
    image_t = torch.from_numpy(image).permute(2, 0, 1)[None] * 2.0 - 1.0
    mask_t = (torch.from_numpy(mask)[None, None] > 0.5).float()
    return image_t, mask_t


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("layout", ["tf", "pt"])
def test_parity_with_reference(shared: Path, checkpoints, dev_input, layout: str) -> None:
    g = load_generator(checkpoints[layout])
    assert g.layout == layout
    image, mask = dev_input
    with torch.inference_mode():
        stage1, stage2 = g(make_input(image, mask), mask)
    output = image * (1 - mask) + stage2 * mask
    d = fixture_dir(shared, layout) / "dev_256x256"
    for name, ours in (("stage1", stage1), ("stage2", stage2), ("output", output)):
        diff = np.abs(ours[0].numpy() - np.load(d / f"{name}.npy"))
        max_tol, mean_tol = TOLERANCE[name]
        assert diff.max() <= max_tol and diff.mean() <= mean_tol, (
            f"{layout} {name}: max {diff.max():.3g} mean {diff.mean():.3g}"
        )


def test_layout_detection(checkpoints) -> None:
    assert detect_layout(checkpoints["tf"]["G"]) == "tf"
    assert detect_layout(checkpoints["pt"]["G"]) == "pt"
    with pytest.raises(KeyError):
        detect_layout({"conv.weight": torch.zeros(1)})
    with pytest.raises(ValueError):
        load_generator(checkpoints["tf"], layout="pt")


def test_key_tables_match_the_published_layouts(shared: Path, checkpoints) -> None:
    for layout in ("tf", "pt"):
        lines = (fixture_dir(shared, layout) / "keys.txt").read_text().splitlines()
        rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
        published = [r[0] for r in rows]
        assert list(checkpoints[layout]["G"]) == published
        assert [k for k in published if k != FUSE_WEIGHT_KEY] == list(LAYOUT_KEYS[layout])
        # exporting gives back the published names, order and values
        g = load_generator(checkpoints[layout])
        exported = g.published_state_dict()
        assert list(exported) == published
        assert all(torch.equal(exported[k], checkpoints[layout]["G"][k]) for k in published)


def test_loading_variants_give_the_same_weights(shared: Path, checkpoints) -> None:
    wrapped = checkpoints["pt"]
    bare = dict(wrapped["G"])
    without_fuse = {k: v for k, v in bare.items() if k != FUSE_WEIGHT_KEY}
    assert len(bare) == 85 and len(without_fuse) == 84
    reference = load_generator(wrapped)
    for source in (bare, without_fuse, {"G": without_fuse}):
        assert state_equal(load_generator(source), reference)
    path = fixture_dir(shared, "tf") / FIXTURES["tf"][1]
    assert state_equal(load_generator(path), load_generator(checkpoints["tf"]["G"]))
    assert state_equal(load_generator(str(path)), load_generator(checkpoints["tf"]))


def test_loading_rejects_wrong_checkpoints(checkpoints) -> None:
    bad_fuse = dict(checkpoints["pt"]["G"])
    bad_fuse[FUSE_WEIGHT_KEY] = torch.ones(1, 1, 3, 3)
    with pytest.raises(ValueError, match="identity"):
        load_generator(bad_fuse)
    tf_plus_fuse = dict(checkpoints["tf"]["G"])
    tf_plus_fuse[FUSE_WEIGHT_KEY] = torch.eye(3).view(1, 1, 3, 3)
    with pytest.raises(ValueError):
        load_generator(tf_plus_fuse)
    missing = dict(checkpoints["tf"]["G"])
    missing.pop("allconv17.conv.bias")
    with pytest.raises(KeyError, match="missing"):
        load_generator(missing)


@pytest.mark.parametrize("layout", ["tf", "pt"])
def test_batch_items_use_their_own_masks(checkpoints, dev_input, layout: str) -> None:
    """Item i of a batch equals item i run alone; the reference would use item 0's mask for both."""
    g = load_generator(checkpoints[layout])
    image, mask = dev_input
    image, mask = image[..., :128, :128], mask[..., :128, :128]
    other = torch.zeros_like(mask)
    other[..., 16:80, 40:104] = 1.0  # a different hole, where item 0 has few
    images = torch.cat([image, image.flip(-1)])
    masks = torch.cat([mask, other])
    assert (masks[0] != masks[1]).float().mean() > 0.2
    with torch.inference_mode():
        batched = g(make_input(images, masks), masks)
        for i in range(2):
            alone = g(make_input(images[i : i + 1], masks[i : i + 1]), masks[i : i + 1])
            for b, a in zip(batched, alone):
                assert (b[i] - a[0]).abs().max() <= 1e-4


def test_sizes(checkpoints) -> None:
    g = load_generator(checkpoints["pt"])
    x = torch.zeros(1, 5, 40, 72)  # multiples of 8 but not 16: odd attention grids
    mask = torch.zeros(1, 1, 40, 72)
    mask[..., 8:24, 16:40] = 1
    with torch.inference_mode():
        s1, s2 = g(x, mask)
        assert s1.shape == s2.shape == (1, 3, 40, 72)
        assert torch.isfinite(s2).all()
        with pytest.raises(ValueError, match="multiples of 8"):
            g(torch.zeros(1, 5, 36, 64), torch.zeros(1, 1, 36, 64))


def test_tf_helpers() -> None:
    # TF SAME: stride 2 on an even size pads only after; stride 1 pads symmetrically
    assert tf_same_pad(64, 3, 2, 1) == (0, 1)
    assert tf_same_pad(64, 3, 1, 4) == (4, 4)
    assert tf_same_pad(64, 4, 2, 1) == (1, 1)
    # align-corners nearest: floor(i * (n-1)/(m-1) + 0.5)
    n, m = 64, 8
    expected = [int(np.floor(i * (n - 1) / (m - 1) + 0.5)) for i in range(m)]
    assert nearest_indices(n, 8, True, torch.device("cpu")).tolist() == expected
    assert nearest_indices(n, 8, False, torch.device("cpu")).tolist() == [8 * i for i in range(m)]


def test_discriminator_shapes() -> None:
    d = SNPatchGANDiscriminator()
    out = d(torch.zeros(2, 4, 64, 64))
    assert out.shape == (2, 256)
    assert isinstance(DeepFillv2Generator("tf"), torch.nn.Module)
