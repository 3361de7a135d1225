"""``eval detect``: person mask AP / box AP with pycocotools, and how well masks cover the persons.

Why two kinds of figure: AP (COCOeval, iouType segm and bbox, person only) ranks
detections over all confidence thresholds, as papers report it, so it needs the
detector run at a very low ``conf``. What the product removes, though, is the
union of the persons found at the *operating* threshold, grown by the refine
stage. So the same detections are also cut at ``detect.yolo.conf`` and scored
pixel-wise against the union of ground-truth person masks (crowds included):
``coverage`` = share of person pixels inside the mask (recall; what is left
uncovered shows as ghosts after inpainting), ``extra`` = mask pixels outside
any person, relative to the person area (what is inpainted needlessly), for the
raw detector masks and for the refined mask.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from remove_people.evaluation.coco_subset import PERSON_CATEGORY_ID, CocoSubset
from remove_people.stages.detect.base import Frame, Instance


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE of a bool mask, JSON-ready (``counts`` as str)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def to_coco_results(image_id: int, instances: list[Instance]) -> list[dict[str, Any]]:
    """COCO results records (segmentation RLE, bbox xywh, score) for the persons among ``instances``."""
    out = []
    for inst in instances:
        if not inst.is_person:
            continue
        x0, y0, x1, y1 = inst.box or (0, 0, 0, 0)
        out.append(
            {
                "image_id": int(image_id),
                "category_id": PERSON_CATEGORY_ID,
                "segmentation": encode_rle(inst.mask),
                "bbox": [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
                "score": round(float(inst.score), 5),
            }
        )
    return out


def coco_ap(coco_gt: Any, results: list[dict[str, Any]], image_ids: list[int]) -> dict[str, float]:
    """Person-only AP and AP50, for masks and boxes (pycocotools COCOeval, catIds=[1])."""
    from pycocotools.cocoeval import COCOeval

    out: dict[str, float] = {}
    for iou_type, prefix in (("segm", "mask"), ("bbox", "box")):
        if not results:
            out[f"{prefix}_ap"] = out[f"{prefix}_ap50"] = 0.0
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            dt = coco_gt.loadRes([dict(r) for r in results])  # loadRes mutates its records
            ev = COCOeval(coco_gt, dt, iou_type)
            ev.params.catIds = [PERSON_CATEGORY_ID]
            ev.params.imgIds = list(image_ids)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        out[f"{prefix}_ap"] = float(ev.stats[0])
        out[f"{prefix}_ap50"] = float(ev.stats[1])
    return out


def gt_person_mask(coco: Any, image_id: int, shape: tuple[int, int]) -> np.ndarray:
    """Union of every person annotation (polygons and crowd RLE) of one image."""
    m = np.zeros(shape, bool)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id], catIds=[PERSON_CATEGORY_ID], iscrowd=None)):
        a = coco.annToMask(ann).astype(bool)
        if a.shape == shape:
            m |= a
    return m


@dataclass
class PixelCounts:
    """Pooled pixel counts over a subset, for one kind of mask (raw or refined)."""

    gt: int = 0
    covered: int = 0
    extra: int = 0
    background: int = 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
        g, c, e = int(gt.sum()), int((pred & gt).sum()), int((pred & ~gt).sum())
        self.gt += g
        self.covered += c
        self.extra += e
        self.background += int(gt.size - g)
        return {"coverage": c / g if g else float("nan"), "extra": e / g if g else float("nan")}

    def summary(self) -> dict[str, float]:
        return {
            "coverage": self.covered / self.gt if self.gt else float("nan"),
            "extra": self.extra / self.gt if self.gt else float("nan"),
            "background_filled": self.extra / self.background if self.background else float("nan"),
        }


def evaluate_detection(
    subset: CocoSubset,
    detector: Any,
    refiner: Any,
    selector: Any,
    operating_conf: float,
    on_progress: Callable[[int, int], None] | None = None,
    on_image: Callable[[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    batch: int = 8,
) -> dict[str, Any]:
    """Run ``detector`` over ``subset``; return AP figures, coverage figures and the COCO results.

    ``on_image(record, rgb, gt, raw, refined)`` sees each image's masks once (the report uses it).
    """
    from remove_people.errors import RemovePeopleError
    from remove_people.evaluation.data import load_rgb
    from remove_people.stages.refine.base import union

    coco = subset.coco
    results: list[dict[str, Any]] = []
    raw_counts, ref_counts = PixelCounts(), PixelCounts()
    per_image: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    evaluated: list[int] = []
    recs = subset.records
    t0 = time.perf_counter()
    detect_seconds = 0.0
    for start in range(0, len(recs), batch):
        chunk = recs[start : start + batch]
        frames, kept = [], []
        for r in chunk:
            try:
                if r.path is None or not r.path.is_file():
                    raise FileNotFoundError
                frames.append(Frame(load_rgb(r.path), r.path, r.file_name))
                kept.append(r)
            except FileNotFoundError:
                failures.append(f"{r.path or r.file_name}: image id {r.id} is missing on disk; skipped")
            except RemovePeopleError as err:
                failures.append(str(err))
        t = time.perf_counter()
        found = detector.detect(frames) if frames else []
        detect_seconds += time.perf_counter() - t
        for r, fr, inst in zip(kept, frames, found):
            shape = fr.rgb.shape[:2]
            if (r.height, r.width) != shape:
                failures.append(f"{r.path}: image is {shape[1]}x{shape[0]} but its record says {r.width}x{r.height}; skipped")
                continue
            evaluated.append(r.id)
            results += to_coco_results(r.id, inst)
            gt = gt_person_mask(coco, r.id, shape)
            operating = [i for i in inst if i.score >= operating_conf]
            remove, protect = selector.select(operating, shape)
            raw = union([i for i in remove if i.is_person], shape) > 0 if remove else np.zeros(shape, bool)
            refined = refiner.refine(fr.rgb, remove, protect) > 0 if remove else np.zeros(shape, bool)
            rec: dict[str, Any] = {"image_id": r.id, "persons_gt": r.persons, "persons_found": sum(1 for i in operating if i.is_person)}
            if gt.any():
                rec["raw"] = raw_counts.add(raw, gt)
                rec["refined"] = ref_counts.add(refined, gt)
            else:  # a person-free image: anything masked is extra
                rec["false_mask_pixels"] = {"raw": int(raw.sum()), "refined": int(refined.sum())}
                raw_counts.background += gt.size
                ref_counts.background += gt.size
                raw_counts.extra += int(raw.sum())
                ref_counts.extra += int(refined.sum())
            per_image[r.file_name] = rec
            if on_image:
                on_image(r, fr.rgb, gt, raw, refined)
        if on_progress:
            on_progress(min(start + batch, len(recs)), len(recs))
    ap = coco_ap(coco, results, evaluated)
    return {
        "ap": ap,
        "masks": {"raw": raw_counts.summary(), "refined": ref_counts.summary()},
        "images": len(evaluated),
        "image_ids": evaluated,
        "per_image": per_image,
        "results": results,
        "failures": failures,
        "seconds": {"detect": detect_seconds, "total": time.perf_counter() - t0},
    }
