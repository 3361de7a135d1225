"""The partial-convolution U-Net's loss (Liu et al. 2018), with their normalisation.

``L = valid + 6·hole + 0.05·perceptual + 120·style + 0.1·tv``. Images are RGB in [0, 1]
(N, 3, H, W); the mask is (N, 1 or 3, H, W) with **1 = valid, 0 = hole**.
``I_comp = mask·target + (1−mask)·output``.

- ``valid`` / ``hole``: mean over all N·C·H·W elements of ``|mask·(out−target)|`` /
  ``|(1−mask)·(out−target)|``.
- ``perceptual``: VGG-16 features after pool1, pool2, pool3 (torchvision ``features[:5]``,
  ``[5:10]``, ``[10:17]``, ImageNet-normalised input); sum over the layers of
  ``mean|ψ(out)−ψ(gt)| + mean|ψ(comp)−ψ(gt)|``.
- ``style``: same layers, per-image Gram matrices ``ψψᵀ/(C·H·W)``; sum over layers of
  ``mean|G(out)−G(gt)| + mean|G(comp)−G(gt)|``.
- ``tv``: over P = the hole dilated by one pixel (3×3): sum of ``|I_comp(x+1)−I_comp(x)|``
  over horizontally adjacent pairs both in P, divided by N·C·H·W, plus the same vertically.

The loss is computed in float32 with autocast off: Gram matrices and the large VGG
activations overflow or lose the small style terms in float16.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: The weight of each term in the total (Liu et al.).
LOSS_WEIGHTS = {"valid": 1.0, "hole": 6.0, "perceptual": 0.05, "style": 120.0, "tv": 0.1}
VGG_DEFAULT = "vgg16-features-pool3"


class VGG16Pool3(nn.Module):
    """VGG-16 up to pool3, returning the pool1, pool2 and pool3 features; frozen."""

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        from remove_people.models.backbones import build_vgg16_features_pool3
        from remove_people.models.loading import build
        from remove_people.models.weights_table import get_entry

        # The table's builder for its entry; the same builder for a file the table does not know.
        features = build(weights, builder=build_vgg16_features_pool3)
        pre = get_entry(VGG_DEFAULT).preprocessing  # the ImageNet normalisation the trunk was trained with
        self.slices = nn.ModuleList([features[:5], features[5:10], features[10:17]])
        self.register_buffer("mean", torch.tensor(pre.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(pre.std).view(1, 3, 1, 1), persistent=False)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG16Pool3":  # always frozen
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        out = []
        for s in self.slices:
            h = s(h)
            out.append(h)
        return out


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Per-image Gram matrix ``ψψᵀ / (C·H·W)``: (N, C, C)."""
    n, c, h, w = feat.shape
    f = feat.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def tv_loss(comp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Total variation of ``comp`` over the hole dilated by 1 pixel (see the module docstring)."""
    hole = 1.0 - mask
    region = F.max_pool2d(hole, kernel_size=3, stride=1, padding=1)
    region = region.expand_as(comp)
    denom = comp.numel()
    pair_h = region[..., :, 1:] * region[..., :, :-1]
    pair_v = region[..., 1:, :] * region[..., :-1, :]
    dh = (comp[..., :, 1:] - comp[..., :, :-1]).abs() * pair_h
    dv = (comp[..., 1:, :] - comp[..., :-1, :]).abs() * pair_v
    return dh.sum() / denom + dv.sum() / denom


class InpaintingLoss(nn.Module):
    """``forward(output, target, mask) -> {valid, hole, perceptual, style, tv, total}`` (scalars)."""

    def __init__(self, vgg_weights: str | Path = VGG_DEFAULT, *, extractor: nn.Module | None = None) -> None:
        """``vgg_weights``: a model-table name or path of the VGG-16 pool3 features;
        ``extractor`` (tests only) replaces the VGG with any module returning a list of feature maps."""
        super().__init__()
        self.vgg = extractor if extractor is not None else VGG16Pool3(vgg_weights)

    def forward(self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.autocast(device_type=output.device.type, enabled=False):
            output, target, mask = output.float(), target.float(), mask.float()
            comp = mask * target + (1.0 - mask) * output
            diff = output - target
            valid = (mask * diff).abs().expand_as(diff).mean()
            hole = ((1.0 - mask) * diff).abs().expand_as(diff).mean()

            feats = self.vgg(torch.cat([output, comp], dim=0))
            with torch.no_grad():
                feats_gt = self.vgg(target)
            n = output.shape[0]
            perceptual = output.new_zeros(())
            style = output.new_zeros(())
            for f, g in zip(feats, feats_gt):
                f_out, f_comp = f[:n], f[n:]
                perceptual = perceptual + (f_out - g).abs().mean() + (f_comp - g).abs().mean()
                g_gt = gram(g)
                style = style + (gram(f_out) - g_gt).abs().mean() + (gram(f_comp) - g_gt).abs().mean()
            tv = tv_loss(comp, mask)
            terms = {"valid": valid, "hole": hole, "perceptual": perceptual, "style": style, "tv": tv}
            terms["total"] = sum(LOSS_WEIGHTS[k] * v for k, v in terms.items())
        return terms
