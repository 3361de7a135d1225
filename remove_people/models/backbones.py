"""The ImageNet trunks the losses and metrics use, built from the shared weight files.

Why here, named by the table: ``vgg16-features-pool3`` (the partial-conv perceptual and
style losses) and ``alexnet-features`` (the LPIPS 'alex' trunk) are plain state dicts of
torchvision's layers; the table's entries name these builders, so ``loading.build(name)``
is how the loss and the metric get them, checked and loaded ``weights_only``.
"""

from __future__ import annotations

import os
from typing import Any

from remove_people.models.loading import load_checkpoint


def _strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def build_vgg16_features_pool3(path: str | os.PathLike[str]) -> Any:
    """torchvision ``vgg16().features[:17]`` (conv1_1 … pool3) with the file's weights, eval mode, frozen.

    The same modules as ``vgg16(weights=None).features[:17]``, made without building (and
    randomly initialising) the 120M-parameter classifier.
    """
    from torchvision.models.vgg import cfgs, make_layers

    net = make_layers(cfgs["D"], batch_norm=False)[:17]
    net.load_state_dict(_strip_prefix(load_checkpoint(path), "features."), strict=True)
    net.eval().requires_grad_(False)
    return net


def build_alexnet_features(path: str | os.PathLike[str]) -> Any:
    """torchvision ``alexnet().features`` with the file's weights (the LPIPS 'alex' trunk), eval mode, frozen."""
    from torchvision.models import alexnet

    net = alexnet(weights=None).features
    net.load_state_dict(_strip_prefix(load_checkpoint(path), "features."), strict=True)
    net.eval().requires_grad_(False)
    return net
