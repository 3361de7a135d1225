"""``remove-people train deepfillv2``: fine-tune DeepFillv2, generator and SN-PatchGAN (defaults: ``training/configs.py``;
torch is imported inside the function)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from remove_people.commands import options as O
from remove_people.training.configs import DeepFillv2TrainConfig as D


def train_deepfillv2(
    data: O.TrainingData,
    split: str = typer.Option(D.split, "--split", help="CSV with columns file,split; the 'train' rows are used."),
    out: Path = typer.Option(Path(D.out), "--out", help="Run folder: checkpoints/last.pt, generator.pth, losses.csv, summary.json."),
    init: Optional[str] = typer.Option(D.init, "--init", help="Published checkpoint to start from (path or model-table name, e.g. deepfillv2-places2-pt); default: random init."),
    layout: str = typer.Option(D.layout, "--layout", help="tf or pt: the numerics trained with and the layout generator.pth is written in (must match --init)."),
    steps: int = typer.Option(D.steps, "--steps", min=1, help="Total training steps."),
    batch_size: int = typer.Option(D.batch_size, "--batch-size", min=1, max=1024),
    lr_g: float = typer.Option(D.lr_g, "--lr-g", min=0.0, help="Adam learning rate of the generator."),
    lr_d: float = typer.Option(D.lr_d, "--lr-d", min=0.0, help="Adam learning rate of the discriminator."),
    l1_weight: float = typer.Option(D.l1_weight, "--l1-weight", min=0.0, help="Weight of the L1 reconstruction loss (both stages)."),
    gan_weight: float = typer.Option(D.gan_weight, "--gan-weight", min=0.0, help="Weight of the generator's hinge GAN loss."),
    size: int = typer.Option(D.size, "--size", min=8, max=4096, help="Training resolution, a multiple of 8."),
    seed: int = typer.Option(D.seed, "--seed", min=0),
    workers: int = typer.Option(D.workers, "--workers", min=0, max=64, help="DataLoader worker processes."),
    p_persons: float = typer.Option(D.p_persons, "--p-persons", min=0.0, max=1.0, help="Share of person-shaped masks (the rest are free-form strokes and circles)."),
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="COCO instances.json for person masks [default: ../shared/data/coco-person/annotations/instances.json]."),
    device: str = typer.Option(D.device, "--device", help="auto, cpu, cuda, cuda:1 …"),
    amp: bool = typer.Option(D.amp, "--amp/--no-amp", help="Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); ignored on CPU."),
    resume: bool = typer.Option(False, "--resume", help="Continue exactly from OUT/checkpoints/last.pt."),
    checkpoint_every: int = typer.Option(D.checkpoint_every, "--checkpoint-every", min=0, help="Also checkpoint every N steps (0: only at the end)."),
    max_steps: Optional[int] = typer.Option(D.max_steps, "--max-steps", min=1, help="Stop (with a checkpoint) after this step; resume later with --resume."),
    limit_train: Optional[int] = typer.Option(D.limit_train, "--limit-train", min=1, help="Use only the first N training photos."),
) -> None:
    """Fine-tune DeepFillv2 with hinge-loss SN-PatchGAN and L1, on photos with random free-form and person holes."""
    from remove_people.errors import UsageError
    from remove_people.training.deepfillv2 import train_deepfillv2 as run

    O.check_training_options(data, split, device, out)
    if layout not in ("tf", "pt"):
        raise UsageError(f"--layout must be tf or pt, got {layout!r}")
    cfg = D(
        data=str(data), split=split, out=str(out), layout=layout, init=init, steps=steps, batch_size=batch_size,
        lr_g=lr_g, lr_d=lr_d, l1_weight=l1_weight, gan_weight=gan_weight, size=size, seed=seed, workers=workers,
        p_persons=p_persons, annotations=str(annotations) if annotations else None, device=device, amp=amp,
        checkpoint_every=checkpoint_every, max_steps=max_steps, limit_train=limit_train,
    )  # fmt: skip
    try:
        summary = run(cfg, resume=resume)
    except (FileExistsError, ValueError, KeyError) as err:
        raise UsageError(str(err)) from None
    state = "finished" if summary["finished"] else f"stopped at step {summary['step']} (resume with --resume)"
    last = summary["last"]
    typer.echo(f"{state}; {summary['images_per_s']:.2f} images/s on {summary['device']}; "
               f"last L1 {last.get('l1_stage2', float('nan')):.4f}, D {last.get('d_loss', float('nan')):.4f}; "
               f"generator: {summary['generator'] or '(not yet)'}")  # fmt: skip
