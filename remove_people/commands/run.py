"""``remove-people run``: remove the people from photos and write the results.

Why its own module: ``cli.py`` only assembles the commands and turns errors into exit
codes; the options shared with ``coco`` and the rest come from ``commands/options.py``,
so this file holds what is particular to ``run``: its flags, and the progress display.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from remove_people.commands import options as O
from remove_people.errors import UsageError


def run(
    input: Annotated[str, typer.Argument(metavar="INPUT", help="An image, a folder (recursive), a glob in quotes ('shots/**/*.jpg'), or a .txt file listing paths.", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", metavar="DIR", help="Output folder; mirrors the input tree. Default: INPUT-no-people beside the input (one photo: PHOTO-no-people.jpg beside it). Never inside the input.")] = None,
    detector: Annotated[Optional[str], typer.Option("--detector", metavar="NAME", help="Detector plugin (yolo, masks, …; see `remove-people plugins`).")] = None,
    refiner: Annotated[Optional[str], typer.Option("--refiner", metavar="NAME", help="Refiner plugin (morphology, none).")] = None,
    inpainter: O.Inpainter = None,
    masks: O.Masks = None,
    invert_masks: Annotated[bool, typer.Option("--invert-masks", help="The --masks images mark holes black.")] = False,
    detector_weights: O.DetectorWeights = None,
    config: O.ConfigFiles = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: O.Overrides = [],  # noqa: B006
    keep: Annotated[Optional[str], typer.Option("--keep", metavar="WHO", help="Keep some persons: largest, center, or N (the N largest).")] = None,
    keep_mask: Annotated[Optional[Path], typer.Option("--keep-mask", metavar="FILE", help="Keep anyone overlapping the white pixels of this mask image.")] = None,
    min_person_area: Annotated[Optional[float], typer.Option("--min-person-area", metavar="FRACTION", help="Remove only persons covering at least this fraction of the frame (0-1).")] = None,
    max_person_area: Annotated[Optional[float], typer.Option("--max-person-area", metavar="FRACTION", help="Remove only persons covering at most this fraction of the frame (0-1).")] = None,
    min_conf: Annotated[Optional[float], typer.Option("--min-conf", metavar="CONF", help="Remove only persons detected at least this confidently (0-1).")] = None,
    shadows: Annotated[Optional[bool], typer.Option("--shadows/--no-shadows", help="Also remove each removed person's attached cast shadow (morphology refiner). Default: off.")] = None,
    with_accessories: Annotated[Optional[bool], typer.Option("--with-accessories/--no-accessories", help="Also remove what a removed person holds or carries (bags, bats, gloves, phones, …; select.accessories).")] = None,
    feather: Annotated[Optional[int], typer.Option("--feather", metavar="PIXELS", help="Blend the fill into the hole's edge over N pixels, inside the hole only (0 = hard paste).")] = None,
    no_cache: O.NoCache = False,
    cache_dir: O.CacheDir = None,
    format: Annotated[Optional[str], typer.Option("--format", "-f", metavar="FORMAT", help="Output format: jpeg, png, webp, tiff, bmp. Default: the input's.")] = None,
    quality: Annotated[Optional[int], typer.Option("--quality", "-q", metavar="1-100", help="JPEG/WebP quality. Default: match the input.")] = None,
    skip_existing: Annotated[bool, typer.Option("--skip-existing", help="Leave outputs that already exist untouched.")] = False,
    save_masks: O.SaveMasks = False,
    compare: Annotated[bool, typer.Option("--compare", help="Also write NAME.compare.jpg: original | mask overlay | result.")] = False,
    max_pixels: Annotated[Optional[int], typer.Option("--max-pixels", metavar="N", help="Refuse images with more pixels than this (decompression-bomb guard; default 178956970).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", metavar="N", help="Images per batch.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", metavar="N", help="Inpainting worker processes beside detection (default run.inpaint_workers: auto = one per CPU core, none on a GPU; 0 = in this process).")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", metavar="I/N", help="Process only shard I of N, chosen by a stable hash of each relative path.")] = None,
    executor: Annotated[Optional[str], typer.Option("--executor", metavar="NAME", help="Where the stages run: local (this process, default) or ray (a Ray Data job; pip install 'remove-people[ray]'). See docs/scale-out.md.")] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", metavar="ADDRESS", help="With --executor ray: the cluster to join (auto = the one `ray start --head` started). Default: start a local Ray.")] = None,
    stage_concurrency: Annotated[list[str], typer.Option("--stage-concurrency", metavar="STAGE=N", help="With --executor ray: workers for a stage (load, detect, refine, inpaint, write). Repeatable.")] = [],  # noqa: B006
    stage_batch_size: Annotated[list[str], typer.Option("--stage-batch-size", metavar="STAGE=N", help="With --executor ray: images per batch for a stage. Repeatable.")] = [],  # noqa: B006
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
    quiet: O.Quiet = False,
    verbose: O.Verbose = False,
    json_out: O.JsonSummary = False,
) -> None:
    """Remove the people from INPUT and write the results under --out.

    Exit codes: 0 all done, 1 some inputs failed, 2 usage error (nothing ran), 130 interrupted.
    """
    from remove_people.pipeline.executors import apply_executor_options
    from remove_people.pipeline.inputs import collect_inputs, select_shard
    from remove_people.pipeline.output_plan import plan_for_config

    flags: list[O.Flag] = O.pipeline_flags(
        masks=masks, invert_masks=invert_masks, detector_weights=detector_weights,
        cache_dir=cache_dir, no_cache=no_cache, save_masks=save_masks,
    ) + [
        (f"--keep {keep}", "select.keep", keep),
        (f"--keep-mask {keep_mask}", "select.keep_mask", str(keep_mask) if keep_mask is not None else None),
        (f"--min-person-area {min_person_area}", "select.min_person_area", min_person_area),
        (f"--max-person-area {max_person_area}", "select.max_person_area", max_person_area),
        (f"--min-conf {min_conf}", "select.min_conf", min_conf),
        ("--with-accessories" if with_accessories else "--no-accessories", "select.with_accessories", with_accessories),
        ("--shadows" if shadows else "--no-shadows", "refine.morphology.shadows", shadows),
        (f"--feather {feather}", "inpaint.feather", feather),
        (f"--format {format}", "run.format", format),
        (f"--quality {quality}", "run.quality", quality),
        ("--skip-existing", "run.skip_existing", True if skip_existing else None),
        ("--compare", "run.compare", True if compare else None),
        (f"--max-pixels {max_pixels}", "run.max_pixels", max_pixels),
        (f"--batch-size {batch_size}", "run.batch_size", batch_size),
        (f"--workers {workers}", "run.inpaint_workers", workers),
    ]  # fmt: skip
    cfg = O.build_config(
        config, set_,
        plugins=O.pipeline_plugins(masks=masks, detector=detector, refiner=refiner, inpainter=inpainter),
        flags=flags, model_dir=model_dir, offline=offline, quiet=quiet,
    )  # fmt: skip
    if shadows and cfg.plugin_name("refine") != "morphology":
        raise UsageError(f"--shadows works with the morphology refiner, not {cfg.plugin_name('refine')!r}; drop --refiner or --shadows")
    _add_accessory_classes(cfg)
    apply_executor_options(cfg, executor, ray_address, stage_concurrency, stage_batch_size)
    # Every output path, checked, before any work, and before --shard so that every shard agrees on the names.
    plan = plan_for_config(collect_inputs(input), out, cfg)
    inputs = plan.inputs
    inputs.items = select_shard(inputs.items, shard)
    out_dir = plan.where
    if cfg.run.get("torch_threads"):
        import torch

        torch.set_num_threads(int(cfg.run["torch_threads"]))
    console = Console(stderr=True, quiet=quiet)
    summary = _run_with_progress(cfg, inputs, out_dir, console, quiet=quiet, verbose=verbose)
    if json_out:
        typer.echo(json.dumps(summary.to_dict(), indent=1))
    elif not quiet:
        summary.render(console, resumable=bool(cfg.run.get("cache")) or bool(cfg.run.get("skip_existing")))
        console.print(f"outputs: {out_dir}", markup=False)
    raise typer.Exit(summary.exit_code())


def _add_accessory_classes(cfg: Any) -> None:
    """With ``select.with_accessories`` the YOLO detector must also return the accessory classes."""
    sel = cfg.data["select"]
    if sel.get("with_accessories") and cfg.plugin_name("detect") == "yolo":
        from remove_people.stages.select import accessory_class_ids

        yolo = cfg.data["detect"]["yolo"]
        yolo["classes"] = sorted(set(yolo.get("classes") or [0]) | set(accessory_class_ids(sel.get("accessories") or [])))


def _run_with_progress(cfg: Any, inputs: Any, out_dir: Path, console: Console, quiet: bool, verbose: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.executors import make_executor

    err = O.err_console
    cache = ArtifactCache(cfg.run.get("cache_dir"), enabled=bool(cfg.run.get("cache", True)), warn=lambda m: err.print(m, markup=False))
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )
    task = progress.add_task("starting", total=len(inputs.items), rate="")

    def on_progress(done: int, total: int, stage: str) -> None:
        elapsed = progress.tasks[task].elapsed or 0.0
        rate = f"{done / elapsed:.2f} img/s" if elapsed > 0 and done else ""
        progress.update(task, completed=done, description=stage, rate=rate)

    def on_message(msg: str) -> None:
        if msg.startswith("failed") or msg.startswith("warning") or verbose:
            err.print(msg, markup=False, highlight=False)

    executor = make_executor(cfg)  # local (Pipeline.run) or ray: pipeline/executors.py
    progress.start()
    try:
        summary = executor.run(inputs, out_dir, cache, on_progress=on_progress, on_message=on_message)
    except BaseException:
        progress.live.transient = True  # a run that could not start leaves its one error line, not a bar
        raise
    finally:
        progress.stop()
    if verbose:
        for o in summary.outcomes:
            hole = f" hole={o.hole_fraction:.0%}" + (" (large: look at it)" if o.large_hole else "") if o.hole_fraction else ""
            err.print(f"{o.status:9s} {o.rel} persons={o.persons}{hole}", markup=False)
    return summary
