"""The ``pconv`` inpainter: the partial-convolution U-Net (Liu et al. 2018) with weights we trained.

No published weights of this network can be reached, so ``weights`` names a checkpoint
made by ``remove-people train pconv`` (``model.pt``/``best.pt`` of a run folder, or
``checkpoints/last.pt``) or a model-table name for one.

Why ``pad_multiple = 256``: the U-Net halves the resolution eight times (2^8 = 256), and
it is trained on 256×256 photos. Crops padded (by the base class, the context and the hole
mirrored alike) to multiples of 256 keep every level's grid exactly as in
training, and the context keeps its pixel scale (no resampling of the image outside the
hole). The alternative, resizing each crop to 256 or 512 inside ``fill``, would blur the
context and rescale small holes up by large factors. Together with ``max_side`` (512 by
default) a crop becomes 256×256, 256×512 or 512×512, the sizes the network was run at.

The torch base (``torch_base.py``) owns the rest: the weights (the checkpoint's sha256 is
the cache key, so a run answered from the cache loads nothing), the lazy model, the device,
``close()``, and same-size crops run ``batch_size`` at a time. What stays here is the
network's own: its loader and its mask convention (1 = valid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from remove_people.settings import param
from remove_people.stages.inpaint.torch_base import TorchInpainter, TorchParams


@dataclass
class PConvParams(TorchParams):
    """weights: a checkpoint from ``remove-people train pconv`` (path) or a model-table name.
    device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
    precision: ``fp32`` only (half precision is untested for partial convolutions' mask renormalisation).
    batch_size: crops of the same size per forward pass.
    trust_weights: load a full-pickle checkpoint (it can run code); ``train pconv`` writes plain tensors.
    """

    max_side: int | None = param(512, lo=16, hi=65536)  # crops come out 256 or 512 per side, the training sizes
    batch_size: int = param(4, lo=1, hi=256)


class PConvInpainter(TorchInpainter):
    name = "pconv"
    summary = "Partial-convolution U-Net (Liu et al. 2018), trained by `remove-people train pconv`; crops padded to 256."
    Params: ClassVar[type] = PConvParams
    pad_multiple: ClassVar[int] = 256
    version: ClassVar[int] = 2  # 2: padding mirrors the hole too (a padded crop changed)
    worker_memory_mb: ClassVar[int] = 1000  # torch + the U-Net, as DeepFillv2 (an estimate, not measured)
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    precision_note: ClassVar[str] = "partial convolutions are untested in half precision"

    def missing_weights_message(self) -> str:
        return (
            "inpaint.pconv.weights is not set: no published weights exist for this network; train one "
            "with `remove-people train pconv` and pass --set inpaint.pconv.weights=RUN/model.pt"
        )

    def load_network(self, path: Path) -> Any:
        """The U-Net (``load_pconv_unet``, unless the table knows the file and names another builder)."""
        from remove_people.models.loading import build
        from remove_people.models.pconv import load_pconv_unet

        return build(path, entry=self._named_entry(), builder=load_pconv_unet, trust=self.params.trust_weights)

    def forward(self, model: Any, image: Any, hole: Any) -> Any:
        """The network's mask is 1 = valid; its result composited into the known pixels ([0, 1])."""
        valid = 1.0 - hole
        out = model(image, valid)
        return valid * image + (1.0 - valid) * out
