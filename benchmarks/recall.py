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

Tuning honestly: ``--part tune`` scores the even-numbered photos (by image id), ``--part
confirm`` the odd ones, ``--part all`` both. Pick on ``tune``, then look at ``confirm``.

    python benchmarks/recall.py grid --part tune            # every lever, one at a time and combined
    python benchmarks/recall.py grid --part confirm --only 'v11+v8 flip c0.10'
    python benchmarks/recall.py accessories                 # --with-accessories against COCO objects
"""

from __future__ import annotations

import argparse
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

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("REMOVE_PEOPLE_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REMOVE_PEOPLE_SHARED", ROOT.parent / "shared"))
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
    from remove_people.pipeline.imageio import read_image
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
    """A detector + refine + select setting to score from masks."""

    name: str
    passes: tuple[Pass, ...]
    conf: float = 0.25
    merge_iou: float = 0.5
    dilate: int = 9
    dilate_frac: float = 0.02
    accessories: bool = False
    vote_conf: float | None = None  # objects below ``conf`` stay when found by ``votes`` passes at this confidence
    votes: int = 2
    edge_conf: float | None = None  # objects touching the frame's edge stay from this confidence
    pixel_votes: int = 1  # a merged object's pixel needs this many of its members (at most all of them)
    support: bool = False  # votes counted per detection (overlap with other passes), not per merged group


def touches_edge(inst: Any, shape: tuple[int, int], margin: float = 2.0) -> bool:
    x0, y0, x1, y1 = inst.box
    return x0 <= margin or y0 <= margin or x1 >= shape[1] - margin or y1 >= shape[0] - margin


def _overlap(a: Any, b: Any) -> float:
    """Intersection over the smaller mask: 1 when one detection lies inside the other."""
    from remove_people.stages.detect.merge import _box_overlaps

    if not _box_overlaps(a.box, b.box):
        return 0.0
    return float((a.mask & b.mask).sum()) / max(1, min(a.area, b.area))


def supported(passes: list[list[Any]], conf: float, vote_conf: float, votes: int, overlap: float = 0.5) -> list[list[Any]]:
    """Each pass's detections at ``conf``, plus those at ``vote_conf`` that ``votes - 1`` other passes also saw
    (a detection of theirs at ``vote_conf`` overlapping at least ``overlap`` of the smaller mask)."""
    out = []
    for k, p in enumerate(passes):
        kept = []
        for inst in p:
            if inst.score >= conf:
                kept.append(inst)
                continue
            if inst.score < vote_conf:
                continue
            others = sum(1 for j, q in enumerate(passes) if j != k and any(o.class_id == inst.class_id and _overlap(inst, o) >= overlap for o in q))
            if others >= votes - 1:
                kept.append(inst)
        out.append(kept)
    return out


def detections(combo: Combo, raws: list[dict[str, Any]], file_name: str, shape: tuple[int, int]) -> list[Any]:
    """What the detector of ``combo`` returns for one photo, from the cached passes."""
    low = min(c for c in (combo.conf, combo.vote_conf, combo.edge_conf) if c is not None)
    passes = [instances_of(r, file_name, low) for r in raws]
    if combo.support:
        edge = [[i for i in p if combo.edge_conf is not None and i.score >= combo.edge_conf and touches_edge(i, shape)] for p in passes]
        kept = supported(passes, combo.conf, combo.vote_conf if combo.vote_conf is not None else combo.conf, combo.votes)
        passes = [k + [i for i in e if all(i is not j for j in k)] for k, e in zip(kept, edge)]
        return [inst for inst, _ in _merge(passes, combo.merge_iou, combo.pixel_votes)]
    groups = _merge(passes, combo.merge_iou, combo.pixel_votes)
    out = []
    for inst, n in groups:
        if inst.score >= combo.conf:
            out.append(inst)
        elif combo.vote_conf is not None and inst.score >= combo.vote_conf and n >= combo.votes:
            out.append(inst)
        elif combo.edge_conf is not None and inst.score >= combo.edge_conf and touches_edge(inst, shape):
            out.append(inst)
    return out


def _merge(passes: list[list[Any]], iou: float, pixel_votes: int) -> list[tuple[Any, int]]:
    from remove_people.stages.detect.merge import merge_groups

    if pixel_votes <= 1:
        return merge_groups(passes, iou)
    # re-merge with a per-pixel vote: recompute the groups' members
    from remove_people.stages.detect import merge as M
    from remove_people.stages.detect.base import Instance

    ordered = sorted(((inst, n) for n, p in enumerate(passes) for inst in p), key=lambda t: -t[0].score)
    seeds, members = [], []
    for inst, n in ordered:
        for k, seed in enumerate(seeds):
            if seed.class_id == inst.class_id and M._box_overlaps(seed.box, inst.box) and M._mask_iou(seed, inst) >= iou:
                members[k].append((inst, n))
                break
        else:
            seeds.append(inst)
            members.append([(inst, n)])
    out = []
    for seed, group in zip(seeds, members):
        need = min(pixel_votes, len(group))
        count = np.zeros(seed.mask.shape, np.uint8)
        for m, _ in group:
            count += m.mask
        mask = count >= need
        if not mask.any():
            continue
        out.append((Instance(mask, seed.score, seed.label, seed.class_id), len({n for _, n in group})))
    return out


@functools.lru_cache(maxsize=None)
def _photo(file_name: str) -> tuple[np.ndarray, Any]:
    """A photo's pixels and its ground truth (kept in memory: the grid scores every photo many times)."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    from remove_people.evaluation.removal_score import coco_ground_truth
    from remove_people.pipeline.imageio import read_image

    global _COCO
    if _COCO is None:
        with contextlib.redirect_stdout(io.StringIO()):
            _COCO = COCO(str(COCO_DIR / "annotations" / "instances.json"))
    image_id = next(i for i, r in _COCO.imgs.items() if r["file_name"] == file_name)
    rgb = read_image(COCO_DIR / "images" / file_name).rgb
    return rgb, coco_ground_truth(_COCO, image_id, rgb.shape[:2])


_COCO: Any = None


def score(combo: Combo, scratch: Path, keep_masks: bool = False) -> dict[str, Any]:
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
    masks = {}
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
        if keep_masks:
            masks[fn] = region
    out: dict[str, Any] = {}
    for part, tally in tallies.items():
        s = tally.summary()
        s["worst"] = {k: tally.images[k].to_dict() for k in tally.worst(8)}
        out[part] = s
    out["detect_cpu_s_per_photo"] = float(np.median(seconds))
    out["detect_wall_s_per_photo"] = float(np.median(wall))
    if keep_masks:
        out["_masks"] = masks
    return out


def grid() -> list[Combo]:
    v11, v8 = Pass("v11"), Pass("v8")
    v11f, v8f = Pass("v11", flipped=True), Pass("v8", flipped=True)
    out = [Combo("v11 (old default)", (v11,)), Combo("v8", (v8,))]
    for c in (0.25, 0.15, 0.10, 0.05):
        out.append(Combo(f"v11 c{c:.2f}", (v11,), conf=c))
        out.append(Combo(f"v11 flip c{c:.2f}", (v11, v11f), conf=c))
        out.append(Combo(f"v11+v8 c{c:.2f}", (v11, v8), conf=c))
        out.append(Combo(f"v11+v8 flip c{c:.2f}", (v11, v11f, v8, v8f), conf=c))
    for sz in (960, 1280):
        out.append(Combo(f"v11@{sz} c0.25", (Pass("v11", sz),)))
        out.append(Combo(f"v11@640+{sz} c0.25", (v11, Pass("v11", sz))))
        out.append(Combo(f"v11+v8@640+{sz} c0.10", (v11, v8, Pass("v11", sz), Pass("v8", sz)), conf=0.10))
    return out


def _row(name: str, r: dict[str, Any], part: str) -> str:
    s = r[part]
    bands = " ".join(f"{k[0]}{v['removed']}/{v['persons']}" for k, v in s["by_size"].items())
    return (f"{name:34s} {part:7s} removed {s['persons_removed']:.3f} ({s['persons_removed_count']}/{s['persons_counted']}; {bands}) "
            f"coverage {s['pixel_coverage']:.4f} extra {s['extra_area']:.3f} detect {r['detect_cpu_s_per_photo']:.2f} cpu-s "
            f"{r['detect_wall_s_per_photo']:.2f} s")


def held_objects(file_name: str, touch: int = 3, overlap: float = 0.01) -> list[tuple[str, np.ndarray, bool]]:
    """The COCO objects of the accessory classes in one photo: (class name, mask, held), where held =
    touching a non-crowd GT person by the select stage's own rule (``touch`` px, ``overlap`` share)."""
    import cv2

    from remove_people.stages.select import ACCESSORY_COCO_IDS

    rgb, gt = _photo(file_name)
    shape = rgb.shape[:2]
    image_id = next(i for i, r in _COCO.imgs.items() if r["file_name"] == file_name)
    names = {c["id"]: c["name"] for c in _COCO.dataset["categories"]}
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * touch + 1, 2 * touch + 1))
    reach = cv2.dilate(gt.union(shape).astype(np.uint8), kernel).astype(bool)
    out = []
    for ann in _COCO.loadAnns(_COCO.getAnnIds(imgIds=[image_id], iscrowd=False)):
        name = names[ann["category_id"]]
        if name not in ACCESSORY_COCO_IDS:
            continue
        m = _COCO.annToMask(ann).astype(bool)
        if not m.any():
            continue
        out.append((name, m, bool((m & reach).sum() >= max(1.0, overlap * m.sum()))))
    return out


def accessories(combo: Combo, scratch: Path) -> dict[str, Any]:
    """How often a held object is removed (>= 95 % repainted), and a free one (>= 50 % repainted), with and without."""
    from remove_people.config import Config, build_stage
    from remove_people.evaluation.removal_score import REMOVED_SHARE
    from remove_people.stages.select import Selector

    raws = [raw_detections(p, scratch) for p in combo.passes]
    refiner = build_stage("refine", "morphology", dilate=combo.dilate, dilate_frac=combo.dilate_frac)
    selector = Selector.from_config(Config.load(overrides=[f"select.with_accessories={str(combo.accessories).lower()}"]))
    held: list[tuple[str, float]] = []
    free: list[tuple[str, float]] = []
    for rec in photos("all"):
        fn = rec["file_name"]
        objects = held_objects(fn)
        if not objects:
            continue
        rgb, _ = _photo(fn)
        found = detections(combo, raws, fn, rgb.shape[:2])
        if not combo.accessories:
            found = [i for i in found if i.is_person]
        remove, protect = selector.select(found, rgb.shape[:2])
        region = refiner.refine(rgb, remove, protect) > 0 if remove else np.zeros(rgb.shape[:2], bool)
        for name, m, is_held in objects:
            (held if is_held else free).append((f"{fn}:{name}", float((m & region).sum() / m.sum())))
    return {
        "held": len(held), "held_removed": sum(1 for _, s in held if s >= REMOVED_SHARE),
        "held_mean_repainted": float(np.mean([s for _, s in held])) if held else None,
        "free": len(free), "free_removed": sum(1 for _, s in free if s >= 0.5),
        "free_mean_repainted": float(np.mean([s for _, s in free])) if free else None,
        "held_objects": held, "free_objects": free,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["grid", "detect"])
    ap.add_argument("--part", action="append", choices=PARTS, help="Parts to print (default: tune, confirm).")
    ap.add_argument("--only", action="append", default=[], help="Score only the combinations with these names.")
    ap.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "rp-recall")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("REMOVE_PEOPLE_MODEL_DIR", str(SHARED / "weights"))
    combos = [c for c in grid() if not args.only or c.name in args.only]
    results = {}
    for c in combos:
        r = score(c, args.scratch)
        results[c.name] = r
        for part in args.part or ["tune", "confirm"]:
            print(_row(c.name, r, part), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
