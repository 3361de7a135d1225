"""``eval removal``: a reference-free check on real photos: is anybody still there after removal?

Why reference-free: on a real photo nobody knows the true background, but the
detector can be asked again. For each removed region (the refined mask saved by
``run --save-masks``, or recomputed the way the pipeline would), persons are
detected on the original and on the result. A result "still has a person" when
a detection of confidence ≥ ``removal_conf`` (0.5) has at least ``min_inside``
(half) of its mask inside the removed region: a ghost, a leftover limb, or an
inpainter that painted a new figure. The mean over images of the highest person
confidence inside the region, before and after, shows how much was taken out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from remove_people.errors import RemovePeopleError
from remove_people.pipeline.inputs import InputItem, collect_inputs
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
    from remove_people.evaluation.inpaint_bench import IMAGE_SUFFIXES

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
    from remove_people.pipeline.imageio import read_mask

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
