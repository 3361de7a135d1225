"""``eval removal``: is anybody still there after removal?

Two modes. With COCO annotations (``--annotations``, or the shared coco-person set) the
persons are known, and every one of them is scored against the result's changed pixels
(``removal_score.py``: persons removed, pixel coverage, extra area, and a check
detector's residual); that is the measure to trust, because it also sees the persons the
detector never found. This module pairs each annotated image with its result
(``match_records``), picks the check detector (``choose_check_weights``) and draws the
report's pictures (``gt_panels``).

Without annotations the check is reference-free: on a real photo nobody knows the true
background, but the detector can be asked again. For each removed region (the refined
mask saved by ``run --save-masks``, or recomputed the way the pipeline would), persons
are detected on the original and on the result. A result "still has a person" when a
detection of confidence ≥ ``removal_conf`` (0.5) has at least ``min_inside`` (half) of
its mask inside the removed region: a ghost, a leftover limb, or an inpainter that
painted a new figure. It cannot see a person the detector missed in the first place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from remove_people.errors import RemovePeopleError
from remove_people.pipeline.inputs import collect_inputs
from remove_people.stages.detect.base import Frame, Instance

#: Detections down to this confidence are kept, so "after" can report weak leftovers too.
LOW_CONF = 0.05


@dataclass
class Pair:
    """An original, its result and (if saved) its mask, matched by relative path."""

    rel: str
    original: Path
    result: Path
    mask: Path | None


def match_pairs(originals: Path, results: Path, masks: Path | None = None) -> tuple[list[Pair], list[str]]:
    """Originals under ``originals`` with their results under ``results`` (same relative path, any image suffix).

    Returns the pairs and the relative paths of originals that have no result.
    """
    from remove_people.pipeline.formats import IMAGE_SUFFIXES

    inputs = collect_inputs(originals)
    pairs, problems = [], []
    mask_root = masks or results
    for it in inputs.items:
        stem_rel = Path(it.rel).with_suffix("")
        found = next((results / f"{stem_rel}{s}" for s in (Path(it.rel).suffix, *IMAGE_SUFFIXES) if (results / f"{stem_rel}{s}").is_file()), None)
        if found is None:  # not part of that run (e.g. a COCO subset of a bigger folder): counted, not an error
            problems.append(it.rel)
            continue
        mask = mask_root / f"{stem_rel}.mask.png"
        pairs.append(Pair(it.rel, it.path, found, mask if mask.is_file() else None))
    return pairs, problems


def _max_conf_inside(instances: list[Instance], region: np.ndarray, min_inside: float) -> float:
    best = 0.0
    for inst in instances:
        if not inst.is_person or inst.area == 0:
            continue
        if (inst.mask & region).sum() / inst.area >= min_inside:
            best = max(best, float(inst.score))
    return best


def evaluate_removal(
    pairs: list[Pair],
    detector: Any,
    refiner: Any,
    selector: Any,
    pipeline_conf: float,
    removal_conf: float = 0.5,
    min_inside: float = 0.5,
    on_progress: Callable[[int, int], None] | None = None,
    on_image: Callable[[Pair, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Detect on originals and results; see the module docstring for what is counted."""
    from remove_people.evaluation.data import load_rgb
    from remove_people.pipeline.mask_reader import read_mask

    per_image: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    for n, pair in enumerate(pairs):
        try:
            original, result = load_rgb(pair.original), load_rgb(pair.result)
            if original.shape != result.shape:
                raise RemovePeopleError(f"{pair.result}: size differs from {pair.original}; not a result of it")
            before, after = detector.detect([Frame(original, pair.original, pair.rel), Frame(result, pair.result, pair.rel)])
            if pair.mask is not None:
                region = read_mask(pair.mask, original.shape[:2]) > 0
                source = "saved"
            else:  # what the pipeline would remove, from the same detections
                remove, protect = selector.select([i for i in before if i.score >= pipeline_conf], original.shape[:2])
                region = refiner.refine(original, remove, protect) > 0 if remove else np.zeros(original.shape[:2], bool)
                source = "recomputed"
        except RemovePeopleError as err:
            failures.append(str(err))
            continue
        rec: dict[str, Any] = {"mask": source, "region_fraction": float(region.mean())}
        if region.any():
            rec["conf_before"] = _max_conf_inside(before, region, min_inside)
            rec["conf_after"] = _max_conf_inside(after, region, min_inside)
            rec["residual"] = rec["conf_after"] >= removal_conf
        per_image[pair.rel] = rec
        if on_image:
            on_image(pair, original, result, region, rec)
        if on_progress:
            on_progress(n + 1, len(pairs))
    removed = [r for r in per_image.values() if "residual" in r]
    return {
        "images": len(per_image),
        "images_with_removed_region": len(removed),
        "residual_share": float(np.mean([r["residual"] for r in removed])) if removed else None,
        "residual_images": sorted(k for k, r in per_image.items() if r.get("residual")),
        "mean_conf_before": float(np.mean([r["conf_before"] for r in removed])) if removed else None,
        "mean_conf_after": float(np.mean([r["conf_after"] for r in removed])) if removed else None,
        "removal_conf": removal_conf,
        "min_inside": min_inside,
        "per_image": per_image,
        "failures": failures,
    }


# ------------------------------------------------------------------------- against ground truth

#: Check detectors, in order of preference: the first one that made none of the masks checks.
CHECK_CANDIDATES = ("yolov8n-seg", "yolo11n-seg")


@dataclass
class GtPair:
    """An annotated original, its result (``None`` when the run has none) and its saved mask, if any."""

    rel: str  # the record's file_name
    image_id: int
    original: Path
    result: Path | None
    mask: Path | None


def match_records(records: list[Any], results: Path, masks: Path | None = None) -> list[GtPair]:
    """Each COCO record's result under ``results`` (same relative path, any image suffix) and mask."""
    from remove_people.pipeline.formats import IMAGE_SUFFIXES

    out = []
    mask_root = masks or results
    for r in records:
        stem_rel = Path(r.file_name).with_suffix("")
        suffixes = (".png", Path(r.file_name).suffix, *IMAGE_SUFFIXES)
        found = next((results / f"{stem_rel}{s}" for s in suffixes if (results / f"{stem_rel}{s}").is_file()), None)
        mask = mask_root / f"{stem_rel}.mask.png"
        out.append(GtPair(r.file_name, r.id, r.path, found, mask if mask.is_file() else None))
    return out


def choose_check_weights(mask_weights: list[str], configured: str | None = None) -> tuple[str, bool]:
    """The check detector's weights, and whether the same weights also made the masks.

    Why another model: a detector asked about its own results cannot see whom it missed.
    ``configured`` (a name or a path) wins; else the first of ``CHECK_CANDIDATES`` whose
    file differs from every mask-making one; else (an ensemble of every model we have) the
    last candidate, flagged, and the ground-truth figures are the measure to trust.
    """
    from remove_people.models.hashing import sha256_file
    from remove_people.models.resolve import resolve_weights

    made = {sha256_file(resolve_weights(w)) for w in mask_weights}
    if configured and configured != "auto":
        return configured, sha256_file(resolve_weights(configured)) in made
    for name in CHECK_CANDIDATES:
        if sha256_file(resolve_weights(name)) not in made:
            return name, False
    return CHECK_CANDIDATES[-1], True


def lossy_reason(path: Path) -> str | None:
    """Why a result cannot be scored by changed pixels (a lossy format), or ``None`` when it can."""
    from remove_people.pipeline.image_reader import read_image

    loaded = read_image(path)
    if loaded.format == "JPEG" or (loaded.format == "WEBP" and loaded.webp_lossless is False):
        return f"{path}: a lossy {loaded.format} result changes every pixel; score lossless results (run --format png) or pass --from-masks"
    return None


def evaluate_removal_gt(
    pairs: list[GtPair],
    coco: Any,
    check_detector: Any,
    check_conf: float,
    from_masks: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], Any]:
    """Score every pair against its COCO persons (``removal_score``); returns (JSON-able figures, the tally).

    Repainted = changed pixels (``from_masks``: the saved mask). Where a mask was saved, the
    pixels it covers that kept their value and the changed pixels outside it are counted too:
    they say whether "repainted = the refined mask" holds for this run.
    """
    from remove_people.evaluation.data import load_rgb
    from remove_people.evaluation.removal_score import RemovalTally, coco_ground_truth, repainted_pixels, residual_conf, score_image
    from remove_people.pipeline.mask_reader import read_mask

    tally = RemovalTally()
    failures: list[str] = []
    mask_check = {"images": 0, "unchanged_inside_mask": 0, "changed_outside_mask": 0, "mask_pixels": 0}
    for n, pair in enumerate(pairs):
        try:
            if pair.result is None:
                raise RemovePeopleError(f"{pair.original}: no result for it (looked for {Path(pair.rel).with_suffix('')}.*)")
            original, result = load_rgb(pair.original), load_rgb(pair.result)
            if original.shape != result.shape:
                raise RemovePeopleError(f"{pair.result}: size differs from {pair.original}; not a result of it")
            shape = original.shape[:2]
            info = coco.imgs[pair.image_id]
            if (info.get("height"), info.get("width")) != shape:
                raise RemovePeopleError(f"{pair.original}: image is {shape[1]}x{shape[0]} but its annotation says {info.get('width')}x{info.get('height')}")
            mask = read_mask(pair.mask, shape) > 0 if pair.mask is not None else None
            if from_masks:
                if mask is None:
                    raise RemovePeopleError(f"{pair.original}: --from-masks, but no {Path(pair.rel).with_suffix('')}.mask.png was saved")
                repainted = mask
            else:
                why = lossy_reason(pair.result)
                if why:
                    raise RemovePeopleError(why)
                repainted = repainted_pixels(original, result)
                if mask is not None:
                    mask_check["images"] += 1
                    mask_check["mask_pixels"] += int(mask.sum())
                    mask_check["unchanged_inside_mask"] += int((mask & ~repainted).sum())
                    mask_check["changed_outside_mask"] += int((repainted & ~mask).sum())
            gt = coco_ground_truth(coco, pair.image_id, shape)
        except (RemovePeopleError, ValueError) as err:
            failures.append(str(err))
            continue
        score = score_image(repainted, gt)
        found = [i for i in check_detector.detect([Frame(result, pair.result, pair.rel)])[0] if i.score >= check_conf]
        score.residual_conf = residual_conf(found, repainted, gt)
        score.residual = score.residual_conf > 0
        tally.add(pair.rel, score)
        if on_progress:
            on_progress(n + 1, len(pairs))
    out = tally.summary()
    out["per_image"] = {k: s.to_dict() for k, s in tally.images.items()}
    out["mask_check"] = mask_check if mask_check["images"] else None
    out["failures"] = failures
    return out, tally


def gt_panels(pair: GtPair, coco: Any, check_detector: Any, check_conf: float, from_masks: bool) -> list[tuple[str, np.ndarray]]:
    """Report pictures of one scored photo: what was there, what was repainted, the result, what is left."""
    from remove_people.evaluation.data import load_rgb
    from remove_people.evaluation.removal_score import RESIDUAL_INSIDE, coco_ground_truth, repainted_pixels
    from remove_people.evaluation.report import overlay
    from remove_people.pipeline.mask_reader import read_mask

    assert pair.result is not None
    original, result = load_rgb(pair.original), load_rgb(pair.result)
    shape = original.shape[:2]
    repainted = read_mask(pair.mask, shape) > 0 if from_masks and pair.mask is not None else repainted_pixels(original, result)
    gt = coco_ground_truth(coco, pair.image_id, shape)
    persons = gt.union(shape)
    left = overlay(result, persons & ~repainted, (255, 220, 0))
    where = repainted | persons
    for inst in check_detector.detect([Frame(result, pair.result, pair.rel)])[0]:
        if inst.is_person and inst.score >= check_conf and (inst.mask & where).sum() >= RESIDUAL_INSIDE * inst.area:
            left = overlay(left, inst.mask, (255, 0, 255))
    return [
        ("original, ground-truth persons", overlay(original, persons, (0, 160, 255))),
        ("repainted", overlay(original, repainted)),
        ("result", result),
        ("left: person pixels not repainted (yellow), persons found (magenta)", left),
    ]
