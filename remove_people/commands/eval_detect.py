"""``remove-people eval detect``: person mask and box AP against COCO, and the masks' coverage and extra area."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from remove_people.commands import options as O
from remove_people.commands.eval_common import console, no_match, print_table, select_subset, write_json
from remove_people.errors import UsageError


def detect_cmd(
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="COCO instances JSON (default: shared coco-person)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder of the COCO images (default: beside the default annotations)."),
    split: Optional[str] = typer.Option(None, "--split", help="Keep records whose coco_split is this (default: eval.detect_split = val2017; 'all' for every record)."),
    image_ids: Optional[str] = typer.Option(None, "--image-ids", help="Comma-separated image ids."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most N images (the first N by id, or a random N with --seed)."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Draw --limit images at random with this seed."),
    detector: str = typer.Option("yolo", "--detector", help="yolo, or masks (the annotations' own person masks: a check of the evaluation itself)."),
    detector_weights: O.DetectorWeights = None,
    conf: Optional[float] = typer.Option(None, "--conf", min=0.0, max=1.0, help="Detector threshold for AP (default: eval.detect_conf = 0.001)."),
    max_det: Optional[int] = typer.Option(None, "--max-det", min=1, max=10000, help="Detections per image for AP (default: eval.detect_max_det = 100)."),
    results_out: Optional[Path] = typer.Option(None, "--results", help="Also write the detections as a COCO results JSON (RLE masks, scores)."),
    json_out: O.JsonFile = None,
    report: O.ReportDir = None,
    config: O.ConfigFiles = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: O.Overrides = [],  # noqa: B006
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
) -> None:
    """Person mask AP / AP50 and box AP (pycocotools), plus coverage and extra area of raw and refined masks."""
    from remove_people.config import build_stage
    from remove_people.evaluation import data
    from remove_people.evaluation.detect_metrics import evaluate_detection
    from remove_people.stages.select import Selector

    cfg = O.build_config(config, set_, model_dir=model_dir, offline=offline)
    ev = cfg.data["eval"]
    if annotations is None:
        annotations = data.coco_person_dir(ev["shared"]) / "annotations" / "instances.json"
    if images is None:
        images = annotations.parent.parent / "images"
    split = split if split is not None else ev["detect_split"]
    subset = select_subset(annotations, images, image_ids, limit, split, seed=seed)
    if not subset.records:
        raise no_match(annotations, split, image_ids, limit)
    operating_conf = float(cfg.data["detect"]["yolo"]["conf"])
    ap_conf = float(ev["detect_conf"] if conf is None else conf)
    if detector == "yolo":
        if detector_weights:
            cfg.data["detect"]["yolo"]["weights"] = detector_weights
        # Persons only: the accessory classes the default also returns would take slots of max_det.
        det = build_stage("detect", "yolo", config=cfg, conf=ap_conf, max_det=int(ev["detect_max_det"] if max_det is None else max_det), classes=[0])
    elif detector == "masks":
        det = build_stage("detect", "masks", config=cfg, path=str(annotations))
        operating_conf = 0.0
    else:
        raise UsageError(f"--detector {detector}: valid: yolo, masks")
    refiner = build_stage("refine", config=cfg)
    selector = Selector.from_config(cfg)

    rep = None
    on_image = None
    if report is not None:
        from remove_people.evaluation.report import HtmlReport, overlay

        rep = HtmlReport(report, "remove-people eval detect", int(ev["thumb_side"]))

        def on_image(rec: Any, rgb: Any, gt: Any, raw: Any, refined: Any) -> None:
            import numpy as np

            miss = gt & ~refined
            panels = [("original", rgb), ("ground truth", overlay(rgb, gt, (0, 160, 255))), ("raw mask", overlay(rgb, raw)),
                      ("refined mask", overlay(rgb, refined)), ("missed person pixels", overlay(rgb, miss, (255, 220, 0)))]
            rep.add_case(rec.file_name, f"id {rec.id}, {rec.persons} person annotation(s); missed {int(np.sum(miss))} px", panels)

    def on_progress(done: int, total: int) -> None:
        console.print(f"[{done}/{total}] detect", markup=False)

    try:
        out = evaluate_detection(subset, det, refiner, selector, operating_conf, on_progress=on_progress, on_image=on_image)
    finally:
        det.close()
    settings = {
        "annotations": str(annotations), "images": str(images), "split": split, "image_ids": image_ids, "limit": limit, "seed": seed,
        "detector": det.identity(), "ap_conf": ap_conf if detector == "yolo" else None, "operating_conf": operating_conf,
        "refine": refiner.identity(), "select": selector.identity(),
    }
    results = out.pop("results")
    out["settings"] = settings
    ap, masks = out["ap"], out["masks"]
    header = ["figure", "value"]
    rows = [
        ["person mask AP", f"{ap['mask_ap']:.3f}"], ["person mask AP50", f"{ap['mask_ap50']:.3f}"],
        ["person box AP", f"{ap['box_ap']:.3f}"], ["person box AP50", f"{ap['box_ap50']:.3f}"],
    ]
    cov_header = ["mask", "coverage of person pixels ↑", "extra area / person area ↓", "background filled ↓"]
    cov_rows = [[k, f"{v['coverage']:.4f}", f"{v['extra']:.4f}", f"{v['background_filled']:.4f}"] for k, v in masks.items()]
    print_table(f"detection on {out['images']} images (AP at conf ≥ {ap_conf})", header, rows)
    print_table(f"masks at the operating threshold (conf ≥ {operating_conf})", cov_header, cov_rows)
    for line in out["failures"]:
        console.print(f"failed: {line}", markup=False)
    write_json(json_out, out)
    if results_out is not None:
        write_json(results_out, results)  # type: ignore[arg-type]
    if rep is not None:
        rep.add_table("Detection (pycocotools, person only)", header, rows, f"{out['images']} images; AP at conf ≥ {ap_conf}")
        rep.add_table("Masks vs ground-truth persons", cov_header, cov_rows,
                      "coverage: share of ground-truth person pixels inside the mask; extra: mask pixels outside every person, "
                      "relative to the person area; background filled: the same, relative to the non-person area")
        console.print(f"report: {rep.write(settings, out)}")
    if out["failures"] or subset.problems:
        raise typer.Exit(1)
