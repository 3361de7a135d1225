"""``remove-people eval removal``: are the persons gone? Against COCO ground truth, else reference-free."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from remove_people.commands import options as O
from remove_people.commands.eval_common import console, no_match, print_table, select_subset, write_json
from remove_people.errors import UsageError


def removal_cmd(
    originals: Optional[Path] = typer.Argument(None, help="The folder (or image) that was given to `remove-people run` (default with annotations: the images/ folder beside them)."),
    results: Optional[Path] = typer.Argument(None, help="The run's --out folder. Omitted (with annotations): a fresh run with the current settings, lossless PNG, is made and scored."),
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="COCO instances JSON: score against its persons (default: the shared coco-person annotations when ORIGINALS is their images/ folder or is omitted)."),
    split: Optional[str] = typer.Option(None, "--split", help="With annotations: only records whose coco_split is this (default for the shared set: eval.detect_split = val2017; 'all' for every record)."),
    image_ids: Optional[str] = typer.Option(None, "--image-ids", help="With annotations: only these comma-separated image ids."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="With annotations: at most N images (the first N by id)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Fresh run: keep its results here (default: a temporary folder, removed afterwards)."),
    from_masks: bool = typer.Option(False, "--from-masks", help="With annotations: the repainted region is the saved NAME.mask.png, not the changed pixels (for lossy results)."),
    check_weights: Optional[str] = typer.Option(None, "--check-weights", help="With annotations: the check detector for residual persons (default: eval.check_weights, auto = a YOLO that made none of the masks)."),
    worst: int = typer.Option(10, "--worst", min=0, help="With annotations: list (and picture, with --report) the N worst photos."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="Folder of NAME.mask.png (default: beside the results, as --save-masks writes them; recomputed where missing)."),
    removal_conf: Optional[float] = typer.Option(None, "--conf", min=0.0, max=1.0, help="A person at least this confident counts as still there (default: eval.check_conf = 0.25 with annotations, else eval.removal_conf = 0.5)."),
    min_inside: float = typer.Option(0.5, "--min-inside", min=0.0, max=1.0, help="Share of a detected person's mask that must lie in the removed region."),
    detector_weights: O.DetectorWeights = None,
    json_out: O.JsonFile = None,
    report: O.ReportDir = None,
    config: O.ConfigFiles = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: O.Overrides = [],  # noqa: B006
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
) -> None:
    """Are the persons gone? Against COCO ground truth (persons removed, pixel coverage, extra area, residual), else reference-free (residual persons)."""
    from remove_people.evaluation import data

    cfg = O.build_config(config, set_, model_dir=model_dir, offline=offline)
    ev = cfg.data["eval"]
    if detector_weights:
        cfg.data["detect"]["yolo"]["weights"] = detector_weights
    if annotations is None:
        try:
            default_images = data.coco_person_dir(ev["shared"]) / "images"
        except UsageError:
            default_images = None
        if originals is None or (default_images is not None and originals.resolve() == default_images.resolve()):
            if default_images is None:
                raise UsageError("give ORIGINALS and RESULTS, or --annotations FILE (the shared coco-person set was not found)")
            annotations = default_images.parent / "annotations" / "instances.json"
            split = split if split is not None else ev["detect_split"]
    if annotations is not None:
        _removal_against_gt(cfg, annotations, originals, results, split, image_ids, limit, out, from_masks, check_weights,
                            worst, masks, removal_conf, json_out, report)  # fmt: skip
        return
    if results is None or originals is None:
        raise UsageError("give ORIGINALS and RESULTS (a run's input and --out folders), or --annotations FILE to score against ground truth")
    if any(v is not None for v in (split, image_ids, limit, out, check_weights)) or from_masks:
        raise UsageError("--split, --image-ids, --limit, --out, --from-masks and --check-weights go with --annotations")
    _removal_reference_free(cfg, originals, results, masks, removal_conf, min_inside, json_out, report)


def _removal_against_gt(
    cfg: Any, annotations: Path, originals: Optional[Path], results: Optional[Path], split: Optional[str], image_ids: Optional[str],
    limit: Optional[int], out: Optional[Path], from_masks: bool, check_weights: Optional[str], worst: int, masks: Optional[Path],
    check_conf: Optional[float], json_out: Optional[Path], report: Optional[Path],
) -> None:  # fmt: skip
    """``eval removal --annotations``: the removal score of ``evaluation/removal_score.py``, on a run's results or a fresh run."""
    import shutil
    import tempfile

    from remove_people.config import build_stage
    from remove_people.evaluation.removal import choose_check_weights, evaluate_removal_gt, gt_panels, match_records
    from remove_people.stages.detect.yolo import weights_list

    ev = cfg.data["eval"]
    images = originals if originals is not None else annotations.parent.parent / "images"
    if not images.is_dir():
        raise UsageError(f"{images}: not a folder; give ORIGINALS, the folder the file_name values of {annotations.name} are relative to")
    subset = select_subset(annotations, images, image_ids, limit, split)
    missing = subset.missing()
    for m in missing:
        console.print(f"failed: {m.path}: image id {m.id} is in {annotations.name} but missing on disk; skipped", markup=False)
    records = [r for r in subset.records if r not in missing]
    if not records:
        raise no_match(annotations, split, image_ids, limit)
    mask_weights = weights_list(cfg.data["detect"]["yolo"]["weights"]) if cfg.plugin_name("detect") == "yolo" else []
    check_name, check_made_masks = choose_check_weights(mask_weights, check_weights or ev.get("check_weights") or None)
    conf = float(ev["check_conf"] if check_conf is None else check_conf)

    fresh = results is None
    if not fresh and out is not None:
        raise UsageError("--out is where a fresh run writes; with RESULTS given nothing is run: drop one of them")
    scratch: Optional[Path] = None
    run_summary: dict[str, Any] | None = None
    if fresh:
        results = out or Path(tempfile.mkdtemp(prefix="rp-eval-removal-"))
        scratch = None if out else results
        run_summary = _fresh_run(cfg, records, images, results)
    elif not results.is_dir():
        raise UsageError(f"{results}: not a folder; give the --out folder of a run")
    assert results is not None
    check = build_stage("detect", "yolo", config=cfg, weights=check_name, conf=conf, flip=False, classes=[0])
    try:
        pairs = match_records(records, results, masks)
        unmatched = [p for p in pairs if p.result is None]
        pairs = [p for p in pairs if p.result is not None]
        if unmatched:
            console.print(f"{len(unmatched)} annotated image(s) have no result in {results}; not part of that run, skipped", markup=False)
        if not pairs:
            raise UsageError(f"{results}: no results matching the annotated images of {images} (split={split}, ids={image_ids})")

        def on_progress(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:
                console.print(f"[{done}/{total}] scored", markup=False)

        result, tally = evaluate_removal_gt(pairs, subset.coco, check, conf, from_masks=from_masks, on_progress=on_progress)
        worst_names = tally.worst(worst)
        by_name = {p.rel: p for p in pairs}
        rep = None
        if report is not None:
            from remove_people.evaluation.report import HtmlReport

            rep = HtmlReport(report, "remove-people eval removal (against ground truth)", int(ev["thumb_side"]))
            for name in worst_names:
                s = tally.images[name]
                cap = (f"{'PERSON LEFT (conf %.2f); ' % s.residual_conf if s.residual else ''}{s.missed} of {len(s.counted)} persons "
                       f"over 1 % not removed; pixel coverage {s.coverage if s.coverage is not None else float('nan'):.3f}; "
                       f"extra {s.extra_pixels} px")  # fmt: skip
                rep.add_case(name, cap, gt_panels(by_name[name], subset.coco, check, conf, from_masks))
    finally:
        check.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    result["worst"] = [{"image": n, **tally.images[n].to_dict()} for n in worst_names]
    result["unscored"] = len(subset.problems) + len(missing)
    result["unmatched"] = [p.rel for p in unmatched]
    settings = {
        "annotations": str(annotations), "images": str(images), "split": split, "image_ids": image_ids, "limit": limit,
        "results": "fresh run" if fresh else str(results), "repainted": "saved masks" if from_masks else "changed pixels",
        "check_detector": {"weights": check_name, "conf": conf, "also_made_the_masks": check_made_masks},
        "detect": build_stage("detect", config=cfg).identity() if fresh else None,
    }  # fmt: skip
    result["settings"] = settings
    if run_summary is not None:
        result["run"] = run_summary
    header, rows = _gt_rows(result, conf, check_name, check_made_masks)
    print_table(f"removal against ground truth ({result['images']} images, {result['persons_counted']} persons over 1 % of the frame)", header, rows)
    if result["mask_check"]:
        mc = result["mask_check"]
        console.print(f"saved masks vs changed pixels: {mc['unchanged_inside_mask']} of {mc['mask_pixels']} mask pixels kept their value, "
                      f"{mc['changed_outside_mask']} pixels changed outside the masks", markup=False)  # fmt: skip
    for w in result["worst"]:
        console.print(f"worst: {w['image']}: {'person left; ' if w['residual'] else ''}{w['persons_missed']} of {w['persons_counted']} persons "
                      f"not removed, pixel coverage {w['pixel_coverage']}, extra {w['extra_pixels']} px", markup=False)  # fmt: skip
    for line in result["failures"]:
        console.print(f"failed: {line}", markup=False)
    write_json(json_out, result)
    if rep is not None:
        rep.add_table("Removal against ground truth", header, rows, _GT_NOTE)
        console.print(f"report: {rep.write(settings, result)}")
    if result["failures"] or result["unscored"] or (run_summary is not None and run_summary.get("failed")):
        raise typer.Exit(1)


_GT_NOTE = (
    "persons removed: share of the ground-truth persons covering at least 1 % of the frame with at least 95 % of their "
    "pixels repainted (bands by share of the frame: small 1-5 %, medium 5-20 %, large 20 % and more); pixel coverage: "
    "repainted person pixels / all person pixels; extra area: repainted pixels farther than 15 px from every person and "
    "every object a person holds (COCO objects of the accessory classes touching a person), per person pixel; residual: "
    "photos where the check detector finds a person at least half inside the repainted region or on a ground-truth "
    "person; held objects removed: at least 95 % repainted; objects nobody holds removed: at least half repainted. "
    "Repainted = pixels that differ from the original."
)


def _gt_rows(result: dict[str, Any], conf: float, check_name: str, check_made_masks: bool) -> tuple[list[str], list[list[str]]]:
    def fmt(v: Any, digits: int = 3) -> str:
        return "n/a" if v is None else f"{v:.{digits}f}"

    rows = [["persons removed ↑", f"{fmt(result['persons_removed'])} ({result['persons_removed_count']} of {result['persons_counted']})"]]
    for band, b in result["by_size"].items():
        lo, hi = b["frame_share"]
        rows.append([f"  {band} ({lo:.0%}–{hi:.0%} of the frame)", f"{fmt(b['share'])} ({b['removed']} of {b['persons']})"])
    rows += [
        ["pixel coverage ↑", fmt(result["pixel_coverage"], 4)],
        ["extra area ↓", fmt(result["extra_area"])],
        ["  counting held objects as waste", fmt(result["extra_area_persons_only"])],
        [f"residual ↓ (check: {check_name}{', which also made the masks' if check_made_masks else ''}, conf ≥ {conf})",
         f"{fmt(result['residual'])} ({result['residual_images']} of {result['residual_checked']} photos)"],
        ["held objects removed ↑", f"{fmt(result['held_objects_removed'])} ({result['held_objects_removed_count']} of {result['held_objects']})"],
        ["objects nobody holds removed ↓", f"{fmt(result['free_objects_removed'])} ({result['free_objects_removed_count']} of {result['free_objects']})"],
    ]  # fmt: skip
    return ["figure", "value"], rows


def _fresh_run(cfg: Any, records: list[Any], images: Path, out: Path) -> dict[str, Any]:
    """Run the pipeline with ``cfg`` over ``records`` into ``out``, lossless (PNG) with masks saved; its summary."""
    from remove_people.commands.coco import _run_pipeline
    from remove_people.pipeline.inputs import InputItem, InputSet
    from remove_people.pipeline.output_plan import plan_for_config

    cfg.run["format"] = "png"
    cfg.run["save_masks"] = True
    inputs = InputSet([InputItem(r.path, r.file_name) for r in records], images, [])
    inputs = plan_for_config(inputs, out, cfg).inputs  # every output path checked before any work
    console.print(f"fresh run of {len(records)} images into {out} (PNG, masks saved)", markup=False)
    summary, _ = _run_pipeline(cfg, inputs, out, console, record=False)
    d = summary.to_dict()
    n = max(1, len(records))
    d["detect_seconds_per_image"] = d.get("stage_seconds", {}).get("detect", 0.0) / n
    console.print(f"run: {d.get('wall_seconds', 0):.1f} s, detect {d['detect_seconds_per_image']:.2f} s per image", markup=False)
    return d


def _removal_reference_free(
    cfg: Any, originals: Path, results: Path, masks: Optional[Path], removal_conf: Optional[float], min_inside: float,
    json_out: Optional[Path], report: Optional[Path],
) -> None:  # fmt: skip
    """``eval removal`` without annotations: the detector asked again, on originals and results."""
    from remove_people.config import build_stage
    from remove_people.evaluation.removal import LOW_CONF, evaluate_removal, match_pairs
    from remove_people.stages.select import Selector

    ev = cfg.data["eval"]
    conf = float(ev["removal_conf"] if removal_conf is None else removal_conf)
    if not results.is_dir():
        raise UsageError(f"{results}: not a folder; give the --out folder of a run")
    pairs, unmatched = match_pairs(originals, results, masks)
    problems: list[str] = []
    if unmatched:
        console.print(f"{len(unmatched)} image(s) of {originals} have no result in {results}; not part of that run, skipped", markup=False)
    if not pairs:
        raise UsageError(f"{results}: no results matching the images of {originals}")
    pipeline_conf = float(cfg.data["detect"]["yolo"]["conf"])
    det = build_stage("detect", "yolo", config=cfg, conf=min(LOW_CONF, pipeline_conf))
    refiner = build_stage("refine", config=cfg)
    selector = Selector.from_config(cfg)

    rep = None
    on_image = None
    if report is not None:
        from remove_people.evaluation.report import HtmlReport, overlay

        rep = HtmlReport(report, "remove-people eval removal", int(ev["thumb_side"]))

        def on_image(pair: Any, original: Any, result: Any, region: Any, rec: dict[str, Any]) -> None:
            verdict = "PERSON STILL THERE" if rec.get("residual") else ("clean" if "residual" in rec else "nothing removed")
            cap = f"{verdict}; conf in region before {rec.get('conf_before', 0):.2f}, after {rec.get('conf_after', 0):.2f}; mask {rec['mask']}"
            rep.add_case(pair.rel, cap, [("original", original), ("removed region", overlay(original, region)), ("result", result)])

    def on_progress(done: int, total: int) -> None:
        console.print(f"[{done}/{total}] detect", markup=False)

    try:
        out = evaluate_removal(pairs, det, refiner, selector, pipeline_conf, conf, min_inside, on_progress=on_progress, on_image=on_image)
    finally:
        det.close()
    out["failures"] = problems + out["failures"]
    out["unmatched_originals"] = unmatched
    settings = {"originals": str(originals), "results": str(results), "masks": str(masks) if masks else "beside results / recomputed",
                "removal_conf": conf, "min_inside": min_inside, "detector": det.identity(), "refine": refiner.identity()}
    out["settings"] = settings

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    header = ["figure", "value"]
    rows = [
        ["images", str(out["images"])],
        ["images with a removed region", str(out["images_with_removed_region"])],
        [f"share with a person (conf ≥ {conf}) still in the region ↓", fmt(out["residual_share"])],
        ["mean person confidence in the region, before", fmt(out["mean_conf_before"])],
        ["mean person confidence in the region, after ↓", fmt(out["mean_conf_after"])],
    ]
    print_table("residual persons after removal", header, rows)
    for name in out["residual_images"]:
        console.print(f"residual: {name}", markup=False)
    for line in out["failures"][len(problems):]:
        console.print(f"failed: {line}", markup=False)
    write_json(json_out, out)
    if rep is not None:
        rep.add_table("Residual persons", header, rows,
                      f"a person counts when a detection of confidence ≥ {conf} has ≥ {min_inside:.0%} of its mask in the removed region")
        console.print(f"report: {rep.write(settings, out)}")
    if out["failures"]:
        raise typer.Exit(1)
