"""Device settings (``auto``, ``cpu``, ``cuda``, ``cuda:N``): checked before anything loads, resolved once.

Why one module: the inpainters' ``device`` settings, the training commands' ``--device`` and
the training loops each checked and resolved the word their own way (one accepted
``cuda:abc``); here the grammar and the meaning of ``auto`` are written once. Importing torch
only happens when ``auto`` must be resolved.
"""

from __future__ import annotations

import re
from typing import Any

from remove_people.errors import UsageError

#: The device words a torch setting accepts.
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def is_device(setting: str) -> bool:
    """Whether ``setting`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    return DEVICE_PATTERN.fullmatch(setting) is not None


def check_device(setting: str, where: str) -> None:
    """Refuse a ``device`` setting that is not ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (before any model loads)."""
    if not is_device(setting):
        raise UsageError(f"{where}.device: {setting!r} is not auto, cpu, cuda or cuda:N")


def resolve_device(setting: str) -> str:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``; anything else is kept."""
    if setting != "auto":
        return setting
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_device(setting: str) -> Any:
    """``torch.device`` of a setting, ``auto`` resolved."""
    import torch

    return torch.device(resolve_device(setting))
