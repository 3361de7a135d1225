"""``remove-people coco``: a chosen subset of a COCO dataset through the pipeline.

Why a command of its own: COCO users think in image ids and annotation files, not
folders. The subset is chosen from the annotation file (ids, persons or not,
person size, a seeded random sample), every ``file_name`` is checked to stay
inside ``--images`` (see ``evaluation.coco_subset``), and the chosen images go
through the ordinary ``Pipeline`` as an ``InputSet``, so caching, atomic writes
and per-image failures behave exactly as in ``remove-people run``. The detections
can also be written as a COCO results JSON (RLE masks, scores) for other tools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from remove_people.errors import UsageError

WRITE_CHOICES = ("images", "json", "both")


class _RecordingDetector:
    """Wraps the pipeline's detector and keeps each frame's instances, for the results JSON."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.seen: dict[str, list[Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def detect(self, frames: list[Any]) -> list[list[Any]]:
        found = self._inner.detect(frames)
        for f, inst in zip(frames, found):
            self.seen[f.rel] = inst
        return found


def _detect_missing(detector: Any, records: list[Any], console: Console) -> dict[str, list[Any]]:
    """Detections for images the pipeline did not detect anew (cache hits, or ``--write json``)."""
    from remove_people.errors import RemovePeopleError
    from remove_people.evaluation.data import load_rgb
    from remove_people.stages.detect.base import Frame

    out: dict[str, list[Any]] = {}
    for r in records:
        try:
            frame = Frame(load_rgb(r.path), r.path, r.file_name)
        except RemovePeopleError as err:
            console.print(f"failed: {err}", markup=False)
            continue
        out[r.file_name] = detector.detect([frame])[0]
    return out


def _run_pipeline(cfg: Any, inputs: Any, out: Path, console: Console, record: bool) -> tuple[Any, dict[str, list[Any]]]:
    """The ordinary pipeline over the subset; with ``record``, the detector's instances are kept too."""
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.runner import Pipeline

    def on_message(msg: str) -> None:
        if msg.startswith(("failed", "warning")):
            console.print(msg, markup=False)

    def on_progress(done: int, total: int, stage: str) -> None:
        if stage == "write" or stage == "done":
            console.print(f"[{done}/{total}] {stage}", markup=False)

    cache = ArtifactCache(cfg.run.get("cache_dir"), enabled=bool(cfg.run.get("cache", True)))
    pipeline = Pipeline(cfg, cache=cache, on_progress=on_progress, on_message=on_message)
    recorder = _RecordingDetector(pipeline.detector) if record else None
    if recorder is not None:
        pipeline.detector = recorder  # type: ignore[assignment]
    try:
        summary = pipeline.run(inputs, out)
    finally:
        pipeline.close()
    return summary, (dict(recorder.seen) if recorder else {})


def coco_command(
    annotations: Path = typer.Option(..., "--annotations", "-a", help="COCO instances JSON."),
    images: Path = typer.Option(..., "--images", help="Folder the records' file_name values are relative to."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (never inside --images); mirrors the file names."),
    image_ids: Optional[str] = typer.Option(None, "--image-ids", help="Comma-separated image ids."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most N images (the first N by id, or a random N with --seed)."),
    persons: Optional[bool] = typer.Option(None, "--with-persons/--without-persons", help="Only images with (or without) person annotations."),
    min_person_area: float = typer.Option(0.0, "--min-person-area", min=0.0, max=1.0, help="Only images with a (non-crowd) person covering at least this fraction of the frame."),
    seed: Optional[int] = typer.Option(None, "--seed", help="With --limit: a random sample drawn with this seed."),
    split: Optional[str] = typer.Option(None, "--split", help="Only records whose coco_split is this (e.g. val2017)."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="Use ground-truth person masks from this COCO JSON (usually the --annotations file) instead of YOLO."),
    write: str = typer.Option("images", "--write", help="images (results), json (detections.json, COCO results with RLE masks), or both."),
    inpainter: Optional[str] = typer.Option(None, "--inpainter", "-i", help="Inpainter plugin (patchmatch, telea, ns, deepfillv2, pconv)."),
    detector_weights: Optional[str] = typer.Option(None, "--detector-weights", help="YOLO weights: a model-table name or a .pt path."),
    config: list[Path] = typer.Option([], "--config", "-c", help="YAML file(s) overlaid on configs/default.yaml."),
    set_: list[str] = typer.Option([], "--set", "-s", help="Override a setting (refine.dilate=25, run.batch_size=4, ...). Repeatable."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Artifact cache folder."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the artifact cache."),
    save_masks: bool = typer.Option(False, "--save-masks", help="Also write each refined mask as NAME.mask.png."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="Folder of weight files (also REMOVE_PEOPLE_MODEL_DIR)."),
    offline: bool = typer.Option(False, "--offline", help="Never touch the network."),
    quiet: bool = typer.Option(False, "--quiet", help="Errors only."),
) -> None:
    """Remove the people from a chosen subset of a COCO dataset (results as images, a COCO results JSON, or both).

    Exit codes: 0 all done, 1 some images failed, were missing or had refused names, 2 usage error.
    """
    from remove_people.cli import _apply_model_env
    from remove_people.config import Config, build_stage
    from remove_people.evaluation.coco_subset import CocoSubset
    from remove_people.evaluation.detect_metrics import to_coco_results
    from remove_people.pipeline.atomic import atomic_write_bytes
    from remove_people.pipeline.inputs import InputItem, InputSet
    from remove_people.pipeline.output_plan import plan_for_config

    if write not in WRITE_CHOICES:
        raise UsageError(f"--write {write}: valid: {', '.join(WRITE_CHOICES)}")
    ids = None
    if image_ids:
        try:
            ids = [int(t) for t in image_ids.replace(" ", "").split(",") if t]
        except ValueError:
            raise UsageError(f"--image-ids {image_ids!r}: expected comma-separated integers, e.g. 139,785") from None
    _apply_model_env(model_dir, offline)
    console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)  # soft_wrap: one line per message
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    cfg = Config.load(config, set_)
    if masks is not None:
        cfg.select("detect", "masks")
        cfg.data["detect"]["masks"]["path"] = str(masks)
    cfg.select("inpaint", inpainter)
    if detector_weights:
        cfg.data["detect"]["yolo"]["weights"] = detector_weights
    r = cfg.run
    if cache_dir is not None:
        r["cache_dir"] = str(cache_dir)
    r["cache"] = r["cache"] and not no_cache
    r["save_masks"] = r["save_masks"] or save_masks

    subset = CocoSubset.load(annotations, images).select(
        image_ids=ids, limit=limit, with_persons=persons, min_person_area=min_person_area, seed=seed, split=split
    )
    problems = list(subset.problems)
    missing = subset.missing()
    problems += [f"{m.path}: image id {m.id} is in {annotations.name} but missing on disk; skipped" for m in missing]
    for line in problems:
        err.print(f"failed: {line}", markup=False)
    present = [rec for rec in subset.records if rec not in missing]
    if not present:
        raise UsageError(f"{annotations}: no image to process (selection empty, or every chosen image is missing/refused)")
    crowd = sum(rec.crowd_persons for rec in present)
    console.print(f"{len(present)} images selected from {annotations.name}" + (f" ({crowd} crowd person regions, RLE)" if crowd else ""))
    inputs = InputSet([InputItem(rec.path, rec.file_name) for rec in present], images, [])
    inputs = plan_for_config(inputs, out, cfg).inputs  # every output path checked before any work

    exit_code = 1 if problems else 0
    detections: dict[str, list[Any]] = {}
    if write in ("images", "both"):
        summary, detections = _run_pipeline(cfg, inputs, out, console, record=write == "both")
        if not quiet:
            summary.render(console)
        exit_code = max(exit_code, summary.exit_code())
    if write in ("json", "both"):
        todo = [rec for rec in present if rec.file_name not in detections]
        if todo:
            detector = build_stage("detect", config=cfg)
            try:
                detections.update(_detect_missing(detector, todo, err))
            finally:
                detector.close()
        results = []
        for rec in present:
            if rec.file_name in detections:
                results += to_coco_results(rec.id, detections[rec.file_name])
        target = out / "detections.json"
        atomic_write_bytes(target, json.dumps(results).encode("utf-8"))
        console.print(f"detections: {target} ({len(results)} person masks on {len(present)} images)")
    console.print(f"outputs: {out}")
    raise typer.Exit(exit_code)
