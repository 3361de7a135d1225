"""The ``lama`` inpainter: big-lama (Suvorov et al. 2022), the TorchScript file IOPaint serves.

The network's conventions, and where they come from:

- **Call**: ``model(image, mask)``, both float (B, C, H, W): the ``JITWrapper`` of
  advimman/lama ``bin/to_jit.py`` traces ``forward(image, mask)`` and returns
  ``out["inpainted"]``.
- **Range and polarity**: ``image`` RGB in [0, 1], ``mask`` 1 inside the hole. IOPaint's
  ``iopaint/model/lama.py`` passes ``norm_img(image)`` (``/ 255``) and ``(mask > 0) * 1``;
  inside, advimman/lama ``saicinpainting/training/trainers/default.py`` multiplies the
  image by ``1 - mask``, concatenates the mask as a fourth channel, and returns
  ``mask * predicted + (1 - mask) * image``, so the output is the composite, in [0, 1]
  (the generator ends in a sigmoid: ``configs/training/big-lama.yaml``, ``add_out_act:
  sigmoid``). IOPaint multiplies it by 255.
- **Padding**: sides a multiple of 8 (``pad_mod = 8`` in IOPaint's lama.py; three
  stride-2 downsamplings, ``n_downsampling: 3`` in big-lama.yaml), mirrored
  (IOPaint's ``pad_img_to_modulo``, numpy ``symmetric``, image and mask alike).
- **Scale**: trained on 256 x 256 crops (``data: abl-04-256-mh-dist``); its Fourier
  convolutions see the whole input, so it runs well at higher resolutions (the paper's
  point). IOPaint crops around the hole with a 128-pixel margin at native resolution;
  here windows are scaled down only beyond ``max_side`` (1024 by default), which bounds
  time and memory by the crop, not the photo.
- **Precision**: fp32 only. Its Fourier convolutions run FFTs, which cuFFT computes in
  fp16 only for power-of-two sizes and not at all in bf16 (IOPaint runs it in fp32 too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from remove_people.settings import param
from remove_people.stages.inpaint.torch_base import TorchInpainter, TorchParams


@dataclass
class LamaParams(TorchParams):
    """weights: ``null`` = the table's ``lama`` (big-lama.pt), or a path (needs ``trust_weights`` unless it is that file).
    device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
    precision: ``fp32`` only (the network runs FFTs; see the module docstring).
    batch_size: crops of the same padded size per forward pass.
    trust_weights: load a file whose MD5 is not big-lama's published one.
    """

    min_margin: int = param(128, lo=0, hi=4096)  # IOPaint's crop margin for LaMa
    max_side: int | None = param(1024, lo=16, hi=65536)


class LamaInpainter(TorchInpainter):
    name = "lama"
    summary = "LaMa (big-lama, Fourier convolutions), IOPaint's TorchScript file; the quality choice for large holes."
    Params: ClassVar[type] = LamaParams
    weights_entry: ClassVar[str] = "lama"  # its preprocessing: [0, 1], sides a multiple of 8
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    precision_note: ClassVar[str] = "LaMa's Fourier convolutions run FFTs, which cuFFT does in fp16 only for power-of-two sizes and not in bf16"
    worker_memory_mb: ClassVar[int] = 2500  # torch + 200 MB of weights + a 1024-px crop's activations (an estimate, not measured)

    def forward(self, model: Any, image: Any, hole: Any) -> Any:
        """The network's own call: image in [0, 1] (its range in the table), 1 = hole; it returns the composite."""
        return model(image, hole)
