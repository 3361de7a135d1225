"""Inpainting quality against known pixels: L1, PSNR, SSIM and LPIPS, over the hole and the whole image.

Why both regions: every inpainter here returns the pixels outside the hole bit-identical,
so whole-image figures mostly measure how big the hole is; the hole-only figures are
the ones that tell methods apart. Whole-image figures are kept because papers
(LaMa, MI-GAN, DeepFillv2) report them that way, and a reader compares with those.

Conventions: images are RGB uint8; L1 is the mean absolute error on a [0, 1] scale;
PSNR uses a peak of 255; SSIM is scikit-image's (Gaussian window, as Wang et al.),
averaged over RGB; LPIPS uses the AlexNet trunk from our own weight file (never a
download) with the linear heads the ``lpips`` package ships. Over the hole, SSIM and
LPIPS are their per-pixel maps averaged over hole pixels.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

METRICS = ("l1", "psnr", "ssim", "lpips")
#: For each metric, whether a larger value is better (the report marks the best row).
HIGHER_IS_BETTER = {"l1": False, "psnr": True, "ssim": True, "lpips": False}

# AlexNet ``features`` index → the lpips package's slice that holds it.
_ALEX_SLICE = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}


@dataclass
class Scores:
    """One image's scores; keys like ``hole.l1`` and ``image.psnr``."""

    values: dict[str, float]


def _psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else 10.0 * math.log10(255.0**2 / mse)


def pixel_scores(truth: np.ndarray, result: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """L1, PSNR and SSIM over the hole and over the whole image (no network needed)."""
    from skimage.metrics import structural_similarity

    if truth.shape != result.shape:
        raise ValueError(f"result shape {result.shape} differs from the original's {truth.shape}")
    hole = hole > 0
    t = truth.astype(np.float64)
    r = result.astype(np.float64)
    diff = np.abs(t - r)
    sq = diff**2
    out: dict[str, float] = {
        "image.l1": float(diff.mean() / 255.0),
        "image.psnr": _psnr(float(sq.mean())),
    }
    _, ssim_map = structural_similarity(
        truth, result, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True
    )
    ssim_map = ssim_map.mean(axis=2)
    out["image.ssim"] = float(ssim_map.mean())
    if hole.any():
        out["hole.l1"] = float(diff[hole].mean() / 255.0)
        out["hole.psnr"] = _psnr(float(sq[hole].mean()))
        out["hole.ssim"] = float(ssim_map[hole].mean())
    return out


class LpipsMetric:
    """LPIPS (AlexNet) with the trunk loaded from ``alexnet-features`` in the model table.

    Why not ``lpips.LPIPS()`` plainly: it would download torchvision's AlexNet. With
    ``pnet_rand=True`` it builds a random trunk, and we load our file into it; the
    linear heads come with the package. Built once per process (it is ~10 MB).
    """

    _lock = threading.Lock()
    _instance: "LpipsMetric | None" = None

    def __init__(self) -> None:
        import lpips
        import torch

        from remove_people.models.loading import build

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's "pretrained is deprecated"
            self.model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False, spatial=True)
        state = build("alexnet-features").state_dict()  # the table's AlexNet trunk, checked and loaded weights_only
        mapped = {}
        for key, value in state.items():
            idx, rest = key.split(".", 1)
            mapped[f"slice{_ALEX_SLICE[int(idx)]}.{idx}.{rest}"] = value
        self.model.net.load_state_dict(mapped, strict=True)
        self.model.eval().requires_grad_(False)
        self.torch = torch

    @classmethod
    def shared(cls) -> "LpipsMetric":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def distance_map(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per-pixel LPIPS map (H, W); its mean is the image's LPIPS distance."""
        torch = self.torch

        def tensor(x: np.ndarray) -> Any:
            return torch.from_numpy(np.array(x, dtype=np.float32, copy=True)).permute(2, 0, 1)[None] / 127.5 - 1.0

        with torch.no_grad():
            d = self.model(tensor(a), tensor(b))
        return d[0, 0].numpy()

    def scores(self, truth: np.ndarray, result: np.ndarray, hole: np.ndarray) -> dict[str, float]:
        dmap = self.distance_map(truth, result)
        out = {"image.lpips": float(dmap.mean())}
        if (hole > 0).any():
            out["hole.lpips"] = float(dmap[hole > 0].mean())
        return out


def score_image(truth: np.ndarray, result: np.ndarray, hole: np.ndarray, lpips: bool = True) -> dict[str, float]:
    """Every metric for one result; ``lpips=False`` skips the network (fast tests, no torch)."""
    out = pixel_scores(truth, result, hole)
    if lpips:
        out.update(LpipsMetric.shared().scores(truth, result, hole))
    return out


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    """Average per key over images; PSNR is averaged per image (as papers do), infinities skipped."""
    keys = sorted({k for r in rows for k in r})
    out: dict[str, float] = {}
    for k in keys:
        vals = [r[k] for r in rows if k in r and math.isfinite(r[k])]
        if vals:
            out[k] = float(np.mean(vals))
    return out
