"""The ``migan`` inpainter: MI-GAN 512 (Sargsyan et al. 2023), the TorchScript trace IOPaint serves.

The network's conventions, and where they come from:

- **Call**: ``model(x)`` with one float tensor ``x`` (B, 4, 512, 512): Picsart-AI-Research/MI-GAN
  ``scripts/export_inference_model.py`` traces ``Generator(resolution=512)`` on a
  (1, 4, 512, 512) input and saves ``migan_traced.pt``, the file IOPaint's
  ``iopaint/model/mi_gan.py`` downloads.
- **Input**: ``cat([known - 0.5, rgb * known])`` with ``rgb`` in [-1, 1] and ``known`` 1 outside
  the hole (MI-GAN ``scripts/demo.py`` ``preprocess`` and ``export_inference_model.py``; the
  repo's masks are white = known). IOPaint writes the same tensor from a 1 = hole mask as
  ``cat([0.5 - mask, image * (1 - mask)])`` with ``image * 2 - 1``.
- **Output**: RGB (B, 3, 512, 512) in [-1, 1] (``out * 127.5 + 127.5`` in IOPaint,
  ``out * 0.5 + 0.5`` in the demo).
- **Size**: exactly 512 x 512. The generator was trained on 512 x 512 Places2 images
  (``configs/experiment/migan_places512.yaml``), and the trace holds 512-sized noise
  buffers (the README: "the provided migan_inference.py implementation currently
  performs some fixed-resolution operations"). IOPaint crops around each hole with a
  128-pixel margin, shrinks the crop to at most 512 and pads it, mirrored, to 512 x 512
  (``min_size = pad_mod = 512``, ``pad_to_square``); so does this plugin (the windows come
  from the inpainter base, ``max_side`` at most 512, the mirrored padding from the torch base).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from remove_people.errors import UsageError
from remove_people.settings import param
from remove_people.stages.inpaint.torch_base import TorchInpainter, TorchParams

SIDE = 512


@dataclass
class MiganParams(TorchParams):
    """max_side: at most 512 (the network's fixed input); smaller windows are padded to 512, not enlarged.
    weights: ``null`` = the table's ``migan`` (migan_traced.pt), or a path (needs ``trust_weights`` unless it is that file).
    device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
    precision: ``fp32``, ``fp16`` or ``bf16``; half precisions apply on CUDA only (autocast).
    batch_size: crops per forward pass (every crop is 512 x 512, so they all batch).
    trust_weights: load a file whose MD5 is not MI-GAN's published one.
    """

    min_margin: int = param(128, lo=0, hi=4096)  # IOPaint's crop margin for MI-GAN
    max_side: int | None = param(512, lo=16, hi=512)
    batch_size: int = param(4, lo=1, hi=256)


class MiganInpainter(TorchInpainter):
    name = "migan"
    summary = "MI-GAN (512, Places2), IOPaint's TorchScript trace; a small mobile network, the fast learned fill."
    Params: ClassVar[type] = MiganParams
    weights_entry: ClassVar[str] = "migan"  # its preprocessing: [-1, 1], exactly 512 x 512
    worker_memory_mb: ClassVar[int] = 600  # torch + 27 MB of weights + 512x512 activations (an estimate, not measured)

    def check_params(self) -> None:
        p = self.params
        if p.strategy != "crop":
            raise UsageError(f"inpaint.migan.strategy: {p.strategy!r} is not supported; the network takes exactly {SIDE}x{SIDE} windows, use crop")
        if p.max_side is None or p.max_side > SIDE:
            raise UsageError(f"inpaint.migan.max_side must be at most {SIDE} (the network's input), got {p.max_side}")

    def forward(self, model: Any, image: Any, hole: Any) -> Any:
        """image in [-1, 1] (its range in the table) and 1 = hole → the network's 4-channel input."""
        import torch

        known = 1.0 - hole
        return model(torch.cat([known - 0.5, image * known], dim=1))
