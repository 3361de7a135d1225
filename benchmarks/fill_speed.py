"""Per-fill time of our PatchMatch (``patchmatch``) against ``pypatchmatch`` on the same holes, in one run.

Why this script: ``benchmarks/run.py`` measures whole runs; this one isolates the fill, the
part PatchMatch removal spends most of its time in, on three kinds of hole:

- ``scenes``: the 18 photos of ``../shared/data/scenes`` with their given holes (4-84 %);
- ``coco``: the first ``--coco`` photos of ``coco-person`` that show persons, the hole being the
  union of their COCO outlines dilated by 9 px (as the refiner grows a mask);
- ``sizes``: one 640x480 frame with a person-shaped hole of 1, 5, 10, 20 and 40 % of it.

Each hole is filled by both plugins through ``inpaint`` (crop strategy, default settings),
``--repeats`` times, alternating which goes first; per fill the median wall and CPU seconds
(process time: all of our threads) count. Also measured, in the same run:

- the CPU use while ours fills the 40 % hole, sampled every 10 ms (cores = CPU s / wall s);
- numba's compile time: a fresh process filling a small hole with an empty ``NUMBA_CACHE_DIR``
  (compiles), then again with that folder filled (loads the cached machine code);
- the torch kernels on the CPU for the same fills (``--torch-sizes``), with a check that their
  bytes equal numba's: the reason the CPU runs numba; and on CUDA when torch sees a GPU.

    python benchmarks/fill_speed.py [--repeats 3] [--coco 12] [--torch-sizes 0.01,0.05] [--json fill.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from remove_people.shared_data import shared_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir().resolve()  # remove_people/shared_data.py: $REMOVE_PEOPLE_SHARED, else ../shared
COCO = SHARED / "data" / "coco-person"
SCENES = SHARED / "data" / "scenes"
SIZES = (0.01, 0.05, 0.10, 0.20, 0.40)
SIZE_PHOTO = "000000318080.jpg"  # a person-free val2017 photo (two bears in water), 640x480


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def scene_holes() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    import csv

    out = []
    with (SCENES / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            img = _rgb(SCENES / row["image"])
            hole = (cv2.imread(str(SCENES / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8) * 255
            out.append(("scenes", row["name"], img, hole))
    return out


def coco_holes(count: int) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import person_mask  # the same outlines as run.py's ``sizes`` case

    coco = json.loads((COCO / "annotations" / "instances.json").read_text())
    with_persons = {im["file_name"] for im in coco["images"]
                    if any(a["image_id"] == im["id"] and a["category_id"] == 1 and not a.get("iscrowd") for a in coco["annotations"])}  # fmt: skip
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (19, 19))
    out = []
    for name in sorted(with_persons)[:count]:
        img = _rgb(COCO / "images" / name)
        hole = cv2.dilate(person_mask(coco, name, img.shape[:2]), kernel)
        if hole.any():
            out.append(("coco", name, img, hole))
    return out


def silhouettes(count: int) -> list[np.ndarray]:
    """The ``count`` largest whole standing persons of ``coco-person`` (not cut by the frame, at least
    1.8 times as tall as wide, not crowds), each outline cut to its box (bool)."""
    coco = json.loads((COCO / "annotations" / "instances.json").read_text())
    size = {im["id"]: (im["width"], im["height"]) for im in coco["images"]}

    def whole(a: dict) -> bool:
        x, y, bw, bh = a["bbox"]
        iw, ih = size[a["image_id"]]
        return x > 2 and y > 2 and x + bw < iw - 2 and y + bh < ih - 2 and bh > 1.8 * bw

    anns = sorted((a for a in coco["annotations"] if a["category_id"] == 1 and not a.get("iscrowd")
                   and isinstance(a["segmentation"], list) and whole(a)), key=lambda a: -a["area"])[:count]  # fmt: skip
    out = []
    for a in anns:
        x, y, bw, bh = (int(round(v)) for v in a["bbox"])
        m = np.zeros((bh + 2, bw + 2), np.uint8)
        for poly in a["segmentation"]:
            pts = np.asarray(poly, np.float64).reshape(-1, 2) - (x - 1, y - 1)
            cv2.fillPoly(m, [pts.round().astype(np.int32)], 1)
        out.append(m > 0)
    return out


def person_hole(shape: tuple[int, int], fraction: float, shapes: list[np.ndarray]) -> np.ndarray:
    """Person outlines side by side (1 up to 10 %, 2 up to 20 %, else 3), scaled so they cover ``fraction`` of the frame."""
    h, w = shape
    n = 1 if fraction <= 0.10 else 2 if fraction <= 0.20 else 3
    hole = np.zeros(shape, np.uint8)
    for i in range(n):
        sil = shapes[i].astype(np.uint8)
        want = fraction * h * w / n
        lo, hi = 0.05, 20.0
        for _ in range(40):  # bisect the scale until the outline has the wanted area
            s = (lo * hi) ** 0.5
            size = (max(1, round(sil.shape[1] * s)), max(1, round(sil.shape[0] * s)))
            area = int(cv2.resize(sil, size, interpolation=cv2.INTER_NEAREST).sum())
            lo, hi = (s, hi) if area < want else (lo, s)
        m = cv2.resize(sil, size, interpolation=cv2.INTER_NEAREST)[:h, : w // n]
        x0 = i * (w // n) + (w // n - m.shape[1]) // 2
        y0 = h - m.shape[0]  # standing on the bottom edge, as people in photos do
        hole[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]] |= m
    return hole * 255


def size_holes() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    img = np.ascontiguousarray(_rgb(COCO / "images" / SIZE_PHOTO)[:480, :640])
    shapes = silhouettes(3)
    return [("sizes", f"{100 * f:.0f}%", img, person_hole(img.shape[:2], f, shapes)) for f in SIZES]


def timed(fn: Any) -> tuple[Any, float, float]:
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


class CpuSampler:
    """Process CPU seconds against wall seconds, every ``interval`` s, in a background thread."""

    def __init__(self, interval: float = 0.01) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), time.process_time()))
            self._stop.wait(interval)

    def __enter__(self) -> "CpuSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def cores(self) -> dict[str, float]:
        s = self.samples
        per = [(c1 - c0) / (w1 - w0) for (w0, c0), (w1, c1) in zip(s, s[1:]) if w1 > w0]
        return {"overall": (s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0]), "median_sample": statistics.median(per),
                "max_sample": max(per), "samples": len(per)}  # fmt: skip


def compile_times() -> dict[str, float]:
    """Wall seconds of a fresh process's first small fill: numba cache empty, then filled."""
    code = (
        "import time; t=time.perf_counter(); import numpy as np; from remove_people.fill import FillSettings, patch_fill; "
        "from remove_people.fill.kernels_numba import NumbaKernels; i=time.perf_counter(); "
        "img=np.random.default_rng(0).integers(0,256,(64,64,3),dtype=np.uint8); h=np.zeros((64,64),bool); h[20:40,20:40]=True; "
        "patch_fill(img,h,None,FillSettings(),NumbaKernels(1)); f=time.perf_counter(); "
        "patch_fill(img,h,None,FillSettings(),NumbaKernels(1)); print(i-t, f-i, time.perf_counter()-f)"
    )
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rp-numba-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        for label in ("empty_cache", "cached"):
            t = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            imp, first, second = (float(v) for v in res.stdout.split())
            out[f"{label}_process_s"] = time.perf_counter() - t
            out[f"{label}_import_s"], out[f"{label}_first_fill_s"], out[f"{label}_second_fill_s"] = imp, first, second
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--coco", type=int, default=12, help="coco-person photos with persons (first by name)")
    ap.add_argument("--sets", default="scenes,coco,sizes")
    ap.add_argument("--torch-sizes", default="0.01,0.05", help="sizes (fractions) also filled by the torch kernels on the CPU")
    ap.add_argument("--cpu-use-only", action="store_true", help="only the CPU use of one fill of the 40 %% hole (repeated --repeats times)")
    ap.add_argument("--json", type=Path, default=Path("fill_speed.json"))
    args = ap.parse_args()
    os.environ.setdefault("REMOVE_PEOPLE_MODEL_DIR", str(SHARED / "weights"))
    if args.cpu_use_only:
        cpu_use_only(args.repeats, args.json)
        return

    from remove_people.config import build_stage

    ours, ref = build_stage("inpaint", "patchmatch"), build_stage("inpaint", "pypatchmatch")
    sets = args.sets.split(",")
    cases = (scene_holes() if "scenes" in sets else []) + (coco_holes(args.coco) if "coco" in sets else []) + (size_holes() if "sizes" in sets else [])
    res: dict[str, Any] = {"machine": {"cores": len(os.sched_getaffinity(0)), "load_before": os.getloadavg()}, "rows": []}
    res["compile"] = compile_times()
    print("numba compile:", {k: round(v, 2) for k, v in res["compile"].items()}, flush=True)
    warm = cases[0]
    ours.inpaint(warm[2], warm[3])  # loads the cached kernels
    for set_name, name, img, hole in cases:
        t = {"ours": [], "pypatchmatch": []}
        for rep in range(args.repeats):
            order = [("ours", ours), ("pypatchmatch", ref)]
            for label, stage in order if rep % 2 == 0 else order[::-1]:
                _, wall, cpu = timed(lambda stage=stage: stage.inpaint(img, hole))
                t[label].append((wall, cpu))
        row = {"set": set_name, "name": name, "hole_fraction": float((hole > 0).mean()), "size": list(img.shape[:2])}
        for label, v in t.items():
            row[f"{label}_wall_s"] = statistics.median(w for w, _ in v)
            row[f"{label}_cpu_s"] = statistics.median(c for _, c in v)
        res["rows"].append(row)
        print(f"{set_name} {name}: hole {100 * row['hole_fraction']:.1f}% ours {row['ours_wall_s']:.3f} s ({row['ours_cpu_s']:.3f} CPU) "
              f"pypatchmatch {row['pypatchmatch_wall_s']:.3f} s ({row['pypatchmatch_cpu_s']:.3f} CPU)", flush=True)  # fmt: skip

    big = [c for c in cases if c[0] == "sizes" and c[1] == "40%"]
    if big:
        _, _, img, hole = big[0]
        with CpuSampler() as sampler:
            ours.inpaint(img, hole)
        res["cpu_use_40pct"] = sampler.cores()
        print("CPU use, ours on the 40 % hole:", {k: round(v, 2) for k, v in res["cpu_use_40pct"].items()}, flush=True)

    res["torch_cpu"] = torch_rows(cases, [float(v) for v in args.torch_sizes.split(",") if v])
    res["load_after"] = os.getloadavg()
    print("\n" + report(res))
    args.json.write_text(json.dumps(res, indent=1, default=str))
    print(f"\nwrote {args.json}")


def cpu_use_only(repeats: int, out: Path) -> None:
    """Ours on the 40 % hole, ``repeats`` times, each fill sampled for its cores in use (a warm-up fill first)."""
    from remove_people.config import build_stage

    ours = build_stage("inpaint", "patchmatch")
    _, _, img, hole = size_holes()[-1]
    ours.inpaint(img, hole)
    runs = []
    for _ in range(repeats):
        load = os.getloadavg()[0]
        with CpuSampler() as sampler:
            ours.inpaint(img, hole)
        runs.append({**sampler.cores(), "load_1min_before": load})
        print({k: round(v, 2) for k, v in runs[-1].items()}, flush=True)
    out.write_text(json.dumps({"cores": len(os.sched_getaffinity(0)), "cpu_use_40pct": runs}, indent=1))


def torch_rows(cases: list, fractions: list[float]) -> list[dict[str, Any]]:
    """The torch kernels (CPU, and CUDA when present) on the size cases, against numba, same bytes checked."""
    import torch

    from remove_people.config import build_stage
    from remove_people.fill import patch_fill
    from remove_people.fill.kernels_numba import NumbaKernels
    from remove_people.fill.kernels_torch import TorchKernels

    settings = build_stage("inpaint", "patchmatch").settings()  # the default plugin's settings
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    wanted = {f"{100 * f:.0f}%" for f in fractions}
    for set_name, name, img, hole in cases:
        if set_name != "sizes" or (name not in wanted and "cuda" not in devices):
            continue
        numba_out, nw, nc = timed(lambda: patch_fill(img, hole, None, settings, NumbaKernels()))
        row = {"name": name, "numba_wall_s": nw, "numba_cpu_s": nc}
        for dev in devices:
            if dev == "cpu" and name not in wanted:
                continue
            k = TorchKernels(dev)
            patch_fill(img[:64, :64].copy(), hole[:64, :64], None, settings, k)  # warm-up (CUDA context)
            out, w, c = timed(lambda k=k: patch_fill(img, hole, None, settings, k))
            row[f"torch_{dev}_wall_s"], row[f"torch_{dev}_cpu_s"] = w, c
            row[f"torch_{dev}_same_bytes"] = bool(np.array_equal(out, numba_out))
        rows.append(row)
        print("torch:", row, flush=True)
    return rows


def report(res: dict[str, Any]) -> str:
    lines = ["| set | photo | hole % | ours s (CPU s) | pypatchmatch s (CPU s) | wall ratio | CPU ratio |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in res["rows"]:
        lines.append(f"| {r['set']} | {r['name']} | {100 * r['hole_fraction']:.1f} | {r['ours_wall_s']:.3f} ({r['ours_cpu_s']:.3f}) "
                     f"| {r['pypatchmatch_wall_s']:.3f} ({r['pypatchmatch_cpu_s']:.3f}) | {r['pypatchmatch_wall_s'] / r['ours_wall_s']:.2f}× "
                     f"| {r['pypatchmatch_cpu_s'] / r['ours_cpu_s']:.2f}× |")  # fmt: skip
    lines += ["", "| set | fills | ours median s | pypatchmatch median s | median of per-fill wall ratios | total wall ratio | total CPU ratio |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in dict.fromkeys(r["set"] for r in res["rows"]):
        rows = [r for r in res["rows"] if r["set"] == s]
        ratio = statistics.median(r["pypatchmatch_wall_s"] / r["ours_wall_s"] for r in rows)
        tw = sum(r["pypatchmatch_wall_s"] for r in rows) / sum(r["ours_wall_s"] for r in rows)
        tc = sum(r["pypatchmatch_cpu_s"] for r in rows) / sum(r["ours_cpu_s"] for r in rows)
        lines.append(f"| {s} | {len(rows)} | {statistics.median(r['ours_wall_s'] for r in rows):.3f} | "
                     f"{statistics.median(r['pypatchmatch_wall_s'] for r in rows):.3f} | {ratio:.2f}× | {tw:.2f}× | {tc:.2f}× |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
