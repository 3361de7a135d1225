"""``remove-people train pconv``: train the partial-convolution U-Net (defaults: ``training/configs.py``; torch is
imported inside the function, so ``--help`` stays fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from remove_people.commands import options as O
from remove_people.training.configs import PConvTrainConfig as P


def train_pconv(
    data: O.TrainingData,
    split: str = typer.Option(P.split, "--split", help="CSV with columns file,split (train/val/test); relative to --data unless it exists as given."),
    out: Path = typer.Option(Path(P.out), "--out", help="Run folder: checkpoints/last.pt, model.pt, best.pt, losses.csv, loss.png, summary.json."),
    epochs: int = typer.Option(P.epochs, "--epochs", min=0, max=100000, help="Epochs of the initial phase (Adam at --lr)."),
    finetune_epochs: int = typer.Option(P.finetune_epochs, "--finetune-epochs", min=0, max=100000, help="Epochs of the fine-tune phase (Adam at --finetune-lr, encoder BatchNorm frozen)."),
    batch_size: int = typer.Option(P.batch_size, "--batch-size", min=1, max=1024),
    lr: float = typer.Option(P.lr, "--lr", min=0.0),
    finetune_lr: float = typer.Option(P.finetune_lr, "--finetune-lr", min=0.0),
    size: int = typer.Option(P.size, "--size", min=16, max=4096, help="Training resolution (256 or 512; smaller only for tests)."),
    seed: int = typer.Option(P.seed, "--seed", min=0),
    workers: int = typer.Option(P.workers, "--workers", min=0, max=64, help="DataLoader worker processes."),
    p_persons: float = typer.Option(P.p_persons, "--p-persons", min=0.0, max=1.0, help="Share of person-shaped masks (the rest are lines-and-circles)."),
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="COCO instances.json for person masks [default: ../shared/data/coco-person/annotations/instances.json]."),
    vgg_weights: str = typer.Option(P.vgg_weights, "--vgg-weights", help="Model-table name or path of the VGG-16 features for the loss."),
    device: str = typer.Option(P.device, "--device", help="auto, cpu, cuda, cuda:1 …"),
    amp: bool = typer.Option(P.amp, "--amp/--no-amp", help="Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); ignored on CPU."),
    resume: bool = typer.Option(False, "--resume", help="Continue exactly from OUT/checkpoints/last.pt."),
    checkpoint_every: int = typer.Option(P.checkpoint_every, "--checkpoint-every", min=0, help="Also checkpoint every N steps (0: only at epoch ends)."),
    max_steps: Optional[int] = typer.Option(P.max_steps, "--max-steps", min=1, help="Stop (with a checkpoint) after this global step."),
    limit_train: Optional[int] = typer.Option(P.limit_train, "--limit-train", min=1, help="Use only the first N training images."),
    limit_val: Optional[int] = typer.Option(P.limit_val, "--limit-val", min=1, help="Use only the first N validation images."),
    progress: bool = typer.Option(P.progress, "--progress/--no-progress"),
) -> None:
    """Train the partial-convolution U-Net (Liu et al. 2018) on a photo folder with random hole masks."""
    from remove_people.errors import UsageError
    from remove_people.training.pconv import train_pconv as run

    O.check_training_options(data, split, device, out)
    cfg = P(
        data=str(data), split=split, out=str(out), epochs=epochs, finetune_epochs=finetune_epochs,
        batch_size=batch_size, lr=lr, finetune_lr=finetune_lr, size=size, seed=seed, workers=workers,
        p_persons=p_persons, annotations=str(annotations) if annotations else None, vgg_weights=vgg_weights,
        device=device, amp=amp, checkpoint_every=checkpoint_every, limit_train=limit_train, limit_val=limit_val,
        max_steps=max_steps, progress=progress,
    )
    try:
        summary = run(cfg, resume=resume)
    except (FileExistsError, ValueError) as err:
        raise UsageError(str(err)) from None
    state = "finished" if summary["finished"] else f"stopped at step {summary['global_step']} (resume with --resume)"
    typer.echo(f"{state}; {summary['images_per_s']:.2f} images/s on {summary['device']}; "
               f"last validation total {summary['last_val'].get('total', float('nan')):.4f}; run folder {out}")
