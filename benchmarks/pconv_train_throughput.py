"""Training throughput of the partial-conv U-Net (images/s) and the full recipe's estimated time.

Measures full training steps (U-Net forward, Liu et al.'s loss with VGG-16, backward,
Adam step) on random 256×256 batches of 7 with lines-and-circles holes, after warm-up
steps; reports the median of ``--runs`` runs of ``--steps`` steps each. Data loading is
excluded (DataLoader workers overlap it with compute in training).

The estimate: the recipe is ``(epochs + finetune_epochs) × train images`` images
(55 + 10 epochs × 2,320 images of ../shared/data/train256 by default), divided by the
measured images/s. For a GPU with no GPU at hand, ``--gpu-tflops`` scales the
measured FLOPs per image by an assumed sustained throughput (stated in the output:
an assumption, not a measurement).

    python benchmarks/pconv_train_throughput.py --runs 3 --steps 2 --json bench_pconv.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remove_people.models.losses import InpaintingLoss  # noqa: E402
from remove_people.models.pconv import PConvUNet  # noqa: E402
from remove_people.shared_data import shared_dir  # noqa: E402
from remove_people.training.masks import lines_circles_mask, mask_rng  # noqa: E402


def flops_per_image(model: torch.nn.Module, loss: InpaintingLoss, size: int, device: torch.device) -> float:
    """Forward+backward FLOPs of one training image (torch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, size, size, device=device)
    m = torch.ones(1, 1, size, size, device=device)
    m[..., size // 4 : size // 2, size // 4 : size // 2] = 0
    model.train()
    # BatchNorm needs more than one value per channel at the 1×1 levels: count a batch of 2, halve.
    x, m = x.repeat(2, 1, 1, 1), m.repeat(2, 1, 1, 1)
    with FlopCounterMode(display=False) as fc:
        t = loss(model(x, m), x, m)
        t["total"].backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops() / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=7)
    ap.add_argument("--steps", type=int, default=2, help="timed steps per run")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action="store_true", help="autocast on CUDA (bf16)")
    ap.add_argument("--vgg", default=os.environ.get("PCONV_VGG", str(shared_dir() / "weights" / "vgg16_features_pool3.pth")))
    ap.add_argument("--epochs", type=int, default=55)
    ap.add_argument("--finetune-epochs", type=int, default=10)
    ap.add_argument("--train-images", type=int, default=2320)
    ap.add_argument("--gpu-tflops", type=float, default=100.0,
                    help="assumed sustained TFLOP/s of the GPU for the estimate (H100 bf16 convs: ~100 of ~990 peak dense)")
    ap.add_argument("--json", default="bench_pconv_train.json")
    args = ap.parse_args()

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(0)
    model = PConvUNet().to(device)
    loss = InpaintingLoss(args.vgg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    image = torch.rand(args.batch, 3, args.size, args.size, device=device)
    holes = np.stack([lines_circles_mask(args.size, mask_rng(0, i)) for i in range(args.batch)])
    mask = torch.from_numpy((holes == 0).astype(np.float32))[:, None].to(device)
    use_amp = args.amp and device.type == "cuda"

    def step() -> None:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = model(image, mask)
        t = loss(out, image, mask)
        opt.zero_grad(set_to_none=True)
        t["total"].backward()
        opt.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    model.train()
    for _ in range(args.warmup):
        step()
    sync()
    rates = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        rates.append(args.batch * args.steps / (time.perf_counter() - t0))
    ips = statistics.median(rates)
    flops = flops_per_image(model, loss, args.size, device)
    n_images = (args.epochs + args.finetune_epochs) * args.train_images
    hours_here = n_images / ips / 3600
    gpu_ips = args.gpu_tflops * 1e12 / flops
    result = {
        "device": str(device), "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "size": args.size, "batch": args.batch, "steps_per_run": args.steps,
        "runs": args.runs, "images_per_s_runs": rates, "images_per_s_median": ips,
        "seconds_per_step_median": args.batch / ips, "gflop_per_image_train": flops / 1e9,
        "recipe_images": n_images, "recipe_hours_on_this_device": hours_here,
        "gpu_assumed_tflops": args.gpu_tflops, "gpu_images_per_s_estimate": gpu_ips,
        "recipe_hours_gpu_estimate": n_images / gpu_ips / 3600,
    }
    rows = [
        ("device", f"{device} ({result['threads']} threads)"),
        ("size × batch", f"{args.size}×{args.size} × {args.batch}"),
        ("images/s (runs)", ", ".join(f"{r:.3f}" for r in rates)),
        ("images/s (median)", f"{ips:.3f}"),
        ("s / step (median)", f"{args.batch / ips:.2f}"),
        ("GFLOP / image (fwd+bwd, U-Net + VGG loss)", f"{flops / 1e9:.1f}"),
        (f"recipe ({args.epochs}+{args.finetune_epochs} epochs × {args.train_images} images)", f"{n_images} images"),
        ("recipe time on this device", f"{hours_here:.1f} h ({hours_here / 24:.1f} days)"),
        (f"GPU estimate at an assumed {args.gpu_tflops:.0f} TFLOP/s", f"{gpu_ips:.0f} images/s, {n_images / gpu_ips / 60:.0f} min"),
    ]
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="partial-conv U-Net training throughput")
        table.add_column("what")
        table.add_column("value", justify="right")
        for k, v in rows:
            table.add_row(k, v)
        Console().print(table)
    except ImportError:
        for k, v in rows:
            print(f"{k:55s} {v}")
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
