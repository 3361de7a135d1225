"""Each term of the inpainting loss on tiny hand-computed cases, and the VGG feature extractor."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from remove_people.models.losses import InpaintingLoss, gram, tv_loss


class Identity(nn.Module):
    """A one-layer 'feature extractor' returning the image itself, so features are hand-computable."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x]


def _tiny() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # One image, one channel, 1×2 pixels: left valid, right hole.
    output = torch.tensor([[[[3.0, 5.0]]]])
    target = torch.tensor([[[[1.0, 2.0]]]])
    mask = torch.tensor([[[[1.0, 0.0]]]])
    return output, target, mask


def test_each_term_by_hand() -> None:
    out, gt, mask = _tiny()
    terms = InpaintingLoss(extractor=Identity())(out, gt, mask)
    # comp = [1, 5]
    assert terms["valid"].item() == pytest.approx(2 / 2)  # |3-1| over 2 elements
    assert terms["hole"].item() == pytest.approx(3 / 2)  # |5-2| over 2 elements
    # perceptual: mean|out-gt| = (2+3)/2, mean|comp-gt| = (0+3)/2
    assert terms["perceptual"].item() == pytest.approx(2.5 + 1.5)
    # Gram (C=1, HW=2): out (9+25)/2 = 17, gt (1+4)/2 = 2.5, comp (1+25)/2 = 13
    assert terms["style"].item() == pytest.approx(14.5 + 10.5)
    # P = both pixels; one horizontal pair |5-1| = 4 over N·C·H·W = 2; no vertical pairs
    assert terms["tv"].item() == pytest.approx(2.0)
    assert terms["total"].item() == pytest.approx(1 + 6 * 1.5 + 0.05 * 4 + 120 * 25 + 0.1 * 2)
    assert set(terms) == {"valid", "hole", "perceptual", "style", "tv", "total"}


def test_gram_normalisation() -> None:
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # N=1, C=2, H=1, W=2
    g = gram(f)
    expected = torch.tensor([[[5.0, 3.0], [3.0, 9.0]]]) / (2 * 1 * 2)
    assert torch.allclose(g, expected)


def test_tv_by_hand() -> None:
    comp = torch.arange(16.0).view(1, 1, 4, 4)
    mask = torch.ones(1, 1, 4, 4)
    mask[..., 1, 1] = 0  # dilated: rows 0-2, cols 0-2
    # horizontal: 3 rows × 2 pairs, each |Δ| = 1 → 6 / 16; vertical: 2 × 3 pairs, |Δ| = 4 → 24 / 16
    assert tv_loss(comp, mask).item() == pytest.approx(30 / 16)
    # a one-channel mask broadcast over RGB gives the same value
    assert tv_loss(comp.expand(1, 3, 4, 4), mask).item() == pytest.approx(30 / 16)
    # pixels outside the dilated hole never count
    mask_far = torch.ones(1, 1, 4, 4)
    mask_far[..., 3, 3] = 0  # dilated: rows 2-3, cols 2-3 → 2 horizontal + 2 vertical pairs
    assert tv_loss(comp, mask_far).item() == pytest.approx((2 * 1 + 2 * 4) / 16)


def test_rgb_mask_broadcast() -> None:
    torch.manual_seed(0)
    out, gt = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    m1 = (torch.rand(2, 1, 8, 8) > 0.3).float()
    loss = InpaintingLoss(extractor=Identity())
    a, b = loss(out, gt, m1), loss(out, gt, m1.expand(2, 3, 8, 8))
    for k in a:
        assert a[k].item() == pytest.approx(b[k].item(), rel=1e-6)
    assert a["valid"].item() == pytest.approx((m1 * (out - gt)).abs().sum().item() / out.numel())


@pytest.fixture(scope="module")
def vgg_loss(shared: Path) -> InpaintingLoss:
    return InpaintingLoss(shared / "weights" / "vgg16_features_pool3.pth")


def test_vgg_layers(vgg_loss: InpaintingLoss, shared: Path) -> None:
    import torchvision

    x = torch.rand(1, 3, 32, 32)
    feats = vgg_loss.vgg(x)
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 16, 16), (128, 8, 8), (256, 4, 4)]
    ref = torchvision.models.vgg16(weights=None).features[:17]
    sd = torch.load(shared / "weights" / "vgg16_features_pool3.pth", weights_only=True)
    ref.load_state_dict({k.removeprefix("features."): v for k, v in sd.items()})
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        h = (x - mean) / std
        assert torch.allclose(feats[0], ref[:5](h), atol=1e-5)
        assert torch.allclose(feats[2], ref[:17](h), atol=1e-4)
    assert all(not p.requires_grad for p in vgg_loss.parameters())


def test_vgg_loss_zero_when_equal_and_differentiable(vgg_loss: InpaintingLoss) -> None:
    torch.manual_seed(0)
    gt = torch.rand(2, 3, 32, 32)
    mask = torch.ones(2, 1, 32, 32)
    mask[..., 8:20, 8:20] = 0
    same = vgg_loss(gt.clone(), gt, mask)
    for k in ("valid", "hole", "perceptual", "style"):
        assert same[k].item() == pytest.approx(0.0, abs=1e-6)
    out = torch.rand(2, 3, 32, 32, requires_grad=True)
    terms = vgg_loss(out, gt, mask)
    terms["total"].backward()
    assert out.grad is not None and out.grad.abs().sum() > 0
    manual = sum(w * terms[k] for k, w in {"valid": 1, "hole": 6, "perceptual": 0.05, "style": 120, "tv": 0.1}.items())
    assert terms["total"].item() == pytest.approx(manual.item(), rel=1e-6)
