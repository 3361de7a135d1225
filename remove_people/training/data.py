"""The training data of both inpainting networks: the split file, the dataset, the epoch sampler.

Why keyed by ``(epoch, index)``: every random choice of the data (shuffle order, flips,
masks) is a pure function of ``(seed, epoch, index)``, so it depends neither on worker
processes nor on where a run stopped, and a resumed run sees exactly the batches it
would have seen (the partial-conv and the DeepFillv2 trainings share this).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from remove_people.training.masks import MaskMixer, mask_rng


def read_split(data: Path, split: str | Path) -> dict[str, list[str]]:
    """``split.csv`` (columns ``file,split``) → {split name: [relative file, …]} in file order."""
    p = Path(split)
    if not p.is_absolute() and not p.exists():
        p = data / p
    out: dict[str, list[str]] = {}
    with open(p, newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["split"], []).append(row["file"])
    return out


class InpaintDataset(Dataset):
    """Items are keyed ``(epoch, index)``; image, flip and mask depend only on (seed, epoch, index).

    Returns ``(image, mask)``: image float32 (3, S, S) in [0, 1]; mask float32 (1, S, S), 1 = valid.
    Validation items use epoch 0 and no flip, so every epoch is validated on the same holes.
    """

    def __init__(self, root: Path, files: list[str], size: int, mixer: MaskMixer, seed: int, train: bool) -> None:
        self.root, self.files, self.size, self.mixer, self.seed, self.train = root, files, size, mixer, seed, train

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, idx = key if isinstance(key, tuple) else (0, key)
        rng = mask_rng(self.seed, 1 if self.train else 2, epoch if self.train else 0, idx)
        path = self.root / self.files[idx]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"cannot read image {path}")
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if img.shape[:2] != (self.size, self.size):
            h, w = img.shape[:2]
            s = min(h, w)
            y0, x0 = (h - s) // 2, (w - s) // 2
            img = cv2.resize(img[y0 : y0 + s, x0 : x0 + s], (self.size, self.size), interpolation=cv2.INTER_AREA)
        if self.train and rng.random() < 0.5:
            img = img[:, ::-1]
        hole = self.mixer(self.size, rng)
        image = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)
        mask = torch.from_numpy((hole == 0).astype(np.float32))[None]
        return image, mask


class EpochSampler(Sampler):
    """A seeded permutation per epoch, yielding ``(epoch, index)`` keys, from item ``skip`` on."""

    def __init__(self, n: int, seed: int, epoch: int, shuffle: bool, skip: int = 0) -> None:
        self.n, self.seed, self.epoch, self.shuffle, self.skip = n, seed, epoch, shuffle, skip

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        for i in order[self.skip :]:
            yield (self.epoch, i)

    def __len__(self) -> int:
        return max(0, self.n - self.skip)
