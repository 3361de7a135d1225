"""The ``deepfillv2`` inpainter: DeepFillv2 with the published Places2 / CelebA-HQ weights.

Why crops by default: DeepFillv2 was trained on 256 x 256 images with holes up
to 128 px, and its contextual attention compares every position of the feature
map with every other, so cost grows with the *square* of the pixel count
(1024 x 1024 already takes tens of seconds and gigabytes). The base class cuts
a context window around each hole, scales it to at most ``max_side`` and pads
it to a multiple of 8; here the windows of one photo run through the network
as batches. ``strategy: full`` runs the whole photo at native size instead,
which reproduces the reference implementation exactly for sizes that are
multiples of 8 (and is only sensible for small photos).

The torch base (``torch_base.py``) owns the weights (resolved through the table,
hashed for the cache key without building anything), the lazy model, the device,
the precision and ``close()``. What stays here is the network's own: the table name
of a variant and layout, the generator loader, and a ``fill`` whose batches pad
crops of different sizes to a common one (edge pixels repeated, no hole there) and
whose contextual attention takes the exclusion mask (``uses_exclude``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from remove_people.errors import UsageError
from remove_people.settings import param
from remove_people.stages.inpaint.torch_base import TorchInpainter, TorchParams

log = logging.getLogger("remove_people.inpaint.deepfillv2")

VARIANTS = ("places2", "celebahq")
LAYOUTS = ("tf", "pt")


@dataclass
class DeepFillv2Params(TorchParams):
    """variant: ``places2`` (scenes; the right one for removing people) or ``celebahq`` (faces).
    layout: ``tf`` (converted from the official TensorFlow release) or ``pt`` (the port's fine-tuned weights).
    weights: a weight file, or a model-table name; ``null`` = ``deepfillv2-{variant}-{layout}``.
    device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
    precision: ``fp32``, ``fp16`` or ``bf16``; half precisions apply on CUDA only (CPU runs fp32).
    batch_size: crops per forward pass (crops of one batch are padded to a common size).
    trust_weights: load a full-pickle checkpoint the weights table does not know (it can run code).
    """

    max_side: int | None = param(512, lo=16, hi=65536)  # windows scaled so the network sees about its training scale
    variant: str = param("places2", choices=VARIANTS)
    layout: str = param("tf", choices=LAYOUTS)
    batch_size: int = param(4, lo=1, hi=256)


class DeepFillv2Inpainter(TorchInpainter):
    name = "deepfillv2"
    summary = "DeepFillv2 (gated convs + contextual attention), published Places2/CelebA-HQ weights, crops batched."
    Params: ClassVar[type] = DeepFillv2Params
    #: The entry whose preprocessing (range [-1, 1]) the network follows; the file is the variant's and layout's.
    weights_entry: ClassVar[str] = "deepfillv2-places2-tf"
    pad_multiple: ClassVar[int] = 8
    version: ClassVar[int] = 2  # 2: padding mirrors the hole too (a padded crop changed)
    worker_memory_mb: ClassVar[int] = 1000  # measured: two CPU workers added 1.9 GB (BENCHMARKS.md)
    uses_exclude: ClassVar[bool] = True  # contextual attention copies features from the photo
    half_mode: ClassVar[str] = "cast"  # weights and inputs in fp16/bf16 on CUDA

    def check_params(self) -> None:
        p = self.params
        for field, value, valid in (("variant", p.variant, VARIANTS), ("layout", p.layout, LAYOUTS)):
            if value not in valid:
                raise UsageError(f"inpaint.deepfillv2.{field}: {value!r} is not one of {', '.join(valid)}")

    @property
    def weights_name(self) -> str:
        """What to resolve: the explicit ``weights`` or the table name of variant and layout."""
        return self.params.weights or f"deepfillv2-{self.params.variant}-{self.params.layout}"

    def load_network(self, path: Path) -> Any:
        """The generator (the table's builder ``load_generator``, also for a file the table does not know)."""
        from remove_people.models.deepfillv2 import load_generator
        from remove_people.models.loading import build

        g = build(path, entry=self._named_entry(), builder=load_generator, trust=self.params.trust_weights)
        if self.params.weights and g.layout != self.params.layout:
            log.warning("inpaint.deepfillv2: %s has the %s layout (layout: %s ignored)", path, g.layout, self.params.layout)
        return g

    def forward(self, model: Any, image: Any, hole: Any, exclude: Any = None) -> Any:
        """Both stages; the second stage's result composited into the known pixels ([-1, 1])."""
        from remove_people.models.deepfillv2 import make_input

        _, stage2 = model(make_input(image, hole), hole, exclude)
        return image * (1.0 - hole) + stage2 * hole

    def fill(
        self, images: list[np.ndarray], holes: list[np.ndarray], excludes: list[np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Fill prepared crops, ``batch_size`` at a time; returns float RGB in [0, 255].

        ``excludes`` (255 = a person who stays) are never borrowed from by the contextual attention.

        Crops are sorted by size before batching so a batch pads little; a crop
        smaller than its batch is padded (edge pixels repeated, no hole there) at
        the bottom/right, and the padding is cut off again afterwards.
        """
        import torch
        import torch.nn.functional as F

        g = self.model()
        lo, hi = self.preprocessing().value_range
        order = sorted(range(len(images)), key=lambda i: (images[i].shape[0] * images[i].shape[1], i))
        results: list[np.ndarray | None] = [None] * len(images)
        bs = self.params.batch_size
        for start in range(0, len(order), bs):
            chunk = order[start : start + bs]
            h = max(images[i].shape[0] for i in chunk)
            w = max(images[i].shape[1] for i in chunk)
            xs, ms, es = [], [], []
            for i in chunk:
                img = self.to_network_range(torch.from_numpy(np.ascontiguousarray(images[i])).permute(2, 0, 1).float())
                hole = torch.from_numpy((holes[i] > 127).astype(np.float32))[None]
                ph, pw = h - img.shape[1], w - img.shape[2]
                ex = torch.from_numpy((excludes[i] > 127).astype(np.float32))[None] if excludes is not None else None
                if ph or pw:
                    img = F.pad(img[None], (0, pw, 0, ph), mode="replicate")[0]
                    hole = F.pad(hole, (0, pw, 0, ph))
                    ex = F.pad(ex[None], (0, pw, 0, ph), mode="replicate")[0] if ex is not None else None
                xs.append(img)
                ms.append(hole)
                es.append(ex)
            image = torch.stack(xs).to(self._device, self._dtype)
            mask = torch.stack(ms).to(self._device, self._dtype)
            exclude = torch.stack(es).to(self._device) if excludes is not None else None  # type: ignore[arg-type]
            with torch.inference_mode():
                out = self.forward(g, image, mask, exclude)
                out = ((out.float() - lo) * (255.0 / (hi - lo))).clamp_(0.0, 255.0).permute(0, 2, 3, 1).cpu().numpy()
            for k, i in enumerate(chunk):
                ih, iw = images[i].shape[:2]
                results[i] = np.ascontiguousarray(out[k, :ih, :iw])
        return results  # type: ignore[return-value]
