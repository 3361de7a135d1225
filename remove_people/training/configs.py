"""The settings of each training run, with their defaults: the one home of training defaults.

Why a module of its own, without torch: ``remove-people train pconv|deepfillv2`` take their
option defaults from these dataclasses (so ``--help`` shows them and stays fast), the
trainers take the dataclasses, and a resumed run compares the checkpoint's copy with them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PConvTrainConfig:
    """``remove-people train pconv``: Liu et al.'s recipe (55 epochs, batch 7, Adam 2e-4, then 10 fine-tune epochs at 5e-5)."""

    data: str
    split: str = "split.csv"
    out: str = "runs/pconv"
    epochs: int = 55
    finetune_epochs: int = 10
    batch_size: int = 7
    lr: float = 2e-4
    finetune_lr: float = 5e-5
    size: int = 256
    seed: int = 0
    workers: int = 2
    p_persons: float = 0.5
    annotations: str | None = None
    vgg_weights: str = "vgg16-features-pool3"
    device: str = "auto"
    amp: bool = True
    checkpoint_every: int = 500
    limit_train: int | None = None
    limit_val: int | None = None
    max_steps: int | None = None
    progress: bool = True
    width: int = 64  # enc_1 channels (Liu et al.: 64); smaller only for fast tests


@dataclass
class DeepFillv2TrainConfig:
    """``remove-people train deepfillv2``: hinge SN-PatchGAN + L1, Adam 1e-4 for both networks."""

    data: str
    split: str = "split.csv"
    out: str = "runs/deepfillv2"
    layout: str = "pt"  # the numerics to train with, and the layout generator.pth is saved in
    init: str | None = None  # published checkpoint (path or model-table name) to start from; None = random
    steps: int = 10000
    batch_size: int = 8
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    l1_weight: float = 1.0
    gan_weight: float = 1.0
    size: int = 256
    seed: int = 0
    workers: int = 2
    p_persons: float = 0.5
    annotations: str | None = None
    device: str = "auto"
    amp: bool = True
    checkpoint_every: int = 500
    max_steps: int | None = None  # stop early (with a checkpoint), e.g. to test resuming
    limit_train: int | None = None
