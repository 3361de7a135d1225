"""PartialConv2d parity with NVIDIA's layer (../shared/fixtures/partialconv) and the U-Net's shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from remove_people.models.pconv import PConvUNet, PartialConv2d

CASES = [f"mc{mc}_k{k}_s{s}_bias{b}" for mc in (0, 1) for k in (3, 5, 7) for s in (1, 2) for b in (0, 1)]


def _layer(d: dict, prefix: str = "") -> PartialConv2d:
    w = torch.from_numpy(d[f"{prefix}weight"])
    b = d[f"{prefix}bias"]
    k = int(d[f"{prefix}kernel_size"]) if f"{prefix}kernel_size" in d else w.shape[-1]
    s = int(d[f"{prefix}stride"])
    p = int(d[f"{prefix}padding"])
    layer = PartialConv2d(w.shape[1], w.shape[0], k, stride=s, padding=p, bias=b.size > 0,
                          multi_channel=bool(d["multi_channel"]))
    with torch.no_grad():
        layer.weight.copy_(w)
        if b.size:
            layer.bias.copy_(torch.from_numpy(b))
    return layer


@pytest.mark.parametrize("case", CASES)
def test_single_layer_parity(shared: Path, case: str) -> None:
    d = dict(np.load(shared / "fixtures" / "partialconv" / f"{case}.npz"))
    layer = _layer(d)
    with torch.no_grad():
        out, mask = layer(torch.from_numpy(d["x"]), torch.from_numpy(d["mask_in"]))
    assert mask.shape == d["update_mask"].shape
    assert np.array_equal(mask.numpy(), d["update_mask"])
    assert out.shape == d["output"].shape
    assert np.abs(out.numpy() - d["output"]).max() <= 5e-5
    ratio, _ = layer.mask_update(torch.from_numpy(d["mask_in"]))
    np.testing.assert_allclose(ratio.numpy(), d["mask_ratio"], rtol=1e-6, atol=0)


@pytest.mark.parametrize("mc", [0, 1])
def test_chain_parity(shared: Path, mc: int) -> None:
    d = dict(np.load(shared / "fixtures" / "partialconv" / f"chain_mc{mc}.npz"))
    l1, l2 = _layer(d, "l1_"), _layer(d, "l2_")
    with torch.no_grad():
        h, m = l1(torch.from_numpy(d["x"]), torch.from_numpy(d["mask_in"]))
        assert np.array_equal(m.numpy(), d["l1_update_mask"])
        assert np.abs(h.numpy() - d["l1_output"]).max() <= 5e-5
        out, mask = l2(h, m)
    assert np.array_equal(mask.numpy(), d["update_mask"])
    assert np.abs(out.numpy() - d["output"]).max() <= 5e-5


def test_no_mask_is_plain_conv() -> None:
    torch.manual_seed(0)
    layer = PartialConv2d(3, 5, 3, padding=0, bias=True)
    x = torch.randn(2, 3, 9, 9)
    out, mask = layer(x, None)
    ref = torch.nn.functional.conv2d(x, layer.weight, layer.bias)
    assert torch.allclose(out, ref, atol=1e-5)
    assert bool((mask == 1).all())


def test_unet_shapes_and_hole_independence() -> None:
    torch.manual_seed(0)
    net = PConvUNet().eval()
    assert len(net.enc) == 8 and len(net.dec) == 8
    assert [l.conv.kernel_size[0] for l in net.enc] == [7, 5, 5, 3, 3, 3, 3, 3]
    assert [l.conv.out_channels for l in net.enc] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert net.enc[0].bn is None and all(l.bn is not None for l in net.enc[1:])
    assert net.dec[0].bn is None and net.dec[0].conv.out_channels == 3
    img = torch.rand(1, 3, 256, 256)
    mask = torch.ones(1, 1, 256, 256)
    mask[..., 100:150, 80:200] = 0
    with torch.no_grad():
        a = net(img, mask)
        img2 = img.clone()
        img2[..., 100:150, 80:200] = torch.rand(1, 3, 50, 120)  # hole content must not matter
        b = net(img2, mask)
    assert a.shape == (1, 3, 256, 256)
    assert torch.equal(a, b)


def test_freeze_encoder_bn() -> None:
    net = PConvUNet()
    net.freeze_encoder_bn()
    net.train()
    assert all(not l.bn.training for l in net.enc[1:])
    assert all(l.bn.training for l in net.dec[1:])
    assert all(not p.requires_grad for l in net.enc[1:] for p in l.bn.parameters())
