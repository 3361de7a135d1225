"""Training of the partial-convolution U-Net (Liu et al. 2018), with exact resume.

Recipe (defaults in ``training/configs.py``, the source project's): 55 epochs, batch 7, Adam at 2e-4; then Liu et
al.'s fine-tune phase, Adam at 5e-5 with the encoder's BatchNorm frozen
(``finetune_epochs``, 10 by default: the source gives no count, this is our choice).
Masks: a mix of lines-and-circles and COCO person silhouettes (``p_persons``).

Why the run resumes exactly: every random choice of the data (shuffle order, flips,
masks) is a pure function of ``(seed, epoch, index)`` (``training/data.py``), so it does not depend on worker processes or on where a run stopped; the
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
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from remove_people.devices import torch_device
from remove_people.pipeline.atomic import atomic_open
from remove_people.training.checkpoints import grad_scaler, last_checkpoint, mixed_precision, rng_state, save_atomic, set_rng_state
from remove_people.training.configs import PConvTrainConfig
from remove_people.training.data import EpochSampler, InpaintDataset, read_split
from remove_people.training.masks import MaskMixer, PersonMasks, default_person_annotations

LOSS_KEYS = ("valid", "hole", "perceptual", "style", "tv", "total")
CSV_FIELDS = ("kind", "phase", "epoch", "step", "lr", *LOSS_KEYS)
FORMAT = "remove-people/pconv-unet"


def export_model(model: torch.nn.Module, path: Path, meta: dict[str, Any]) -> None:
    """A model-only file for the inpainter: ``{"format", "model", "meta"}``, tensors and plain types."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    save_atomic({"format": FORMAT, "model": state, "meta": meta}, path)


# -- loop ------------------------------------------------------------------------------------


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
    with atomic_open(png_path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def _mean_terms(acc: dict[str, float], n: int) -> dict[str, float]:
    return {k: v / max(n, 1) for k, v in acc.items()}


def train_pconv(cfg: PConvTrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) a training; returns the summary (also written to ``out/summary.json``)."""
    from remove_people.models.loading import load_checkpoint
    from remove_people.models.losses import InpaintingLoss
    from remove_people.models.pconv import PConvUNet

    data = Path(cfg.data)
    out = Path(cfg.out)
    ckpt_path = last_checkpoint(out, resume)
    device = torch_device(cfg.device)
    use_amp, amp_dtype = mixed_precision(device, cfg.amp)
    scaler = grad_scaler(use_amp, amp_dtype)

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
        set_rng_state(ck["rng"])
    log = _CsvLog(out / "losses.csv", global_step if resume else None, epoch if resume else None)

    def checkpoint() -> None:
        save_atomic({
            "format": FORMAT, "config": dataclasses.asdict(cfg), "epoch": epoch, "step_in_epoch": step_in_epoch,
            "global_step": global_step, "best": best, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(), "rng": rng_state(),
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
