"""The base of inpainters that run a torch network: weights, lazy model, device, precision, batches.

Why a second base above :class:`~remove_people.stages.inpaint.base.Inpainter`: every
learned fill needs the same plumbing around its network: resolve the weight file
through the weights table (offline, it says which file to put where), hash it for
the cache key without building anything, load the network on the first ``fill`` only
(a fully cached run never loads it), refuse a file the table cannot vouch for, put it
on a device, pick a precision, run same-sized crops in batches, and let it go at the
end of a run. A plugin keeps only its network specifics: which table entry it loads
(``weights_entry``), how its file becomes a network (``load_network``: the table entry's
builder, through ``models.loading.build``; TorchScript for LaMa and MI-GAN), and how a
batch maps to the network's inputs (``forward``). The input's value range and size rule
come from the entry's ``preprocessing`` in the weights table, not from the plugin.

The convention a plugin's ``forward`` receives: ``image`` (B, 3, H, W) RGB in the network's
``preprocessing.value_range`` ([0, 1] for LaMa, [-1, 1] for MI-GAN and DeepFillv2),
``hole`` (B, 1, H, W) with 1 inside the hole and 0 outside; it returns (B, 3, H, W) RGB in
that same range. Only hole pixels of what it returns are used. DeepFillv2 keeps its own
``fill`` (its batches pad crops of different sizes together, and its attention takes the
exclusion mask) on top of the same weights, model, device and precision handling.

Padding lives here, not in ``Inpainter.pad_multiple``: the inpainter base pads crops
with the hole set to 0, so the mirrored copy of the hole's own content (the person
being removed) would reach the network as known context. That is negligible for a
few pixels (LaMa's multiple of 8) but not for MI-GAN, whose crops are padded up to
512 x 512. Here image *and* hole are mirrored (numpy's ``symmetric``, as IOPaint's
``pad_img_to_modulo`` does), so mirrored hole pixels stay holes.
"""

from __future__ import annotations

import contextlib
import logging
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np

from remove_people.devices import check_device, torch_device
from remove_people.errors import UsageError, WeightsError
from remove_people.models.weights_entry import Preprocessing
from remove_people.settings import param
from remove_people.stages.inpaint.base import CropParams, Inpainter

log = logging.getLogger("remove_people.inpaint")

PRECISIONS = ("fp32", "fp16", "bf16")


class OfflineWeightsMissing(WeightsError, UsageError):
    """A network's weight file is not on disk and downloads are off: nothing can run (exit 2).

    Both a ``WeightsError`` (callers that catch weight problems still do) and a
    ``UsageError`` (the CLI ends with the one-line instruction and exit code 2).
    """


@dataclass
class TorchParams(CropParams):
    """weights: a weight file, or a model-table name; ``null`` = the plugin's own table entry.
    device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
    precision: ``fp32``, ``fp16`` or ``bf16``; half precisions apply on CUDA only (CPU runs fp32).
    batch_size: crops of the same padded size per forward pass (memory follows the crop, not the photo).
    trust_weights: load a file whose checksum the weights table cannot vouch for (it can run code).
    """

    weights: str | None = param(None, kind="path")
    device: str = param("auto", kind="device")
    precision: str = param("fp32", choices=PRECISIONS)
    batch_size: int = param(1, lo=1, hi=256)
    trust_weights: bool = False


def autocast_context(device: Any, dtype: Any) -> Any:
    """``torch.autocast`` for a half ``dtype`` on ``device``, else a no-op context.

    Why autocast rather than casting the weights: a TorchScript trace may hold tensor
    constants of a fixed dtype, and a few ops (norms, reductions) lose too much in fp16;
    autocast runs matmuls and convolutions in half and keeps the rest in fp32, inside
    scripted code too (it acts in the dispatcher, below TorchScript).
    """
    import torch

    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


class TorchInpainter(Inpainter):
    """Base of inpainter plugins that run a torch network (see the module docstring)."""

    Params: ClassVar[type] = TorchParams
    batch_crops: ClassVar[bool] = True
    #: The weights-table entry loaded when ``weights`` is ``null``.
    weights_entry: ClassVar[str] = ""
    #: Precisions the network can run in on CUDA (a plugin narrows this, and says why in ``precision_note``).
    precisions: ClassVar[tuple[str, ...]] = PRECISIONS
    precision_note: ClassVar[str] = ""
    #: How a half precision is applied: ``autocast`` (weights stay fp32; safe for TorchScript)
    #: or ``cast`` (weights and inputs converted, as the DeepFillv2 plugin does).
    half_mode: ClassVar[str] = "autocast"

    def __init__(self, params: Any | None = None) -> None:
        super().__init__(params)
        p = self.params
        where = f"inpaint.{self.name}"
        if p.precision not in PRECISIONS:
            raise UsageError(f"{where}.precision: {p.precision!r} is not one of {', '.join(PRECISIONS)}")
        if p.precision not in self.precisions:
            raise UsageError(f"{where}.precision: {p.precision} is not supported ({self.precision_note}); use {', '.join(self.precisions)}")
        if p.batch_size < 1:
            raise UsageError(f"{where}.batch_size must be at least 1, got {p.batch_size}")
        check_device(p.device, where)
        self.check_params()
        self._path: Path | None = None
        self._model: Any = None
        self._device: Any = None
        self._dtype: Any = None

    def check_params(self) -> None:
        """Refuse settings the network cannot run with (before anything loads); the base checks none."""

    @classmethod
    def preprocessing(cls) -> Preprocessing:
        """What the network expects (value range, size multiple, fixed size), from its table entry;
        a plugin with no entry gets the defaults ([0, 1], any size)."""
        if not cls.weights_entry:
            return Preprocessing()
        from remove_people.models.weights_table import get_entry

        return get_entry(cls.weights_entry).preprocessing

    # -- weights --------------------------------------------------------------------------

    @property
    def weights_name(self) -> str:
        """What to resolve: the explicit ``weights`` or the plugin's table entry (DeepFillv2: of its variant and layout)."""
        return self.params.weights or self.weights_entry

    def weights_path(self) -> Path:
        """The local weight file, resolved once (hashing it is all a cached run needs).

        Offline and not on disk: an :class:`OfflineWeightsMissing` whose one line names the
        file, the folders it may go in, and its download URL.
        """
        if self._path is None:
            from remove_people.models.locations import is_offline
            from remove_people.models.resolve import resolve_weights

            if not self.weights_name:
                raise UsageError(self.missing_weights_message())
            try:
                self._path = Path(resolve_weights(self.weights_name))
            except WeightsError as err:
                if is_offline():
                    raise OfflineWeightsMissing(f"inpaint.{self.name}: {err}") from None
                raise
        return self._path

    def missing_weights_message(self) -> str:
        """The usage error when neither ``weights`` nor ``weights_entry`` names a file."""
        return f"inpaint.{self.name}.weights is not set and the plugin names no table entry"

    def _named_entry(self) -> Any:
        """The table entry ``weights_name`` names, or ``None`` when it is a path."""
        from remove_people.models.weights_table import get_entry

        try:
            return get_entry(self.weights_name)
        except UsageError:
            return None

    def weights_available(self) -> bool:
        """Whether the weight file is on disk now (no download, nothing loaded): ``eval inpaint`` asks."""
        from remove_people.models.resolve import find_local

        if Path(self.weights_name).expanduser().is_file():
            return True
        entry = self._named_entry()
        return entry is not None and find_local(entry) is not None

    def checked_entry(self) -> Any:
        """The table entry a weight file must match before it loads: the named one, else the plugin's own
        (``None`` for a plugin with no entry)."""
        if self.weights_entry:
            from remove_people.models.weights_table import get_entry

            return self._named_entry() or get_entry(self.weights_entry)
        return self._named_entry()

    def load_network(self, path: Path) -> Any:
        """The network from ``path``, on the CPU: the builder of the entry the file is checked against
        (:func:`~remove_people.models.loading.build`; TorchScript for LaMa and MI-GAN, the published
        checksum first). Plugins whose files the table may not know pass their own builder."""
        from remove_people.models.loading import build

        return build(
            path, entry=self.checked_entry(), trust=self.params.trust_weights,
            trust_setting=f"--set inpaint.{self.name}.trust_weights=true",
        )

    def model(self) -> Any:
        """The network on its device, in eval mode, built on first use."""
        if self._model is None:
            import torch

            net = self.load_network(self.weights_path())
            self._device = torch_device(self.params.device)
            self._dtype = torch.float32
            if self._device.type == "cuda":
                self._dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.params.precision]
            elif self.params.precision != "fp32":
                log.info("inpaint.%s: precision %s applies on CUDA only; running fp32 on %s", self.name, self.params.precision, self._device)
            net = net.to(self._device)
            if self.half_mode == "cast" and self._dtype != torch.float32:
                net = net.to(self._dtype)
            self._model = net.eval()
        return self._model

    def close(self) -> None:
        """Drop the model (and CUDA's cached blocks) at the end of a run."""
        on_cuda = self._device is not None and self._device.type == "cuda"
        self._model = None
        if on_cuda:
            import torch

            torch.cuda.empty_cache()

    # -- filling --------------------------------------------------------------------------

    @abstractmethod
    def forward(self, model: Any, image: Any, hole: Any) -> Any:
        """Run the network on a batch in the convention of the module docstring (the network's value
        range); return RGB in that range."""

    def input_shape(self, h: int, w: int) -> tuple[int, int]:
        """The padded (H, W) the network gets for an ``h`` x ``w`` crop (the entry's size rule)."""
        pre = self.preprocessing()
        if pre.fixed_size and pre.native_size:
            side = pre.native_size
            if h > side or w > side:
                raise ValueError(f"inpaint.{self.name}: a {w}x{h} crop exceeds the network's fixed {side}x{side} input")
            return side, side
        k = pre.size_multiple or 1
        return -(-h // k) * k, -(-w // k) * k

    def to_network_range(self, x: Any) -> Any:
        """A float tensor of 0..255 values to the network's value range, in place.

        Written as one division and one offset so each plugin keeps its exact arithmetic:
        ``x / 255`` for [0, 1]; ``x / 127.5 - 1`` for [-1, 1] (equal to ``(x / 255) * 2 - 1`` bit
        for bit, a scaling by two being exact).
        """
        lo, hi = self.preprocessing().value_range
        x = x.div_(255.0 / (hi - lo))
        return x.add_(lo) if lo else x

    def to_unit_range(self, out: Any) -> Any:
        """The network's output, in its value range, to [0, 1] (no work for [0, 1] networks)."""
        lo, hi = self.preprocessing().value_range
        return out if (lo, hi) == (0.0, 1.0) else (out - lo) / (hi - lo)

    def batches(self, shapes: list[tuple[int, int]]) -> Iterator[list[int]]:
        """Indices of crops run together: same padded shape, at most ``batch_size`` each.

        Why only same-shaped crops: padding a crop to its batch-mates' size would change
        what the network sees (LaMa's Fourier convolutions see the whole input), so a
        photo's result would depend on its other holes; grouped this way, a batch gives
        exactly what each crop gives alone.
        """
        order = sorted(range(len(shapes)), key=lambda i: (shapes[i], i))
        bs = self.params.batch_size
        chunk: list[int] = []
        for i in order:
            if chunk and (len(chunk) == bs or shapes[chunk[0]] != shapes[i]):
                yield chunk
                chunk = []
            chunk.append(i)
        if chunk:
            yield chunk

    def fill(self, images: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
        """Fill prepared crops batch by batch; returns float RGB in [0, 255] of each crop's size."""
        import torch

        model = self.model()
        shapes = [self.input_shape(*im.shape[:2]) for im in images]
        results: list[np.ndarray | None] = [None] * len(images)
        in_dtype = self._dtype if self.half_mode == "cast" else torch.float32
        for chunk in self.batches(shapes):
            H, W = shapes[chunk[0]]
            xs, ms = [], []
            for i in chunk:
                h, w = images[i].shape[:2]
                pad = ((0, H - h), (0, W - w))
                xs.append(np.pad(images[i], pad + ((0, 0),), mode="symmetric"))
                ms.append(np.pad(holes[i] > 127, pad, mode="symmetric"))
            image = self.to_network_range(torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous().to(self._device, in_dtype))
            hole = torch.from_numpy(np.stack(ms)[:, None]).to(self._device, in_dtype)
            with torch.inference_mode(), autocast_context(self._device, None if self.half_mode == "cast" else self._dtype):
                out = self.to_unit_range(self.forward(model, image, hole)).float().clamp_(0.0, 1.0).mul_(255.0)
            out = out.permute(0, 2, 3, 1).cpu().numpy()
            for k, i in enumerate(chunk):
                h, w = images[i].shape[:2]
                results[i] = np.ascontiguousarray(out[k, :h, :w])
        return results  # type: ignore[return-value]
