"""Our PatchMatch inpainter (registry name ``patchmatch``): multi-scale, every core or a GPU, never copies a person.

Why our own and not ``pypatchmatch`` (still selectable as ``pypatchmatch``): that library
is single-threaded, so one large hole held one core for seconds and capped the whole
pipeline (BENCHMARKS.md, "PatchMatch: the ceiling"); ours splits one fill over all
cores (numba) or runs it on a GPU (torch), with the same bytes either way. The
algorithm lives in ``remove_people.fill``; this module maps params onto it, picks the
backend, and honours the source exclusion (``uses_exclude``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from remove_people.settings import param
from remove_people.stages.base import params_to_dict
from remove_people.devices import check_device
from remove_people.stages.inpaint.base import CropParams, Inpainter


@dataclass
class PatchFillParams(CropParams):
    """patch_size: patch radius at full resolution (patches span (2r+1)^2 pixels), as pypatchmatch's.
    coarse_patch_size: patch radius at the coarser levels (null: patch_size).
    seed: the random search's seed; equal inputs and seed give equal bytes on any backend and thread count.
    em_iters: vote rounds at full resolution (coarser levels do more; they are cheap).
    known_weight: weight of a known pixel against a guessed one in the patch distance (matches keep to the hole's border).
    device: auto (a GPU when torch sees one) | cpu | cuda | cuda:N.
    threads: CPU threads for one fill (null: the process's share, as the pipeline gives OpenCV).
    """

    max_side: int | None = param(768, lo=16, hi=65536)  # larger windows are scaled to this
    patch_size: int = param(2, lo=1, hi=15)
    coarse_patch_size: int | None = param(2, lo=1, hi=15)
    seed: int = param(0, lo=0, hi=2**31 - 1)
    em_iters: int = param(1, lo=1, hi=16)
    known_weight: int = param(5, lo=1, hi=100)
    device: str = param("auto", kind="device")
    threads: int | None = param(None, lo=1, hi=1024)


def gpu_present() -> bool:
    """Whether torch sees a CUDA GPU, without importing torch on machines with no NVIDIA driver.

    Why: on a CPU the fill runs in numba, and importing torch only to learn there is no GPU
    would cost each inpainting worker a second and a few hundred MB.
    """
    if "torch" not in sys.modules and not os.path.exists("/proc/driver/nvidia/version"):
        return False
    import torch

    return torch.cuda.is_available()


class PatchFillInpainter(Inpainter):
    name = "patchmatch"
    summary = "PatchMatch, ours: multi-scale, all cores (numba) or a GPU (torch), seeded, never copies excluded persons."
    Params: ClassVar[type] = PatchFillParams
    #: ``fill`` takes ``excludes``: pixels (kept or missed persons) that must never be copied into a hole.
    uses_exclude: ClassVar[bool] = True
    #: numba and its compiled kernels, no torch on a CPU.
    worker_memory_mb: ClassVar[int] = 250

    def __init__(self, params: Any | None = None) -> None:
        super().__init__(params)
        check_device(self.params.device, "inpaint.patchmatch")
        self._kernels: Any = None

    def identity(self) -> dict[str, Any]:
        """The cache identity leaves out ``device`` and ``threads``: the output is the same bytes on all of them."""
        ident = super().identity()
        ident["params"] = {k: v for k, v in params_to_dict(self.params).items() if k not in ("device", "threads")}
        return ident

    def device(self) -> str:
        setting = self.params.device
        if setting == "auto":
            return "cuda" if gpu_present() else "cpu"
        return setting

    def uses_accelerator(self) -> bool:
        return self.device().startswith("cuda")

    def settings(self) -> Any:
        from remove_people.fill import FillSettings

        p = self.params
        return FillSettings(
            patch_radius=int(p.patch_size), coarse_patch_radius=p.coarse_patch_size, seed=int(p.seed),
            em_iters=int(p.em_iters), known_weight=int(p.known_weight),
        )

    def kernels(self) -> Any:
        if self._kernels is None:
            device = self.device()
            if device == "cpu":
                from remove_people.fill.kernels_numba import NumbaKernels

                self._kernels = NumbaKernels(self.params.threads or _process_threads())
            else:
                from remove_people.fill.kernels_torch import TorchKernels

                self._kernels = TorchKernels(device)
        return self._kernels

    def fill(
        self, images: list[np.ndarray], holes: list[np.ndarray], excludes: list[np.ndarray] | None = None
    ) -> list[np.ndarray]:
        from remove_people.fill import patch_fill

        settings, kernels = self.settings(), self.kernels()
        excl = excludes if excludes is not None else [None] * len(images)
        return [patch_fill(img, hole, ex, settings, kernels) for img, hole, ex in zip(images, holes, excl)]

    def close(self) -> None:
        self._kernels = None


def _process_threads() -> int:
    """This process's CPU share: what the pipeline set for OpenCV (a worker's ``cores / workers``), else all cores."""
    import cv2

    return max(1, cv2.getNumThreads())
