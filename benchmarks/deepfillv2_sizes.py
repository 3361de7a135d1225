"""CPU time and peak memory of the ``deepfillv2`` inpainter: crop strategy vs full, by photo size.

Why a script and not a timed test: timings depend on the machine and its load;
this prints a table and writes JSON that a person compares across runs.

Each case runs in a fresh subprocess, so its peak RSS (``ru_maxrss``) is its
own: model, photo, and the contextual-attention score matrix, which grows with
the square of the pixel count the network sees. Times are the median of
``--runs`` repeats after one warm-up; the model load is not timed.

Cases: a few COCO photos with their person masks (dilated a little, as the
refine stage does) at native size, ``crop`` and ``full``; the first photo
upscaled to 4000 px on the long side, ``crop`` only (``full`` would need a
score matrix of hundreds of GB at that size: its size is printed instead).

Usage::

    python benchmarks/deepfillv2_sizes.py [--runs 3] [--threads 2] [--layout tf] [--out deepfillv2_sizes.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from remove_people.shared_data import shared_dir

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_dir().resolve()  # remove_people/shared_data.py: $REMOVE_PEOPLE_SHARED, else ../shared
WEIGHTS = {"tf": "fixtures/deepfillv2_tf/random_G_seed1101.pth", "pt": "fixtures/deepfillv2_pt/random_G_seed2202.pth"}
PHOTOS = ["000000000139.jpg", "000000030752.jpg", "000000034417.jpg", "000000069468.jpg"]
LARGE_SIDE = 4000


def person_mask(file_name: str, shape: tuple[int, int]):
    import cv2
    import numpy as np

    coco = json.loads((SHARED / "data/coco-person/annotations/instances.json").read_text())
    image_id = next(im["id"] for im in coco["images"] if im["file_name"] == file_name)
    mask = np.zeros(shape, np.uint8)
    for a in coco["annotations"]:
        if a["image_id"] == image_id and a["category_id"] == 1 and isinstance(a["segmentation"], list):
            for poly in a["segmentation"]:
                cv2.fillPoly(mask, [np.asarray(poly, np.float64).reshape(-1, 2).round().astype(np.int32)], 255)
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))


def run_case(photo: str, strategy: str, long_side: int | None, runs: int, threads: int, layout: str, max_side: int) -> dict:
    """One case, in this process: returns timings and this process's peak RSS."""
    import cv2
    import torch

    torch.set_num_threads(threads)
    os.environ.setdefault("REMOVE_PEOPLE_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "rp-bench-home"))
    from remove_people.stages.inpaint.base import hole_regions
    from remove_people.stages.inpaint.deepfillv2 import DeepFillv2Inpainter, DeepFillv2Params

    image = cv2.cvtColor(cv2.imread(str(SHARED / "data/coco-person/images" / photo)), cv2.COLOR_BGR2RGB)
    hole = person_mask(photo, image.shape[:2])
    if long_side:
        f = long_side / max(image.shape[:2])
        size = (round(image.shape[1] * f), round(image.shape[0] * f))
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
        hole = cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST)
    params = DeepFillv2Params(
        strategy=strategy, margin=0.5, min_margin=32, max_side=max_side, feather=0, variant="places2",
        layout=layout, weights=str(SHARED / WEIGHTS[layout]), device="cpu", precision="fp32", batch_size=4,
    )  # fmt: skip
    inpainter = DeepFillv2Inpainter(params)
    inpainter.model()
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    inpainter.inpaint(image, hole)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        inpainter.inpaint(image, hole)
        times.append(time.perf_counter() - t0)
    windows = hole_regions(hole, params.margin, params.min_margin) if strategy == "crop" else []
    return {
        "photo": photo,
        "size": f"{image.shape[1]}x{image.shape[0]}",
        "strategy": strategy,
        "hole_fraction": round(float((hole > 0).mean()), 4),
        "windows": len(windows) if strategy == "crop" else 1,
        "median_s": statistics.median(times),
        "times_s": times,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_load_mb": rss_loaded,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layout", choices=sorted(WEIGHTS), default="tf")
    ap.add_argument("--max-side", type=int, default=512, help="crop strategy: longest window side the network sees")
    ap.add_argument("--photos", nargs="*", default=PHOTOS)
    ap.add_argument("--no-large", action="store_true", help=f"skip the {LARGE_SIDE} px case")
    ap.add_argument("--out", type=Path, default=Path("deepfillv2_sizes.json"))
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = ap.parse_args()

    if args.case:
        photo, strategy, side = args.case.split(",")
        result = run_case(photo, strategy, int(side) or None, args.runs, args.threads, args.layout, args.max_side)
        print(json.dumps(result))
        return

    cases = [(p, s, 0) for p in args.photos for s in ("crop", "full")]
    if not args.no_large:
        cases.append((args.photos[0], "crop", LARGE_SIDE))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    results = []
    for photo, strategy, side in cases:
        cmd = [sys.executable, __file__, "--case", f"{photo},{strategy},{side}", "--runs", str(args.runs),
               "--threads", str(args.threads), "--layout", args.layout, "--max-side", str(args.max_side)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"case {photo} {strategy} {side} failed")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{r['photo']:>18} {r['size']:>10} {r['strategy']:>5} windows={r['windows']:<3} "
              f"median {r['median_s']:7.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB", flush=True)  # fmt: skip

    import torch

    print(f"\nDeepFillv2 {args.layout} layout, CPU, {args.threads} threads, torch {torch.__version__}, "
          f"median of {args.runs} runs, crop max_side={args.max_side}\n")  # fmt: skip
    print("| photo | size | hole % | strategy | windows | median s | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['photo']} | {r['size']} | {100 * r['hole_fraction']:.1f} | {r['strategy']} | {r['windows']} "
              f"| {r['median_s']:.2f} | {r['peak_rss_mb']:.0f} |")  # fmt: skip
    if not args.no_large:
        w, h = (int(v) for v in results[-1]["size"].split("x"))
        cells = (h // 8) * (w // 8)
        print(f"\nfull at {w}x{h} is not run: its attention score matrix alone would be "
              f"{cells * cells * 4 / 2**30:,.0f} GiB (float32).")  # fmt: skip
    meta = {"layout": args.layout, "threads": args.threads, "runs": args.runs, "max_side": args.max_side,
            "torch": torch.__version__, "cpu_count": os.cpu_count()}  # fmt: skip
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
