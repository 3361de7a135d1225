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
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from remove_people.commands import options as O
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
    annotations: Annotated[Path, typer.Option("--annotations", "-a", metavar="FILE", help="COCO instances JSON.", show_default=False)],
    images: Annotated[Path, typer.Option("--images", metavar="DIR", help="Folder the records' file_name values are relative to.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Output folder (never inside --images); mirrors the file names.", show_default=False)],
    image_ids: Annotated[Optional[str], typer.Option("--image-ids", metavar="ID,ID,...", help="Comma-separated image ids.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, metavar="N", help="At most N images (the first N by id, or a random N with --seed).")] = None,
    persons: Annotated[Optional[bool], typer.Option("--with-persons/--without-persons", help="Only images with (or without) person annotations.")] = None,
    min_person_area: Annotated[float, typer.Option("--min-person-area", min=0.0, max=1.0, metavar="FRACTION", help="Only images with a (non-crowd) person covering at least this fraction of the frame.")] = 0.0,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, metavar="N", help="With --limit: a random sample drawn with this seed.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", metavar="NAME", help="Only records whose coco_split is this (e.g. val2017).")] = None,
    masks: O.Masks = None,
    write: Annotated[str, typer.Option("--write", metavar="WHAT", help="images (results), json (detections.json, COCO results with RLE masks), or both.")] = "images",
    inpainter: O.Inpainter = None,
    detector_weights: O.DetectorWeights = None,
    config: O.ConfigFiles = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: O.Overrides = [],  # noqa: B006
    cache_dir: O.CacheDir = None,
    no_cache: O.NoCache = False,
    save_masks: O.SaveMasks = False,
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
    quiet: O.Quiet = False,
) -> None:
    """Remove the people from a chosen subset of a COCO dataset (results as images, a COCO results JSON, or both).

    Exit codes: 0 all done, 1 some images failed, were missing or had refused names, 2 usage error (nothing ran).
    """
    from remove_people.config import build_stage
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
    cfg = O.build_config(
        config, set_,
        plugins=O.pipeline_plugins(masks=masks, inpainter=inpainter),
        flags=O.pipeline_flags(masks=masks, detector_weights=detector_weights, cache_dir=cache_dir, no_cache=no_cache, save_masks=save_masks),
        model_dir=model_dir, offline=offline, quiet=quiet,
    )  # fmt: skip
    console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)  # soft_wrap: one line per message
    err = Console(stderr=True, highlight=False, soft_wrap=True)

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
            summary.render(console, resumable=bool(cfg.run.get("cache")))
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
