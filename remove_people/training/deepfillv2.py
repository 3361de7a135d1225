"""Fine-tuning DeepFillv2: generator plus SN-PatchGAN, hinge loss and L1, with exact resume.

Recipe (Yu et al. 2019, as nipponjo/deepfillv2-pytorch trains it): the
discriminator sees ``[completed image, mask]`` and is trained with the hinge
loss ``relu(1 - D(real)) + relu(1 + D(fake))``; the generator minimises
``-gan_weight * D(fake) + l1_weight * (|x - stage1| + |x - stage2|)`` (L1 over
the whole image for both stages). Adam with betas (0.5, 0.999) for both.
Masks: COCO person silhouettes with probability ``p_persons``, else free-form
strokes and circles (``remove_people.training.masks``).

Why the run resumes exactly: the data (order, flips, masks) is a pure function
of ``(seed, epoch, index)`` (the same dataset and sampler as the partial-conv
training), and the checkpoint holds both networks (including the spectral-norm
power-iteration vectors), both optimizers, the AMP scalers, the RNG states and
the step counters. On CPU a resumed run reproduces the losses bit for bit.

Files under ``out``: ``checkpoints/last.pt`` (everything, replaced atomically),
``generator.pth`` (``{'G': state_dict}`` in the published ``layout``: loads with
:func:`remove_people.models.deepfillv2.load_generator`, the ``deepfillv2``
inpainter's ``weights:`` and the reference implementation alike),
``losses.csv`` (one row per step) and ``summary.json``.
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
import torch.nn.functional as F
from torch.utils.data import DataLoader

from remove_people.devices import torch_device
from remove_people.models.deepfillv2 import DeepFillv2Generator, SNPatchGANDiscriminator, load_generator, make_input
from remove_people.models.loading import build, load_checkpoint
from remove_people.training.checkpoints import grad_scaler, last_checkpoint, mixed_precision, rng_state, save_atomic, set_rng_state
from remove_people.training.configs import DeepFillv2TrainConfig
from remove_people.training.data import EpochSampler, InpaintDataset, read_split
from remove_people.training.masks import MaskMixer, PersonMasks, default_person_annotations

FORMAT = "remove-people/deepfillv2-train"
LOSS_KEYS = ("d_loss", "d_real", "d_fake", "g_gan", "l1_stage1", "l1_stage2", "g_loss")
CSV_FIELDS = ("step", "epoch", *LOSS_KEYS)
#: the config fields a resume must not change (they determine the data or the networks)
RESUME_FIXED = ("data", "split", "seed", "batch_size", "size", "p_persons", "layout", "init", "limit_train")


def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SN-PatchGAN's discriminator hinge loss, per term: ``mean(relu(1 - real))``, ``mean(relu(1 + fake))``."""
    return F.relu(1.0 - real).mean(), F.relu(1.0 + fake).mean()


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)


def read_losses(path: str | Path) -> list[dict[str, float]]:
    """The rows of ``losses.csv`` as numbers."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def train_deepfillv2(cfg: DeepFillv2TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) a fine-tuning; returns the summary (also written to ``out/summary.json``)."""
    data, out = Path(cfg.data), Path(cfg.out)
    if cfg.size % 8:
        raise ValueError(f"--size must be a multiple of 8, got {cfg.size}")
    ckpt_path = last_checkpoint(out, resume)
    device = torch_device(cfg.device)
    use_amp, amp_dtype = mixed_precision(device, cfg.amp)
    scaler_g, scaler_d = grad_scaler(use_amp, amp_dtype), grad_scaler(use_amp, amp_dtype)

    files = read_split(data, cfg.split).get("train", [])
    if cfg.limit_train is not None:
        files = files[: cfg.limit_train]
    if len(files) < cfg.batch_size:
        raise ValueError(f"{len(files)} training images, fewer than one batch of {cfg.batch_size}")
    persons = PersonMasks(cfg.annotations or default_person_annotations()) if cfg.p_persons > 0 else None
    dataset = InpaintDataset(data, files, cfg.size, MaskMixer(persons, cfg.p_persons), cfg.seed, train=True)
    steps_per_epoch = len(dataset) // cfg.batch_size

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    if cfg.init:
        # a table name or a path, loaded by the table's builder (load_generator) in the layout trained with
        generator = build(cfg.init, builder=load_generator, layout=cfg.layout)
    else:
        generator = DeepFillv2Generator(cfg.layout)
    generator = generator.to(device).train()
    disc = SNPatchGANDiscriminator(cin=4).to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999))

    step, rows = 0, []
    if resume and ckpt_path.exists():
        ck = load_checkpoint(ckpt_path)
        for key in RESUME_FIXED:
            if ck["config"].get(key) != getattr(cfg, key):
                raise ValueError(f"resume: {key} was {ck['config'].get(key)!r}, now {getattr(cfg, key)!r}")
        generator.load_state_dict(ck["G"])
        disc.load_state_dict(ck["D"])
        opt_g.load_state_dict(ck["opt_G"])
        opt_d.load_state_dict(ck["opt_D"])
        scaler_g.load_state_dict(ck["scaler_G"])
        scaler_d.load_state_dict(ck["scaler_D"])
        set_rng_state(ck["rng"])
        step = ck["step"]
        if (out / "losses.csv").exists():  # keep the rows up to the checkpoint only
            with open(out / "losses.csv", newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]

    def checkpoint() -> None:
        save_atomic({
            "format": FORMAT, "config": dataclasses.asdict(cfg), "step": step,
            "G": generator.state_dict(), "D": disc.state_dict(),
            "opt_G": opt_g.state_dict(), "opt_D": opt_d.state_dict(),
            "scaler_G": scaler_g.state_dict(), "scaler_D": scaler_d.state_dict(), "rng": rng_state(),
        }, ckpt_path)  # fmt: skip
        _write_csv(out / "losses.csv", rows)

    stop = min(cfg.steps, cfg.max_steps) if cfg.max_steps is not None else cfg.steps
    t0, seen = time.time(), 0
    while step < stop:
        epoch, in_epoch = divmod(step, steps_per_epoch)
        sampler = EpochSampler(len(dataset), cfg.seed, epoch, shuffle=True, skip=in_epoch * cfg.batch_size)
        loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                            num_workers=cfg.workers, pin_memory=device.type == "cuda")  # fmt: skip
        for image, valid in loader:
            image = image.to(device, non_blocking=True) * 2.0 - 1.0  # [-1, 1]
            mask = 1.0 - valid.to(device, non_blocking=True)  # 1 = hole
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                stage1, stage2 = generator(make_input(image, mask), mask)
                completed = stage2 * mask + image * (1.0 - mask)
                # discriminator step on real vs completed (generator frozen by detach)
                both = disc(torch.cat([torch.cat([image, mask], 1), torch.cat([completed.detach(), mask], 1)]))
                d_real, d_fake = hinge_d_loss(*both.float().chunk(2))
                d_loss = d_real + d_fake
            opt_d.zero_grad(set_to_none=True)
            scaler_d.scale(d_loss).backward()
            scaler_d.step(opt_d)
            scaler_d.update()

            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                g_gan = -disc(torch.cat([completed, mask], 1)).float().mean()
                l1_1 = (image - stage1.float()).abs().mean()
                l1_2 = (image - stage2.float()).abs().mean()
                g_loss = cfg.gan_weight * g_gan + cfg.l1_weight * (l1_1 + l1_2)
            opt_g.zero_grad(set_to_none=True)
            scaler_g.scale(g_loss).backward()
            scaler_g.step(opt_g)
            scaler_g.update()
            # the D gradients from the generator step are dropped at the next zero_grad

            step += 1
            seen += image.shape[0]
            terms = dict(zip(LOSS_KEYS, (d_loss, d_real, d_fake, g_gan, l1_1, l1_2, g_loss)))
            rows.append({"step": step, "epoch": epoch, **{k: f"{float(v.detach()):.8g}" for k, v in terms.items()}})
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                checkpoint()
            if step >= stop or step % steps_per_epoch == 0:
                break
    checkpoint()
    finished = step >= cfg.steps
    exported = None
    if finished:
        exported = out / "generator.pth"
        save_atomic({"G": generator.published_state_dict()}, exported)
    elapsed = time.time() - t0
    last = rows[-1] if rows else {}
    summary = {
        "finished": finished, "step": step, "seconds": elapsed,
        "images_per_s": seen / elapsed if elapsed else None, "device": str(device),
        "amp": str(amp_dtype) if use_amp else None, "last": {k: float(last[k]) for k in LOSS_KEYS if k in last},
        "generator": str(exported) if exported else None, "checkpoint": str(ckpt_path),
        "config": dataclasses.asdict(cfg),
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if not math.isfinite(summary["last"].get("g_loss", 0.0)):
        raise FloatingPointError("the generator loss is not finite")
    return summary
