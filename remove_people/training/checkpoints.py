"""What a resumable training run needs beyond the networks: its checkpoint path, mixed precision,
every RNG state, and atomic saving (shared by the pconv and DeepFillv2 trainers).

Why: a resumed run must continue bit for bit (tested on the CPU), so the torch, NumPy,
Python and CUDA generators are saved with the model and restored; a checkpoint is replaced
atomically, so a kill mid-save never leaves a torn ``last.pt``; and an existing checkpoint is
never overwritten by a run that was not asked to resume it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from remove_people.pipeline.atomic import atomic_open


def last_checkpoint(out: Path, resume: bool) -> Path:
    """``out/checkpoints/last.pt`` (``out`` is created); one that exists without ``resume`` is refused."""
    path = out / "checkpoints" / "last.pt"
    if path.exists() and not resume:
        raise FileExistsError(f"{path} exists: resume it (--resume) or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return path


def mixed_precision(device: torch.device, amp: bool) -> tuple[bool, torch.dtype]:
    """(on, dtype) of autocast: on CUDA only, bf16 where the GPU has it, else fp16 (which needs a loss scaler)."""
    on = bool(amp and device.type == "cuda")
    return on, torch.bfloat16 if on and torch.cuda.is_bf16_supported() else torch.float16


def grad_scaler(amp_on: bool, amp_dtype: torch.dtype) -> torch.amp.GradScaler:
    """A loss scaler, active only for fp16 autocast (bf16 has fp32's range)."""
    return torch.amp.GradScaler("cuda", enabled=amp_on and amp_dtype == torch.float16)


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` through ``pipeline/atomic.py``: a kill leaves the previous checkpoint whole."""
    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)
