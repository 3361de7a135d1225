"""The ``pconv`` inpainter: the partial-convolution U-Net (Liu et al. 2018) with weights we trained.

No published weights of this network can be reached, so ``weights`` names a checkpoint
made by ``remove-people train pconv`` (``model.pt``/``best.pt`` of a run folder, or
``checkpoints/last.pt``) or a model-table name for one.

Why ``pad_multiple = 256``: the U-Net halves the resolution eight times (2^8 = 256), and
it is trained on 256×256 photos. Crops padded (by the base class, reflecting the context,
with no hole in the padding) to multiples of 256 keep every level's grid exactly as in
training, and the context keeps its pixel scale (no resampling of the image outside the
hole). The alternative, resizing each crop to 256 or 512 inside ``fill``, would blur the
context and rescale small holes up by large factors. Together with ``max_side`` (512 by
default) a crop becomes 256×256, 256×512 or 512×512, the sizes the network was run at.

The model is loaded on the first ``fill`` only, so a run answered from the cache loads
nothing; ``weights_identity`` (the checkpoint's sha256) needs only the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from remove_people.errors import UsageError
from remove_people.settings import param
from remove_people.stages.inpaint.base import CropParams, Inpainter, check_device, resolve_device


@dataclass
class PConvParams(CropParams):
    """weights: a checkpoint from ``remove-people train pconv`` (path) or a model-table name.
    device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
    batch_size: crops of the same size per forward pass.
    """

    max_side: int | None = param(512, lo=16, hi=65536)  # crops come out 256 or 512 per side, the training sizes
    weights: str | None = None
    device: str = param("auto", kind="device")
    batch_size: int = param(4, lo=1, hi=256)


class PConvInpainter(Inpainter):
    name = "pconv"
    summary = "Partial-convolution U-Net (Liu et al. 2018), trained by `remove-people train pconv`; crops padded to 256."
    Params: ClassVar[type] = PConvParams
    pad_multiple: ClassVar[int] = 256
    version: ClassVar[int] = 2  # 2: padding mirrors the hole too (a padded crop changed)
    batch_crops: ClassVar[bool] = True
    worker_memory_mb: ClassVar[int] = 1000  # torch + the U-Net, as DeepFillv2 (an estimate, not measured)

    def __init__(self, params: Any | None = None) -> None:
        super().__init__(params)
        p = self.params
        if p.batch_size < 1:
            raise UsageError(f"inpaint.pconv.batch_size must be at least 1, got {p.batch_size}")
        check_device(p.device, "inpaint.pconv")
        self._path: Path | None = None
        self._model: Any = None
        self._device: Any = None

    # -- weights --------------------------------------------------------------------------

    def weights_path(self) -> Path:
        if self._path is None:
            name = self.params.weights
            if not name:
                raise UsageError(
                    "inpaint.pconv.weights is not set: no published weights exist for this network; train one "
                    "with `remove-people train pconv` and pass --set inpaint.pconv.weights=RUN/model.pt"
                )
            from remove_people.models.resolve import resolve_weights

            self._path = Path(resolve_weights(name))
        return self._path

    def model(self) -> Any:
        """The U-Net on its device, in eval mode, built on first use."""
        if self._model is None:
            import torch

            from remove_people.models.pconv import PConvUNet, load_pconv_state, width_of

            path = self.weights_path()
            try:
                state = load_pconv_state(str(path))
            except Exception as exc:  # not a torch file, or more than tensors and plain types
                from remove_people.errors import WeightsError

                raise WeightsError(f"{path}: not a pconv checkpoint readable with weights_only ({exc})") from exc
            try:
                net = PConvUNet(width_of(state))
                net.load_state_dict(state, strict=True)
            except (RuntimeError, KeyError) as exc:
                from remove_people.errors import WeightsError

                raise WeightsError(f"{path}: not a partial-conv U-Net checkpoint ({str(exc).splitlines()[0]})") from exc
            self._device = torch.device(resolve_device(self.params.device))
            self._model = net.to(self._device).eval()
        return self._model

    def close(self) -> None:
        on_cuda = self._device is not None and self._device.type == "cuda"
        self._model = None
        if on_cuda:
            import torch

            torch.cuda.empty_cache()

    # -- filling --------------------------------------------------------------------------

    def fill(self, images: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
        """Fill crops (sides multiples of 256), same-size crops ``batch_size`` at a time; float RGB in [0, 255]."""
        import torch

        net = self.model()
        order = sorted(range(len(images)), key=lambda i: (images[i].shape[:2], i))
        results: list[np.ndarray | None] = [None] * len(images)
        bs = self.params.batch_size
        start = 0
        while start < len(order):
            shape = images[order[start]].shape[:2]
            chunk = [order[start]]
            while start + len(chunk) < len(order) and len(chunk) < bs and images[order[start + len(chunk)]].shape[:2] == shape:
                chunk.append(order[start + len(chunk)])
            start += len(chunk)
            image = torch.stack([torch.from_numpy(np.ascontiguousarray(images[i])).permute(2, 0, 1) for i in chunk])
            image = image.float().div_(255.0).to(self._device)
            # The network's convention: 1 = valid, 0 = hole (holes here are 255 = fill).
            valid = torch.stack([torch.from_numpy((holes[i] <= 127).astype(np.float32))[None] for i in chunk])
            valid = valid.to(self._device)
            with torch.inference_mode():
                out = net(image, valid)
                out = (valid * image + (1.0 - valid) * out).clamp_(0.0, 1.0).mul_(255.0)
                out = out.permute(0, 2, 3, 1).float().cpu().numpy()
            for k, i in enumerate(chunk):
                results[i] = np.ascontiguousarray(out[k])
        return results  # type: ignore[return-value]
