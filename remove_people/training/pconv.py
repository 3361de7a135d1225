"""Training of the partial-convolution U-Net (Liu et al. 2018), with exact resume.

Recipe (defaults = the source project's): 55 epochs, batch 7, Adam at 2e-4; then Liu et
al.'s fine-tune phase, Adam at 5e-5 with the encoder's BatchNorm frozen
(``finetune_epochs``, 10 by default: the source gives no count, this is our choice).
Masks: a mix of lines-and-circles and COCO person silhouettes (``p_persons``).

Why the run resumes exactly: every random choice of the data (shuffle order, flips,
masks) is a pure function of ``(seed, epoch, index)`` (see ``EpochSampler`` and
``mask_rng``), so it does not depend on worker processes or on where a run stopped; the
checkpoint holds the model (with BatchNorm statistics), the optimizer, the AMP scaler,
the RNG states and the epoch/step counters; a resumed run skips the batches of the
interrupted epoch that were already trained and truncates the loss CSV to the
checkpoint's step. On CPU this gives the same loss sequence bit for bit (tested).

Files under ``out``: ``checkpoints/last.pt`` (everything, replaced atomically),
``model.pt`` (model only, written at the end: what the ``pconv`` inpainter loads),
``best.pt`` (model only, lowest validation total), ``losses.csv`` (one row per training
step and per validation), ``loss.png`` (training and validation loss per epoch),
``summary.json``. Checkpoints hold only tensors and plain types, so they load with
``torch.load(weights_only=True)`` (``models/loading.load_checkpoint``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from remove_people.training.masks import MaskMixer, PersonMasks, default_person_annotations, mask_rng

LOSS_KEYS = ("valid", "hole", "perceptual", "style", "tv", "total")
CSV_FIELDS = ("kind", "phase", "epoch", "step", "lr", *LOSS_KEYS)
FORMAT = "remove-people/pconv-unet"


@dataclass
class TrainConfig:
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


# -- data -------------------------------------------------------------------------------


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


# -- checkpoints --------------------------------------------------------------------------


def _rng_state() -> dict[str, Any]:
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


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_atomic(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export_model(model: torch.nn.Module, path: Path, meta: dict[str, Any]) -> None:
    """A model-only file for the inpainter: ``{"format", "model", "meta"}``, tensors and plain types."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    _save_atomic({"format": FORMAT, "model": state, "meta": meta}, path)


# -- loop ------------------------------------------------------------------------------------


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class _CsvLog:
    def __init__(self, path: Path, keep_step: int | None, keep_epoch: int | None) -> None:
        """Open ``path``; on resume keep only rows up to the checkpoint (train step ≤ keep_step, val epoch < keep_epoch)."""
        rows: list[dict[str, str]] = []
        if keep_step is not None and path.exists():
            with open(path, newline="") as f:
                for r in csv.DictReader(f):
                    if (r["kind"] == "train" and int(r["step"]) <= keep_step) or (
                        r["kind"] == "val" and int(r["epoch"]) < (keep_epoch or 0)
                    ):
                        rows.append(r)
        self.path = path
        self.f = open(path, "w", newline="")
        self.w = csv.DictWriter(self.f, fieldnames=CSV_FIELDS)
        self.w.writeheader()
        self.w.writerows(rows)
        self.f.flush()

    def write(self, kind: str, phase: str, epoch: int, step: int, lr: float, terms: dict[str, float]) -> None:
        self.w.writerow({"kind": kind, "phase": phase, "epoch": epoch, "step": step, "lr": f"{lr:.3g}",
                         **{k: f"{terms[k]:.7g}" for k in LOSS_KEYS}})
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def read_losses(path: str | Path) -> list[dict[str, Any]]:
    with open(path, newline="") as f:
        return [
            {**r, "epoch": int(r["epoch"]), "step": int(r["step"]), **{k: float(r[k]) for k in LOSS_KEYS}}
            for r in csv.DictReader(f)
        ]


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """Training (mean per epoch) and validation loss per epoch: total and hole L1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_losses(csv_path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("total", "hole")):
        for kind, style in (("train", "-o"), ("val", "-s")):
            per_epoch: dict[int, list[float]] = {}
            for r in rows:
                if r["kind"] == kind:
                    per_epoch.setdefault(r["epoch"], []).append(r[key])
            if per_epoch:
                xs = sorted(per_epoch)
                ax.plot([x + 1 for x in xs], [float(np.mean(per_epoch[x])) for x in xs], style, ms=3, label=kind)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{key} loss")
        ax.set_title(f"partial-conv U-Net: {key} loss")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    tmp = png_path.with_name(f".{png_path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png_path)


def _mean_terms(acc: dict[str, float], n: int) -> dict[str, float]:
    return {k: v / max(n, 1) for k, v in acc.items()}


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) a training; returns the summary (also written to ``out/summary.json``)."""
    from remove_people.models.loading import load_checkpoint
    from remove_people.models.losses import InpaintingLoss
    from remove_people.models.pconv import PConvUNet

    data = Path(cfg.data)
    out = Path(cfg.out)
    ckpt_path = out / "checkpoints" / "last.pt"
    if ckpt_path.exists() and not resume:
        raise FileExistsError(f"{ckpt_path} exists: resume it (--resume) or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    device = _device(cfg.device)
    use_amp = bool(cfg.amp and device.type == "cuda")
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    splits = read_split(data, cfg.split)
    train_files = splits.get("train", [])
    val_files = splits.get("val", [])
    if cfg.limit_train is not None:
        train_files = train_files[: cfg.limit_train]
    if cfg.limit_val is not None:
        val_files = val_files[: cfg.limit_val]
    if len(train_files) < cfg.batch_size:
        raise ValueError(f"{len(train_files)} training images, fewer than one batch of {cfg.batch_size}")
    persons = None
    if cfg.p_persons > 0:
        persons = PersonMasks(cfg.annotations or default_person_annotations())
    mixer = MaskMixer(persons, cfg.p_persons)
    train_ds = InpaintDataset(data, train_files, cfg.size, mixer, cfg.seed, train=True)
    val_ds = InpaintDataset(data, val_files, cfg.size, mixer, cfg.seed, train=False)
    steps_per_epoch = len(train_ds) // cfg.batch_size
    total_epochs = cfg.epochs + cfg.finetune_epochs

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    model = PConvUNet(cfg.width).to(device)
    criterion = InpaintingLoss(cfg.vgg_weights).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    epoch, step_in_epoch, global_step, best = 0, 0, 0, math.inf
    if resume and ckpt_path.exists():
        ck = load_checkpoint(ckpt_path)
        old = ck["config"]
        for key in ("seed", "batch_size", "size", "p_persons", "data", "split", "width"):
            if old.get(key) != getattr(cfg, key):
                raise ValueError(f"resume: --{key.replace('_', '-')} was {old.get(key)!r}, now {getattr(cfg, key)!r}")
        epoch, step_in_epoch, global_step = ck["epoch"], ck["step_in_epoch"], ck["global_step"]
        best = ck["best"]
        if epoch >= cfg.epochs:
            model.freeze_encoder_bn()
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        if "scaler" in ck and scaler.is_enabled():
            scaler.load_state_dict(ck["scaler"])
        _set_rng_state(ck["rng"])
    log = _CsvLog(out / "losses.csv", global_step if resume else None, epoch if resume else None)

    def checkpoint() -> None:
        _save_atomic({
            "format": FORMAT, "config": dataclasses.asdict(cfg), "epoch": epoch, "step_in_epoch": step_in_epoch,
            "global_step": global_step, "best": best, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(), "rng": _rng_state(),
        }, ckpt_path)

    meta = {"trained_on": str(cfg.data), "size": cfg.size, "seed": cfg.seed, "mask": "1 = valid",
            "input": "RGB in [0, 1]", "width": cfg.width, "epochs": cfg.epochs, "finetune_epochs": cfg.finetune_epochs}
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        disable=not cfg.progress)
    interrupted = False
    t_start = time.time()
    images_seen = 0
    last_val: dict[str, float] = {}
    try:
        with progress:
            task = progress.add_task("train pconv", total=total_epochs * steps_per_epoch,
                                     completed=global_step, info="")
            while epoch < total_epochs:
                phase = "train" if epoch < cfg.epochs else "finetune"
                if phase == "finetune":
                    model.freeze_encoder_bn()
                    for g in optimizer.param_groups:
                        g["lr"] = cfg.finetune_lr
                model.train()
                sampler = EpochSampler(len(train_ds), cfg.seed, epoch, shuffle=True,
                                       skip=step_in_epoch * cfg.batch_size)
                loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                                    num_workers=cfg.workers, pin_memory=device.type == "cuda",
                                    persistent_workers=False)
                for image, mask in loader:
                    if step_in_epoch >= steps_per_epoch:
                        break
                    image = image.to(device, non_blocking=True)
                    mask = mask.to(device, non_blocking=True)
                    with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                        output = model(image, mask)
                    terms = criterion(output, image, mask)
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(terms["total"]).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    step_in_epoch += 1
                    global_step += 1
                    images_seen += image.shape[0]
                    values = {k: float(v.detach()) for k, v in terms.items()}
                    log.write("train", phase, epoch, global_step, optimizer.param_groups[0]["lr"], values)
                    progress.update(task, advance=1, info=f"ep {epoch + 1}/{total_epochs} {phase} "
                                    f"loss {values['total']:.4f} hole {values['hole']:.4f}")
                    if cfg.checkpoint_every and global_step % cfg.checkpoint_every == 0:
                        checkpoint()
                    if cfg.max_steps is not None and global_step >= cfg.max_steps:
                        interrupted = True
                        break
                if interrupted:
                    break
                # validation, once per epoch, on the same holes every epoch
                if len(val_ds):
                    model.eval()
                    acc = {k: 0.0 for k in LOSS_KEYS}
                    n = 0
                    vloader = DataLoader(val_ds, batch_size=cfg.batch_size,
                                         sampler=EpochSampler(len(val_ds), cfg.seed, 0, shuffle=False),
                                         num_workers=cfg.workers)
                    with torch.no_grad():
                        for image, mask in vloader:
                            image, mask = image.to(device), mask.to(device)
                            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                                output = model(image, mask)
                            t = criterion(output, image, mask)
                            for k in LOSS_KEYS:
                                acc[k] += float(t[k]) * image.shape[0]
                            n += image.shape[0]
                    last_val = _mean_terms(acc, n)
                    log.write("val", phase, epoch, global_step, optimizer.param_groups[0]["lr"], last_val)
                    if last_val["total"] < best:
                        best = last_val["total"]
                        export_model(model, out / "best.pt", {**meta, "epoch": epoch + 1, "val": last_val})
                epoch += 1
                step_in_epoch = 0
                checkpoint()
                plot_losses(out / "losses.csv", out / "loss.png")
    finally:
        log.close()
    if interrupted:
        checkpoint()
    else:
        export_model(model, out / "model.pt", {**meta, "val": last_val})
        plot_losses(out / "losses.csv", out / "loss.png")
    elapsed = time.time() - t_start
    summary = {"finished": not interrupted, "epoch": epoch, "global_step": global_step, "best_val_total": best,
               "last_val": last_val, "seconds": elapsed, "images_per_s": images_seen / elapsed if elapsed else None,
               "device": str(device), "amp": str(amp_dtype) if use_amp else None,
               "model": str(out / "model.pt") if not interrupted else None,
               "checkpoint": str(ckpt_path), "config": dataclasses.asdict(cfg)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
