"""The ``remove-people`` command line.

Why typer: sub-commands, typed options and complete ``--help`` from one
function signature each. Every sub-command maps a ``UsageError`` to one line and
exit code 2, and the run's own failures to exit code 1.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from remove_people import __version__
from remove_people.errors import RemovePeopleError, UsageError

app = typer.Typer(
    name="remove-people",
    help="Remove people from photos: detect (YOLO-seg) → refine (morphology) → inpaint (PatchMatch, DeepFillv2, partial-conv, OpenCV).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="Inspect or clear the artifact cache (masks, refined masks, results).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

# soft_wrap: a message is one line however narrow the terminal (and in logs, where width is 80).
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"remove-people {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Remove people from photos, in batch, with every intermediate artifact cached."""


def _apply_model_env(model_dir: Optional[Path], offline: bool) -> None:
    if model_dir is not None:
        os.environ["REMOVE_PEOPLE_MODEL_DIR"] = str(model_dir)
    if offline:
        os.environ["REMOVE_PEOPLE_OFFLINE"] = "1"
        os.environ["YOLO_OFFLINE"] = "1"


@app.command()
def run(
    input: str = typer.Argument(..., help="An image, a folder (recursive), a glob in quotes ('shots/**/*.jpg'), or a .txt file listing paths."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder; mirrors the input tree. Default: INPUT-no-people beside the input (one photo: PHOTO-no-people.jpg beside it). Never inside the input."),
    detector: Optional[str] = typer.Option(None, "--detector", help="Detector plugin (yolo, masks, …; see `remove-people plugins`)."),
    refiner: Optional[str] = typer.Option(None, "--refiner", help="Refiner plugin (morphology, none)."),
    inpainter: Optional[str] = typer.Option(None, "--inpainter", "-i", help="Inpainter plugin (patchmatch, telea, ns, deepfillv2, pconv)."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="Use masks made elsewhere: a folder of mask images, one mask, or a COCO JSON. Selects the `masks` detector."),
    invert_masks: bool = typer.Option(False, "--invert-masks", help="The --masks images mark holes black."),
    detector_weights: Optional[str] = typer.Option(None, "--detector-weights", help="YOLO weights: a model-table name (yolo11n-seg) or a .pt path."),
    config: list[Path] = typer.Option([], "--config", "-c", help="YAML file(s) overlaid on configs/default.yaml."),
    set_: list[str] = typer.Option([], "--set", "-s", help="Override a setting: refine.dilate=25, inpaint.patch_size=3, run.batch_size=4. Repeatable."),
    keep: Optional[str] = typer.Option(None, "--keep", help="Keep some persons: largest, center, or N (the N largest)."),
    keep_mask: Optional[Path] = typer.Option(None, "--keep-mask", help="Keep anyone overlapping the white pixels of this mask image."),
    min_person_area: Optional[float] = typer.Option(None, "--min-person-area", help="Remove only persons covering at least this fraction of the frame."),
    max_person_area: Optional[float] = typer.Option(None, "--max-person-area", help="Remove only persons covering at most this fraction of the frame."),
    min_conf: Optional[float] = typer.Option(None, "--min-conf", help="Remove only persons detected at least this confidently."),
    shadows: Optional[bool] = typer.Option(None, "--shadows/--no-shadows", help="Also remove each removed person's attached cast shadow (morphology refiner). Default: off."),
    with_accessories: Optional[bool] = typer.Option(None, "--with-accessories/--no-accessories", help="Also remove what a removed person holds or carries (bags, bats, gloves, phones, …; select.accessories)."),
    feather: Optional[int] = typer.Option(None, "--feather", min=0, help="Blend the fill into the hole's edge over N pixels, inside the hole only (0 = hard paste)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the artifact cache."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Artifact cache folder (default: $REMOVE_PEOPLE_CACHE or ~/.cache/remove-people/artifacts)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Output format: jpeg, png, webp, tiff, bmp. Default: the input's."),
    quality: Optional[int] = typer.Option(None, "--quality", "-q", min=1, max=100, help="JPEG/WebP quality. Default: match the input."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Leave outputs that already exist untouched."),
    save_masks: bool = typer.Option(False, "--save-masks", help="Also write each refined mask as NAME.mask.png."),
    compare: bool = typer.Option(False, "--compare", help="Also write NAME.compare.jpg: original | mask overlay | result."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Refuse images with more pixels than this (decompression-bomb guard; default 178956970)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1, help="Images per batch."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=0, help="Inpainting worker processes beside detection (default run.inpaint_workers: auto = one per CPU core, none on a GPU; 0 = in this process)."),
    shard: Optional[str] = typer.Option(None, "--shard", help="Process only shard I of N (I/N), chosen by a stable hash of each relative path."),
    executor: Optional[str] = typer.Option(None, "--executor", help="Where the stages run: local (this process, default) or ray (a Ray Data job; pip install 'remove-people[ray]'). See docs/scale-out.md."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --executor ray: the cluster to join (auto = the one `ray start --head` started). Default: start a local Ray."),
    stage_concurrency: list[str] = typer.Option([], "--stage-concurrency", help="With --executor ray: workers for a stage, STAGE=N (load, detect, refine, inpaint, write). Repeatable."),
    stage_batch_size: list[str] = typer.Option([], "--stage-batch-size", help="With --executor ray: images per batch for a stage, STAGE=N. Repeatable."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="Folder of weight files (also REMOVE_PEOPLE_MODEL_DIR)."),
    offline: bool = typer.Option(False, "--offline", help="Never touch the network (also REMOVE_PEOPLE_OFFLINE=1)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar or table; errors only."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print each image's outcome."),
    json_out: bool = typer.Option(False, "--json", help="Print a machine-readable JSON summary on stdout."),
) -> None:
    """Remove the people from INPUT and write the results under --out.

    Exit codes: 0 all done, 1 some inputs failed, 2 usage error, 130 interrupted (re-run to resume).
    """
    from remove_people.config import Config
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.inputs import collect_inputs, select_shard
    from remove_people.pipeline.output_plan import plan_for_config

    _apply_model_env(model_dir, offline)
    cfg = Config.load(config, set_)
    if masks is not None:
        cfg.select("detect", "masks")
        cfg.data["detect"]["masks"]["path"] = str(masks)
        if invert_masks:
            cfg.data["detect"]["masks"]["invert"] = True
    cfg.select("detect", detector)
    cfg.select("refine", refiner)
    cfg.select("inpaint", inpainter)
    if detector_weights:
        cfg.data["detect"]["yolo"]["weights"] = detector_weights
    sel = cfg.data["select"]
    for key, value in (("keep", keep), ("min_person_area", min_person_area), ("max_person_area", max_person_area), ("min_conf", min_conf)):
        if value is not None:
            sel[key] = int(value) if key == "keep" and str(value).isdigit() else value
    if keep_mask is not None:
        sel["keep_mask"] = str(keep_mask)
    if with_accessories is not None:
        sel["with_accessories"] = with_accessories
    if sel.get("with_accessories") and cfg.plugin_name("detect") == "yolo":
        from remove_people.stages.select import accessory_class_ids

        yolo = cfg.data["detect"]["yolo"]  # the detector must also return the accessory classes
        yolo["classes"] = sorted(set(yolo.get("classes") or [0]) | set(accessory_class_ids(sel.get("accessories") or [])))
    if shadows is not None:
        if shadows and cfg.plugin_name("refine") != "morphology":
            raise UsageError(f"--shadows works with the morphology refiner, not {cfg.plugin_name('refine')!r}; drop --refiner or --shadows")
        cfg.data["refine"].setdefault("morphology", {})["shadows"] = shadows
    if feather is not None:
        cfg.data["inpaint"].setdefault(cfg.plugin_name("inpaint"), {})["feather"] = feather
    r = cfg.run
    for key, value in (("format", format), ("quality", quality), ("max_pixels", max_pixels), ("batch_size", batch_size), ("cache_dir", cache_dir), ("inpaint_workers", workers)):
        if value is not None:
            r[key] = str(value) if isinstance(value, Path) else value
    r["cache"] = r["cache"] and not no_cache
    r["skip_existing"] = r["skip_existing"] or skip_existing
    r["save_masks"] = r["save_masks"] or save_masks
    r["compare"] = r["compare"] or compare
    if r.get("torch_threads"):
        import torch

        torch.set_num_threads(int(r["torch_threads"]))

    from remove_people.pipeline.executors import apply_executor_options

    apply_executor_options(cfg, executor, ray_address, stage_concurrency, stage_batch_size)
    # Every output path, checked, before any work, and before --shard so that every shard agrees on the names.
    plan = plan_for_config(collect_inputs(input), out, cfg)
    inputs = plan.inputs
    inputs.items = select_shard(inputs.items, shard)
    out_dir = plan.where
    console = Console(stderr=True, quiet=quiet)
    summary = _run_with_progress(cfg, inputs, out_dir, console, quiet=quiet, verbose=verbose)
    if json_out:
        typer.echo(json.dumps(summary.to_dict(), indent=1))
    elif not quiet:
        summary.render(console)
        console.print(f"outputs: {out_dir}")
    raise typer.Exit(summary.exit_code())


def _run_with_progress(cfg: Any, inputs: Any, out_dir: Path, console: Console, quiet: bool, verbose: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.executors import make_executor

    cache = ArtifactCache(cfg.run.get("cache_dir"), enabled=bool(cfg.run.get("cache", True)), warn=lambda m: err_console.print(m))
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
            err_console.print(msg, markup=False, highlight=False)

    executor = make_executor(cfg)  # local (Pipeline.run) or ray: pipeline/executors.py
    with progress:
        summary = executor.run(inputs, out_dir, cache, on_progress=on_progress, on_message=on_message)
    if verbose:
        for o in summary.outcomes:
            hole = f" hole={o.hole_fraction:.0%}" + (" (large: look at it)" if o.large_hole else "") if o.hole_fraction else ""
            err_console.print(f"{o.status:9s} {o.rel} persons={o.persons}{hole}", markup=False)
    return summary


@app.command()
def plugins() -> None:
    """List the installed detector, refiner and inpainter plugins, with their parameters and defaults."""
    from rich.table import Table

    from remove_people.config import Config
    from remove_people.stages import REGISTRIES

    cfg = Config.load()
    console = Console()
    for stage, reg in REGISTRIES.items():
        t = Table(title=f"{stage} plugins ({reg.entry_point_group})", header_style="bold", show_lines=False)
        t.add_column("name")
        t.add_column("parameters (default)")
        t.add_column("what it is")
        for name in reg.names():
            try:
                cls = reg.get(name)
            except Exception as err:  # a broken third-party plugin should not hide the others
                t.add_row(name, "", f"[red]cannot load: {err}[/]")
                continue
            defaults = cfg.plugin_params(stage, name)
            params = ", ".join(
                f"{f.name}={defaults.get(f.name, f.default if f.default is not dataclasses.MISSING else '?')}"
                for f in dataclasses.fields(cls.Params)
            )
            mark = " (default)" if name == cfg.plugin_name(stage) else ""
            t.add_row(name + mark, params or "-", cls.summary)
        console.print(t)


@cache_app.command("info")
def cache_info(cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache folder (default: the user cache).")) -> None:
    """Show where the cache is, and its entries and size per stage."""
    from rich.table import Table

    from remove_people.pipeline.cache import ArtifactCache

    cache = ArtifactCache(cache_dir)
    t = Table(title=f"cache: {cache.root}", header_style="bold")
    t.add_column("stage")
    t.add_column("entries", justify="right")
    t.add_column("size", justify="right")
    for stage, rec in cache.info().items():
        t.add_row(stage, str(rec["entries"]), f"{rec['bytes'] / 1e6:.1f} MB")
    Console().print(t)


@cache_app.command("clear")
def cache_clear(
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache folder (default: the user cache)."),
    stage: list[str] = typer.Option([], "--stage", help="Clear only these stages (detect, refine, inpaint)."),
) -> None:
    """Delete cached artifacts (all stages, or those named with --stage)."""
    from remove_people.pipeline.cache import STAGES, ArtifactCache

    bad = [s for s in stage if s not in STAGES]
    if bad:
        raise UsageError(f"--stage {', '.join(bad)}: valid stages: {', '.join(STAGES)}")
    cache = ArtifactCache(cache_dir)
    done = cache.clear(tuple(stage) or STAGES)  # only what the cache wrote; a folder that is not a cache: exit 2
    typer.echo(f"removed {done.removed} entries from {cache.root}")
    if done.left:
        err_console.print(f"left {len(done.left)} item(s) the cache did not write, e.g. {done.left[0]}", markup=False)


def _mount_optional() -> None:
    """Sub-apps that live in their own modules (models, masks, train, eval, coco)."""
    import importlib

    for module, name, attr in (
        ("remove_people.commands.models", "models", "app"),
        ("remove_people.commands.masks", "masks", "app"),
        ("remove_people.commands.train", "train", "app"),
        ("remove_people.commands.evaluate", "eval", "app"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name == module:
                continue
            raise
        app.add_typer(getattr(mod, attr), name=name)
    try:
        from remove_people.commands.coco import coco_command
    except ModuleNotFoundError as err:
        if err.name != "remove_people.commands.coco":
            raise
    else:
        app.command("coco")(coco_command)


_mount_optional()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: user-facing errors become one line and exit code 2."""
    from remove_people.pipeline.interrupts import sigterm_as_interrupt

    try:
        # With standalone_mode=False click returns the code of typer.Exit instead of exiting.
        with sigterm_as_interrupt():  # SIGTERM stops a run like Ctrl-C: summary, exit 130
            rv = app(args=argv, standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except RemovePeopleError as err:
        err_console.print(f"error: {err}", markup=False, highlight=False)
        return 2 if isinstance(err, UsageError) else 1
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except SystemExit as e:
        return int(e.code or 0)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as err:  # click usage errors
        import click

        # typer >= 0.29 raises its vendored copy of click's exceptions, not click's own:
        # check both, or a mistyped option ends in a traceback instead of one line.
        try:
            from typer._click import exceptions as vendored
        except ImportError:  # older typer uses click itself
            vendored = click.exceptions
        aborts = tuple(
            a for a in (click.exceptions.Abort, getattr(vendored, "Abort", None), getattr(typer, "Abort", None)) if a
        )
        if isinstance(err, (click.exceptions.ClickException, vendored.ClickException)):
            err.show()
            return 2
        if isinstance(err, aborts):
            return 130
        raise


if __name__ == "__main__":
    sys.exit(main())
