"""Does feathering the paste-back hide the seam? L1 and LPIPS in a band around the hole edge.

Why this set-up: on ``data/scenes`` the pixels under each hole are the ground truth, and
feathering blends the *input's* own pixels into the hole's edge. Handing the inpainter the
untouched photo would let feathering copy the answer, so the input is corrupted first:

- ``ring=0`` (worst case): the whole hole is painted a foreign colour (a person's clothes), so
  the feather blends that colour into the fill, as it would where a mask is tight;
- ``ring=R`` (the refiner's case): only the hole's core is painted; its outer R pixels keep the
  true background, as the morphology refiner's dilation ring (9 px + 2 % of the height) does
  around a person.

Feathering changes only the paste, not the fill, so each (image, ring) is filled once per inpainter
(feather 0) and the feathered paste is re-applied with the base class's own ``blend_into_hole``;
``--check`` verifies that shortcut against the real ``inpaint(feather=N)`` call.

Usage: python benchmarks/feather.py [--scenes ../shared/data/scenes] [--feathers 0 4 8] [--rings 0 9]
           [--inpainters telea patchmatch] [--band 8] [--limit N] [--check] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from remove_people.config import build_stage
from remove_people.evaluation.seams import corrupt, edge_band
from remove_people.stages.inpaint.base import blend_into_hole

def load_scenes(root: Path, limit: int | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rows = list(csv.DictReader((root / "manifest.csv").open()))[: limit or None]
    out = []
    for r in rows:
        rgb = cv2.imread(str(root / r["image"]), cv2.IMREAD_COLOR)[:, :, ::-1].copy()
        hole = (cv2.imread(str(root / r["mask"]), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8) * 255
        out.append((r["name"], rgb, hole))
    return out


class Lpips:
    """LPIPS (alex) with the AlexNet features from ../shared/weights, per-pixel map."""

    def __init__(self, weights: Path) -> None:
        import lpips
        import torch

        self.torch = torch
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        self.model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, spatial=True, verbose=False).eval()
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net = self.model.net
        mapped = {}
        for key, value in state.items():
            _, idx, param = key.split(".")
            for s in range(1, 6):
                sl = getattr(net, f"slice{s}")
                if idx in sl._modules:
                    mapped[f"slice{s}.{idx}.{param}"] = value
        net.load_state_dict(mapped, strict=True)

    def map(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        t = lambda x: self.torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1.0  # noqa: E731
        with self.torch.no_grad():
            return self.model(t(a), t(b))[0, 0].numpy()


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=Path, default=here.parent / "shared/data/scenes")
    ap.add_argument("--weights", type=Path, default=here.parent / "shared/weights/alexnet_features.pth")
    ap.add_argument("--feathers", type=int, nargs="+", default=[0, 4, 8])
    ap.add_argument("--rings", type=int, nargs="+", default=[0, 9])
    ap.add_argument("--inpainters", nargs="+", default=["telea", "patchmatch"])
    ap.add_argument("--band", type=int, default=8, help="band half-width around the hole edge, pixels")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--check", action="store_true", help="verify the paste shortcut against inpaint(feather=N) on each image")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    scenes = load_scenes(args.scenes, args.limit)
    lp = Lpips(args.weights)
    # results[inpainter][ring][feather] = list of (l1, lpips) per image
    results: dict = {}
    t0 = time.perf_counter()
    for name in args.inpainters:
        inp0 = build_stage("inpaint", name, feather=0)
        for sname, gt, hole in scenes:
            band = edge_band(hole, args.band)
            for ring in args.rings:
                inp = corrupt(gt, hole, ring)
                fill = inp0.inpaint(inp, hole)
                for f in args.feathers:
                    out = blend_into_hole(inp, fill, hole, f)
                    if args.check:
                        direct = build_stage("inpaint", name, feather=f).inpaint(inp, hole)
                        diff = int(np.abs(direct.astype(int) - out.astype(int)).max())
                        if diff > 1:
                            print(f"check failed: {name} {sname} ring={ring} feather={f}: max diff {diff}", file=sys.stderr)
                            return 1
                    l1 = float(np.abs(out.astype(np.float32) - gt.astype(np.float32)).mean(axis=2)[band].mean())
                    lpv = float(lp.map(out, gt)[band].mean())
                    results.setdefault(name, {}).setdefault(ring, {}).setdefault(f, []).append((l1, lpv))
            print(f"{name:10s} {sname}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    print(f"\nband: ±{args.band} px around the hole edge; {len(scenes)} images of {args.scenes}; L1 in 0-255 units")
    print(f"{'inpainter':10s} {'ring':>4s} {'feather':>7s} {'L1':>7s} {'LPIPS':>7s}")
    summary = {}
    for name, by_ring in results.items():
        for ring, by_f in by_ring.items():
            for f, vals in by_f.items():
                a = np.array(vals)
                l1, lpv = a.mean(axis=0)
                summary[f"{name}/ring{ring}/feather{f}"] = {"l1": round(float(l1), 3), "lpips": round(float(lpv), 4), "n": len(vals)}
                print(f"{name:10s} {ring:4d} {f:7d} {l1:7.3f} {lpv:7.4f}")
    if args.json:
        from remove_people.pipeline.atomic import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(summary, indent=1).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
