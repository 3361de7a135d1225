"""How the refine defaults were chosen: GT person-pixel coverage vs extra area, per dilation setting.

Runs the default YOLO detector once on the val2017 person images of ../shared/data/coco-person,
then refines its masks with a grid of (dilate, dilate_frac) and reports, against the COCO
ground truth: recall of GT person pixels (the share a hole covers: what is left is the halo
or outline that survives) and the extra area beyond GT (background that gets repainted).

    python benchmarks/refine_defaults.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

import numpy as np

from remove_people.shared_data import shared_dir

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir().resolve()  # remove_people/shared_data.py: $REMOVE_PEOPLE_SHARED, else ../shared


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("REMOVE_PEOPLE_MODEL_DIR", str(SHARED / "weights"))
    from pycocotools.coco import COCO

    from remove_people.config import build_stage
    from remove_people.pipeline.image_reader import read_image
    from remove_people.stages.detect.base import Frame

    coco = COCO(str(SHARED / "data/coco-person/annotations/instances.json"))
    imgs = [i for i in coco.dataset["images"] if i.get("coco_split") == "val2017"]
    imgs = [i for i in imgs if coco.getAnnIds(imgIds=[i["id"]], catIds=[1], iscrowd=None)]
    det = build_stage("detect", "yolo")
    data = []
    for info in imgs:
        loaded = read_image(SHARED / "data/coco-person/images" / info["file_name"])
        inst = det.detect([Frame(loaded.rgb, Path(info["file_name"]), info["file_name"])])[0]
        gt = np.zeros(loaded.rgb.shape[:2], bool)
        for a in coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]], catIds=[1], iscrowd=None)):
            gt |= coco.annToMask(a).astype(bool)
        data.append((loaded.rgb, [i for i in inst if i.is_person], gt))
    rows = []
    for dilate in (0, 5, 9, 15):
        for frac in (0.0, 0.02, 0.04):
            ref = build_stage("refine", "morphology", dilate=dilate, dilate_frac=frac)
            rec, extra = [], []
            for rgb, inst, gt in data:
                m = ref.refine(rgb, inst) > 0 if inst else np.zeros(gt.shape, bool)
                rec.append((m & gt).sum() / max(1, gt.sum()))
                extra.append((m & ~gt).sum() / max(1, gt.sum()))
            rows.append({"dilate": dilate, "dilate_frac": frac, "gt_recall_mean": float(np.mean(rec)),
                         "gt_recall_median": float(statistics.median(rec)), "extra_area_median": float(statistics.median(extra))})
    print(f"{len(data)} val2017 images with persons; recall = GT person pixels inside the hole")
    print(f"{'dilate':>6} {'frac':>5} {'recall mean':>11} {'recall med':>10} {'extra/GT med':>12}")
    for r in rows:
        print(f"{r['dilate']:>6} {r['dilate_frac']:>5} {r['gt_recall_mean']:>11.3f} {r['gt_recall_median']:>10.3f} {r['extra_area_median']:>12.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
