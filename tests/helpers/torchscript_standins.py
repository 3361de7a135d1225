"""Stand-ins for the published LaMa and MI-GAN TorchScript files, which these machines cannot download.

Each has exactly the published call signature and conventions, and refuses any input
that breaks them (so a test that runs through one has proved the plugin's conversion):

- ``big-lama.pt``: ``forward(image, mask)``, image (B, 3, H, W) in [0, 1], mask (B, 1, H, W)
  in {0, 1} with 1 = hole, H and W multiples of 8; returns ``mask * fill + (1 - mask) * image``.
- ``migan_traced.pt``: ``forward(x)``, x (B, 4, 512, 512) = ``cat(known - 0.5, rgb * known)``
  with rgb in [-1, 1]; returns RGB (B, 3, 512, 512) in [-1, 1].

The fill is the mean colour of each sample's *known* pixels, so a test can tell the
polarity and the value range from the result: on a photo of one flat colour with a
differently coloured hole, the hole must come back in the flat colour. LaMa's stand-in
passes the known image through an FFT round trip, as big-lama's Fourier convolutions do.
Deterministic, no parameters worth the name (a few hundred bytes).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn


class LamaStandIn(nn.Module):
    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.size(1) != 3:
            raise ValueError("lama stand-in: image must be (B, 3, H, W)")
        if mask.dim() != 4 or mask.size(1) != 1 or mask.size(0) != image.size(0) or mask.shape[2:] != image.shape[2:]:
            raise ValueError("lama stand-in: mask must be (B, 1, H, W) like the image")
        if image.size(2) % 8 != 0 or image.size(3) % 8 != 0:
            raise ValueError("lama stand-in: H and W must be multiples of 8")
        if bool(image.min() < 0.0) or bool(image.max() > 1.0):
            raise ValueError("lama stand-in: image values must lie in [0, 1]")
        if not bool(((mask == 0.0) | (mask == 1.0)).all()):
            raise ValueError("lama stand-in: mask values must be 0 or 1")
        known = 1.0 - mask
        h, w = image.size(2), image.size(3)
        seen = torch.fft.irfft2(torch.fft.rfft2(image * known), s=[h, w])
        count = known.sum(dim=[2, 3], keepdim=True).clamp_min(1.0)
        fill = (seen * known).sum(dim=[2, 3], keepdim=True) / count
        return mask * fill.expand_as(image) + known * image


class MiganStandIn(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.size(1) != 4 or x.size(2) != 512 or x.size(3) != 512:
            raise ValueError("migan stand-in: input must be (B, 4, 512, 512)")
        half = x[:, :1]
        if not bool(((half == 0.5) | (half == -0.5)).all()):
            raise ValueError("migan stand-in: channel 0 must be known - 0.5 (+0.5 known, -0.5 hole)")
        rgb = x[:, 1:]
        if bool(rgb.min() < -1.0) or bool(rgb.max() > 1.0):
            raise ValueError("migan stand-in: RGB values must lie in [-1, 1]")
        known = half + 0.5
        if bool((rgb * (1.0 - known)).abs().max() > 0.0):
            raise ValueError("migan stand-in: hole pixels must be erased (rgb * known)")
        count = known.sum(dim=[2, 3], keepdim=True).clamp_min(1.0)
        fill = rgb.sum(dim=[2, 3], keepdim=True) / count
        return known * rgb + (1.0 - known) * fill.expand_as(rgb)


def _save(module: nn.Module, path: Path) -> Path:
    with warnings.catch_warnings():  # recent torch marks TorchScript deprecated; the published files are TorchScript
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.jit.save(torch.jit.script(module), str(path))
    return path


def save_lama(path: Path) -> Path:
    return _save(LamaStandIn(), path)


def save_migan(path: Path) -> Path:
    return _save(MiganStandIn(), path)
