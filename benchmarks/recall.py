"""How the detection defaults were chosen: the removal score against ground truth, per detector setting.

Each *pass* (one model, one inference size, the photo or its mirror image) runs once over
the val2017 photos of ../shared/data/coco-person at a low threshold, and its raw detections
are cached in a scratch folder outside the repository (``--scratch``, default
``$TMPDIR/rp-recall``), with the detection seconds it took. A *combination* (passes,
threshold, merge IoU, refine and select settings) is then scored from the masks alone:
the repainted region of a result is exactly the refined mask, whatever the inpainter
(``eval removal`` confirms this on real outputs), so persons removed, pixel coverage and
extra area come without inpainting anything. Residual persons need real outputs: measure
the chosen setting with ``remove-people eval removal`` (docs/evaluation.md).

Tuning honestly: the 59 photos are dealt into two halves with as many persons each
(``photos``); settings are picked on ``tune`` and then looked at on ``confirm``. Every row
prints both halves and ``all``.

    python benchmarks/recall.py grid [--json grid.json]      # the old default, each lever, the new default
    python benchmarks/recall.py grid --part all --only 'v11+v8 flip c0.25 s0.05 d5'
    python benchmarks/recall.py accessories                  # the default without and with --with-accessories
    python benchmarks/recall.py speed                        # detection seconds per photo, old vs new default
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remove_people.shared_data import shared_dir

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("REMOVE_PEOPLE_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir().resolve()  # remove_people/shared_data.py: $REMOVE_PEOPLE_SHARED, else ../shared
COCO_DIR = SHARED / "data" / "coco-person"
#: Raw detections are kept down to this confidence, so any higher threshold is a filter.
RAW_CONF = 0.02
MODELS = {"v11": "yolo11n-seg", "v8": "yolov8n-seg"}
PARTS = ("tune", "confirm", "all")


@dataclass(frozen=True)
class Pass:
    """One model at one inference size over the photo (or its mirror image)."""

    model: str  # key of MODELS
    imgsz: int = 640
    flipped: bool = False

    @property
    def key(self) -> str:
        return f"{self.model}-{self.imgsz}{'-flip' if self.flipped else ''}"


def photos(part: str) -> list[dict[str, Any]]:
    """The val2017 image records; ``tune`` and ``confirm`` are two halves with as many persons each.

    The halves are dealt like cards: photos sorted by how many persons over 1 % of the frame
    they hold (then by id), taken in turn, so a crowded photo does not tip one half.
    """
    data = json.loads((COCO_DIR / "annotations" / "instances.json").read_text())
    recs = [i for i in data["images"] if i.get("coco_split") == "val2017"]
    area = {i["id"]: i["width"] * i["height"] for i in recs}
    counted = {i["id"]: 0 for i in recs}
    for a in data["annotations"]:
        if a["category_id"] == 1 and not a.get("iscrowd") and a["image_id"] in counted and a["area"] >= 0.01 * area[a["image_id"]]:
            counted[a["image_id"]] += 1
    dealt = sorted(recs, key=lambda r: (-counted[r["id"]], r["id"]))
    if part == "tune":
        return sorted(dealt[0::2], key=lambda r: r["id"])
    if part == "confirm":
        return sorted(dealt[1::2], key=lambda r: r["id"])
    return sorted(recs, key=lambda r: r["id"])


def _classes() -> list[int]:
    from remove_people.stages.select import ACCESSORY_COCO_IDS

    return sorted({0, *ACCESSORY_COCO_IDS.values()})


def raw_detections(p: Pass, scratch: Path) -> dict[str, Any]:
    """``{"seconds": {file: s}, "instances": {file: [(rle, score, label, class_id, box)]}}`` of one pass, cached."""
    path = scratch / "det" / f"{p.key}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    from pycocotools import mask as mask_utils

    from remove_people.config import build_stage
    from remove_people.pipeline.image_reader import read_image
    from remove_people.stages.detect.base import Frame
    from remove_people.stages.detect.merge import flip_back

    det = build_stage("detect", "yolo", weights=MODELS[p.model], imgsz=p.imgsz, conf=RAW_CONF, max_det=300,
                      classes=_classes(), flip=False)  # fmt: skip
    out: dict[str, Any] = {"seconds": {}, "wall": {}, "instances": {}}
    recs = photos("all")
    for n, rec in enumerate([recs[0]] + recs):  # the first photo twice: the first call loads and compiles
        rgb = read_image(COCO_DIR / "images" / rec["file_name"]).rgb
        if p.flipped:
            rgb = np.ascontiguousarray(rgb[:, ::-1])
        t, w = time.process_time(), time.perf_counter()
        found = det.detect([Frame(rgb, Path(rec["file_name"]), rec["file_name"])])[0]
        dt, dw = time.process_time() - t, time.perf_counter() - w
        if p.flipped:
            found = [flip_back(i, rgb.shape[1]) for i in found]
        if n == 0:
            continue
        out["seconds"][rec["file_name"]] = dt
        out["wall"][rec["file_name"]] = dw
        out["instances"][rec["file_name"]] = [
            (mask_utils.encode(np.asfortranarray(i.mask.astype(np.uint8))), i.score, i.label, i.class_id, i.box) for i in found
        ]
    det.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def instances_of(raw: dict[str, Any], file_name: str, conf: float) -> list[Any]:
    from pycocotools import mask as mask_utils

    from remove_people.stages.detect.base import Instance

    return [Instance(mask_utils.decode(r).astype(bool), s, lab, k, box) for r, s, lab, k, box in raw["instances"][file_name] if s >= conf]


@dataclass
class Combo:
    """A detector + refine + select setting to score from masks (the detector's fields as in ``YoloParams``)."""

    name: str
    passes: tuple[Pass, ...]
    conf: float = 0.25
    support_conf: float | None = None  # a weaker detection stays when another pass confirms it
    edge_conf: float | None = None  # (tried, not kept) a weaker detection stays when it touches the frame's edge
    merge_iou: float = 0.5
    dilate: int = 9
    dilate_frac: float = 0.02
    accessories: bool = False


def touches_edge(inst: Any, shape: tuple[int, int], margin: float = 2.0) -> bool:
    x0, y0, x1, y1 = inst.box
    return x0 <= margin or y0 <= margin or x1 >= shape[1] - margin or y1 >= shape[0] - margin


def detections(combo: Combo, raws: list[dict[str, Any]], file_name: str, shape: tuple[int, int]) -> list[Any]:
    """What ``YoloDetector.detect`` returns for one photo with ``combo``'s settings, from the cached passes."""
    from remove_people.stages.detect.merge import keep_supported, merge_instances

    low = min(c for c in (combo.conf, combo.support_conf, combo.edge_conf) if c is not None)
    passes = [instances_of(r, file_name, low) for r in raws]
    kept = keep_supported(passes, combo.conf, combo.support_conf)
    if combo.edge_conf is not None:
        kept = [k + [i for i in p if combo.edge_conf <= i.score < combo.conf and touches_edge(i, shape) and all(i is not j for j in k)]
                for k, p in zip(kept, passes)]  # fmt: skip
    return merge_instances(kept, combo.merge_iou)


@functools.lru_cache(maxsize=None)
def _photo(file_name: str) -> tuple[np.ndarray, Any]:
    """A photo's pixels and its ground truth (kept in memory: the grid scores every photo many times)."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    from remove_people.evaluation.removal_score import coco_ground_truth
    from remove_people.pipeline.image_reader import read_image

    global _COCO
    if _COCO is None:
        with contextlib.redirect_stdout(io.StringIO()):
            _COCO = COCO(str(COCO_DIR / "annotations" / "instances.json"))
    image_id = next(i for i, r in _COCO.imgs.items() if r["file_name"] == file_name)
    rgb = read_image(COCO_DIR / "images" / file_name).rgb
    return rgb, coco_ground_truth(_COCO, image_id, rgb.shape[:2])


_COCO: Any = None


def score(combo: Combo, scratch: Path) -> dict[str, Any]:
    """The removal figures of ``combo`` (from refined masks) on each part, and its detection seconds per photo."""
    from remove_people.config import Config, build_stage
    from remove_people.evaluation.removal_score import RemovalTally, score_image
    from remove_people.stages.select import Selector

    raws = [raw_detections(p, scratch) for p in combo.passes]
    refiner = build_stage("refine", "morphology", dilate=combo.dilate, dilate_frac=combo.dilate_frac)
    selector = Selector.from_config(Config.load(overrides=[f"select.with_accessories={str(combo.accessories).lower()}"]))
    tallies = {part: RemovalTally() for part in PARTS}
    where = {r["file_name"]: part for part in ("tune", "confirm") for r in photos(part)}
    seconds, wall = [], []
    for rec in photos("all"):
        fn = rec["file_name"]
        rgb, gt = _photo(fn)
        shape = rgb.shape[:2]
        found = detections(combo, raws, fn, shape)
        if not combo.accessories:
            found = [i for i in found if i.is_person]
        remove, protect = selector.select(found, shape)
        region = refiner.refine(rgb, remove, protect) > 0 if remove else np.zeros(shape, bool)
        sc = score_image(region, gt)
        tallies["all"].add(fn, sc)
        tallies[where[fn]].add(fn, sc)
        seconds.append(sum(r["seconds"][fn] for r in raws))
        wall.append(sum(r["wall"][fn] for r in raws))
    out: dict[str, Any] = {}
    for part, tally in tallies.items():
        s = tally.summary()
        s["worst"] = {k: tally.images[k].to_dict() for k in tally.worst(8)}
        out[part] = s
    out["detect_cpu_s_per_photo"] = float(np.median(seconds))
    out["detect_wall_s_per_photo"] = float(np.median(wall))
    return out


#: The setting that became the default in configs/default.yaml.
DEFAULT = "v11+v8 flip c0.25 s0.05 d5 +accessories"


def grid() -> list[Combo]:
    """The old default, each lever alone, the levers combined, the default, and its neighbours."""
    v11, v8 = Pass("v11"), Pass("v8")
    v11f, v8f = Pass("v11", flipped=True), Pass("v8", flipped=True)
    ens = (v11, v11f, v8, v8f)
    return [
        Combo("v11 (old default)", (v11,)),
        Combo("v8", (v8,)),
        Combo("v11 c0.05", (v11,), conf=0.05),
        Combo("v11 flip", (v11, v11f)),
        Combo("v11+v8", (v11, v8)),
        Combo("v11@960", (Pass("v11", 960),)),
        Combo("v11@640+1280", (v11, Pass("v11", 1280))),
        Combo("v11+v8 flip", ens),
        Combo("v11+v8 flip c0.10", ens, conf=0.10),
        Combo("v11+v8 flip c0.05", ens, conf=0.05),
        Combo("v11+v8 flip c0.25 s0.05", ens, support_conf=0.05),
        Combo("v11+v8 flip c0.25 edge0.05 d5", ens, edge_conf=0.05, dilate=5),
        Combo("v11+v8 c0.25 s0.05 d5", (v11, v8), support_conf=0.05, dilate=5),
        Combo("v11+v8 flip c0.25 s0.10 d5", ens, support_conf=0.10, dilate=5),
        Combo("v11+v8 flip c0.25 s0.05 d5", ens, support_conf=0.05, dilate=5),
        Combo(DEFAULT, ens, support_conf=0.05, dilate=5, accessories=True),
        Combo("v11+v8 flip c0.25 s0.05 d3", ens, support_conf=0.05, dilate=3),
        Combo("v11+v8 flip c0.25 s0.05 d5 f0.01", ens, support_conf=0.05, dilate=5, dilate_frac=0.01),
        Combo("v11+v8 flip c0.25 s0.05 d5 f0.03", ens, support_conf=0.05, dilate=5, dilate_frac=0.03),
        # Three passes instead of four: only one model also looks at the mirrored photo.
        Combo("v11+v8 v11-flip c0.25 s0.05 d5", (v11, v11f, v8), support_conf=0.05, dilate=5),
        Combo("v11+v8 v8-flip c0.25 s0.05 d5", (v11, v8, v8f), support_conf=0.05, dilate=5),
    ]


def _row(name: str, r: dict[str, Any], part: str) -> str:
    s = r[part]
    bands = " ".join(f"{k[0]}{v['removed']}/{v['persons']}" for k, v in s["by_size"].items())
    return (f"{name:36s} {part:7s} removed {s['persons_removed']:.3f} ({s['persons_removed_count']}/{s['persons_counted']}; {bands}) "
            f"coverage {s['pixel_coverage']:.4f} extra {s['extra_area']:.3f} (persons only {s['extra_area_persons_only']:.3f}) "
            f"held {s['held_objects_removed_count']}/{s['held_objects']} free {s['free_objects_removed_count']}/{s['free_objects']} "
            f"detect {r['detect_cpu_s_per_photo']:.2f} cpu-s {r['detect_wall_s_per_photo']:.2f} s")


#: The detector settings before issue 15, as ``--set`` overrides of today's defaults.
OLD_DETECTOR = ("weights=yolo11n-seg", "flip=false", "classes=[0]")


def speed(rounds: int = 1) -> dict[str, Any]:
    """Detection seconds per photo, old default vs new default, measured alternately photo by photo.

    Both detectors are built and warmed up first (model load and OpenVINO compile are not
    counted); each photo then goes through the old and the new detector in turn, so a
    machine shared with other jobs slows both alike. CPU seconds are process time (all threads).
    """
    from remove_people.config import Config, build_stage
    from remove_people.pipeline.image_reader import read_image
    from remove_people.stages.detect.base import Frame

    dets = {
        "old": build_stage("detect", config=Config.load(overrides=[f"detect.yolo.{o}" for o in OLD_DETECTOR])),
        "new": build_stage("detect", config=Config.load()),
    }
    frames = [Frame(read_image(COCO_DIR / "images" / r["file_name"]).rgb, Path(r["file_name"]), r["file_name"]) for r in photos("all")]
    for d in dets.values():
        d.detect(frames[:1])
    cpu: dict[str, list[float]] = {k: [] for k in dets}
    wall: dict[str, list[float]] = {k: [] for k in dets}
    for _ in range(rounds):
        for f in frames:
            for k, d in dets.items():
                t, w = time.process_time(), time.perf_counter()
                d.detect([f])
                cpu[k].append(time.process_time() - t)
                wall[k].append(time.perf_counter() - w)
    out = {k: {"cpu_s_median": float(np.median(cpu[k])), "wall_s_median": float(np.median(wall[k])),
               "wall_s_mean": float(np.mean(wall[k]))} for k in dets}  # fmt: skip
    out["ratio_wall_median"] = out["new"]["wall_s_median"] / out["old"]["wall_s_median"]
    out["ratio_cpu_median"] = out["new"]["cpu_s_median"] / out["old"]["cpu_s_median"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["grid", "accessories", "speed"])
    ap.add_argument("--part", action="append", choices=PARTS, help="Parts to print (default: tune, confirm, all).")
    ap.add_argument("--only", action="append", default=[], help="Score only the combinations with these names.")
    ap.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "rp-recall")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("REMOVE_PEOPLE_MODEL_DIR", str(SHARED / "weights"))
    combos = [c for c in grid() if (c.name in args.only if args.only else True)]
    results: dict[str, Any] = {}
    if args.what == "speed":
        results = speed()
        print(json.dumps(results, indent=1))
        combos = []
    if args.what == "accessories":
        base = next(c for c in grid() if c.name == (args.only[0] if args.only else DEFAULT))
        combos = [dataclasses.replace(base, name=f"{base.name} accessories {'on' if on else 'off'}", accessories=on) for on in (False, True)]
    for c in combos:
        r = score(c, args.scratch)
        results[c.name] = r
        for part in args.part or PARTS:
            print(_row(c.name, r, part), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
