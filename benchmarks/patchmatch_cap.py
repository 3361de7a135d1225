"""How far PatchMatch removal can beat the naive chain on N cores: the bound, from the photos.

Why this script: ``benchmarks/run.py`` measures ours against the naive chain (a); this one
says how much of that gap any pipeline could close at equal output. PatchMatch is
single-threaded, so the naive chain fills each photo on one core after detecting it, and
at best ours keeps every core filling while detection runs beside it. What else ours can
save is the crop: filling a window around the hole instead of the whole photo. With
perfect scheduling (every core busy all the time, I/O free),

    bound = (naive detect wall + PatchMatch CPU on whole photos) / ((our detect CPU + PatchMatch CPU on crops) / cores)

and ``bound, detection free`` drops our detection from the denominator. This script
times, on the same photos as ``run.py`` (the first ``--images`` coco-person photos by
name): ultralytics ``predict`` on the ``.pt``, one photo at a time (the naive chain's
detector, wall seconds); our default detector (CPU seconds); and the default PatchMatch
inpainter on each photo with a hole, ``strategy: full`` (the naive chain's) and ``crop``
(ours), in CPU seconds (the least of ``--repeats`` alternating fills); and reports each
photo's hole and window share of the frame.

    python benchmarks/patchmatch_cap.py [--images 16] [--cores 2] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from remove_people.shared_data import shared_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir().resolve()  # remove_people/shared_data.py: $REMOVE_PEOPLE_SHARED, else ../shared


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--repeats", type=int, default=3, help="fills per photo and strategy (the least CPU time counts)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    for k, v in {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False", "YOLO_VERBOSE": "False", "REMOVE_PEOPLE_OFFLINE": "1",
                 "REMOVE_PEOPLE_MODEL_DIR": str(SHARED / "weights")}.items():  # fmt: skip
        os.environ.setdefault(k, v)

    from remove_people.config import Config, build_stage
    from remove_people.pipeline.image_reader import read_image
    from remove_people.pipeline.inputs import collect_inputs
    from remove_people.stages.detect.base import Frame
    from remove_people.stages.inpaint.base import hole_regions
    from remove_people.stages.select import Selector

    images = SHARED / "data" / "coco-person" / "images"
    cfg = Config.load()
    cfg.select("inpaint", "pypatchmatch")
    detector, refiner, selector = build_stage("detect", config=cfg), build_stage("refine", config=cfg), Selector.from_config(cfg)
    crop = build_stage("inpaint", config=cfg)
    pm = cfg.data["inpaint"]["pypatchmatch"]
    cfg.data["inpaint"]["pypatchmatch"] = {**pm, "strategy": "full"}
    full = build_stage("inpaint", config=cfg)

    from ultralytics import YOLO

    naive_model = YOLO(str(detector.weights_path()), task="segment")
    yp = detector.params
    kw = {"retina_masks": True, "classes": yp.classes, "conf": yp.conf, "iou": yp.iou, "imgsz": yp.imgsz, "device": "cpu", "verbose": False}
    items = collect_inputs(str(images)).items[: args.images]
    first = read_image(items[0].path).rgb
    naive_model.predict(first[:, :, ::-1], **kw)  # warm-up, both detectors: model load is not the point
    detector.detect([Frame(first, items[0].path, items[0].rel)])

    rows, naive_detect_s, ours_detect_cpu_s = [], 0.0, 0.0
    for item in items:
        rgb = read_image(item.path).rgb
        t = time.perf_counter()
        naive_model.predict(np.ascontiguousarray(rgb[:, :, ::-1]), **kw)
        naive_detect_s += time.perf_counter() - t
        t = time.process_time()
        instances = detector.detect([Frame(rgb, item.path, item.rel)])[0]
        ours_detect_cpu_s += time.process_time() - t
        remove, protect = selector.select(instances, rgb.shape[:2], item)
        mask = refiner.refine(rgb, remove, protect) if remove else np.zeros(rgb.shape[:2], np.uint8)
        if not mask.any():
            continue
        # Alternating, repeated, minimum: single-thread speed swings by a third on a shared machine,
        # and the least time of equal work is the closest to its cost.
        seconds = {"full": float("inf"), "crop": float("inf")}
        for _ in range(args.repeats):
            for name, inpainter in (("full", full), ("crop", crop)):
                t = time.process_time()
                inpainter.inpaint(rgb, mask)
                seconds[name] = min(seconds[name], time.process_time() - t)
        window = sum((r.y1 - r.y0) * (r.x1 - r.x0) for r in hole_regions(mask, pm["margin"], pm["min_margin"]))
        rows.append({"photo": item.path.name, "hole": float((mask > 0).mean()), "window": window / mask.size, **seconds})
        print(f"{item.path.name}  hole {rows[-1]['hole']:.2f}  window {rows[-1]['window']:.2f}  "
              f"full {seconds['full']:.2f} s  crop {seconds['crop']:.2f} s", flush=True)  # fmt: skip

    full_s, crop_s = sum(r["full"] for r in rows), sum(r["crop"] for r in rows)
    whole = [r for r in rows if r["window"] >= 0.99]
    naive_s = naive_detect_s + full_s
    res = {
        "photos": len(items), "photos_with_holes": len(rows), "cores": args.cores,
        "naive_detect_wall_s": naive_detect_s, "ours_detect_cpu_s": ours_detect_cpu_s,
        "full_cpu_s": full_s, "crop_cpu_s": crop_s, "crop_saving": 1 - crop_s / full_s,
        "bound": naive_s / ((ours_detect_cpu_s + crop_s) / args.cores),
        "bound_detection_free": naive_s / (crop_s / args.cores),
        "whole_frame_windows": len(whole), "whole_frame_share_of_crop_s": sum(r["crop"] for r in whole) / crop_s,
        "rows": rows,
    }  # fmt: skip
    print(f"\n{len(items)} photos, {len(rows)} with holes. Detection: naive {naive_detect_s:.1f} s wall, ours "
          f"{ours_detect_cpu_s:.1f} s CPU. PatchMatch CPU: {full_s:.1f} s on whole photos, {crop_s:.1f} s on crops "
          f"(saving {100 * res['crop_saving']:.0f} %); {len(whole)} windows are the whole frame and take "
          f"{100 * res['whole_frame_share_of_crop_s']:.0f} % of the crop time.\n"
          f"bound on {args.cores} cores at equal output: {res['bound']:.2f}x the naive chain "
          f"({res['bound_detection_free']:.2f}x if our detection were free)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
