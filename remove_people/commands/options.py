"""The command line's one options layer: shared options, flags → ``Config``, and help that reads right.

Why one layer: ``run``, ``coco``, ``eval …``, ``models …`` and ``train …`` used to each
declare ``--config``/``--set``/``--model-dir``/``--offline`` and fold them into the
configuration their own way, so ``-i telea --set inpaint.radius=3`` reached the wrong
plugin and ``--model-dir`` went through ``os.environ``. Here every shared option is
declared once (``Annotated`` types used in the commands' signatures), and
:func:`build_config` is the only place flags become configuration: files, then the
plugin choice, then the flags, then ``--set``, every value checked before any work.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator, Mapping, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from remove_people.config import Config, apply_model_settings, split_override

#: One message, one line, on stderr; soft_wrap keeps it one line however narrow the terminal.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

#: A flag's contribution to the configuration: (how the user wrote it, dotted key, value or None if not given).
Flag = tuple[str, str, Any]


# --------------------------------------------------------------------------- help that reads right


def _tidy_param(param: Any) -> None:
    """Help text shown as written (rich would eat ``[ray]``) and no ``<bool>`` beside a flag."""
    if getattr(param, "help", None):
        param.help = escape(param.help)
    if getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""


def _unbrace(piece: str) -> str:
    """typer writes a required argument as ``{input}`` in the usage line; users expect ``INPUT``."""
    return re.sub(r"\{([^{}]+)\}", lambda m: m.group(1).upper(), piece)


class Command(TyperCommand):
    """Every command's class: tidy help (see :func:`_tidy_param`) and a plain usage line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help:
            self.help = escape(self.help)
        for p in self.params:
            _tidy_param(p)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [_unbrace(p) for p in super().collect_usage_pieces(ctx)]

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            _tidy_param(opt)
        return opt


class Group(TyperGroup):
    """Every command group's class: the same tidy help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help:
            self.help = escape(self.help)

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            _tidy_param(opt)
        return opt


def new_app(help: str, **kwargs: Any) -> typer.Typer:
    """A command group configured like all the others (no completion, no pretty tracebacks,
    a missing sub-command is a one-line usage error instead of a help page and exit 0)."""
    return typer.Typer(
        help=help,
        cls=Group,
        no_args_is_help=False,
        add_completion=False,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        **kwargs,
    )


def command(app: typer.Typer, name: str | None = None, **kwargs: Any) -> Any:
    """``@command(app, "list")``: ``app.command`` with this module's :class:`Command` class."""
    return app.command(name, cls=Command, **kwargs)


# --------------------------------------------------------------------------- shared options

ConfigFiles = Annotated[
    list[Path],
    typer.Option("--config", "-c", metavar="FILE", help="YAML file overlaid on configs/default.yaml. Repeatable."),
]
Overrides = Annotated[
    list[str],
    typer.Option(
        "--set", "-s", metavar="KEY=VALUE",
        help="Override a setting, applied after every other option: refine.dilate=25, inpaint.patch_size=3, "
        "run.batch_size=4 (STAGE.KEY sets the chosen plugin's parameter). Repeatable.",
    ),
]  # fmt: skip
ModelDir = Annotated[
    Optional[Path],
    typer.Option("--model-dir", metavar="DIR", help="Folder of weight files, searched first (default: $REMOVE_PEOPLE_MODEL_DIR)."),
]
Offline = Annotated[
    Optional[bool],
    typer.Option(
        "--offline/--online",
        help="--offline: never touch the network (a missing weight file is an error naming the file to place). "
        "Default: $REMOVE_PEOPLE_OFFLINE.",
    ),
]
JsonFile = Annotated[Optional[Path], typer.Option("--json", metavar="FILE", help="Write the results as JSON here.")]
ReportDir = Annotated[Optional[Path], typer.Option("--report", metavar="DIR", help="Write a self-contained HTML report into this folder.")]
TrainingData = Annotated[Path, typer.Option("--data", metavar="DIR", help="Folder of training photos, e.g. ../shared/data/train256.", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress or tables; errors only.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print each image's outcome.")]
JsonSummary = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
Inpainter = Annotated[
    Optional[str],
    typer.Option("--inpainter", "-i", metavar="NAME", help="Inpainter plugin: patchmatch, telea, ns, deepfillv2, pconv (see `remove-people plugins`)."),
]
DetectorWeights = Annotated[
    Optional[str],
    typer.Option("--detector-weights", metavar="NAME|FILE", help="YOLO weights: a model-table name (yolo11n-seg) or a .pt path."),
]
Masks = Annotated[
    Optional[Path],
    typer.Option(
        "--masks", metavar="PATH",
        help="Use masks made elsewhere instead of YOLO: a folder of mask images, one mask, or a COCO JSON (the `masks` detector).",
    ),
]  # fmt: skip
CacheDir = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", metavar="DIR", help="Artifact cache folder (default: $REMOVE_PEOPLE_CACHE or ~/.cache/remove-people/artifacts)."),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the artifact cache.")]
SaveMasks = Annotated[bool, typer.Option("--save-masks", help="Also write each refined mask as NAME.mask.png.")]


# --------------------------------------------------------------------------- flags -> Config


def pipeline_plugins(
    *, masks: Path | None = None, detector: str | None = None, refiner: str | None = None, inpainter: str | None = None
) -> dict[str, tuple[str, str | None]]:
    """The plugin choices ``run`` and ``coco`` share; ``--masks`` chooses the ``masks`` detector."""
    from remove_people.errors import UsageError

    if masks is not None and detector not in (None, "masks"):
        raise UsageError(f"--masks uses the masks detector; drop --detector {detector} or --masks")
    return {
        "detect": ("--masks", "masks") if masks is not None else ("--detector", detector),
        "refine": ("--refiner", refiner),
        "inpaint": ("--inpainter", inpainter),
    }


def pipeline_flags(
    *,
    masks: Path | None = None,
    invert_masks: bool = False,
    detector_weights: str | None = None,
    cache_dir: Path | None = None,
    no_cache: bool = False,
    save_masks: bool = False,
) -> list[Flag]:
    """The flags ``run`` and ``coco`` share, as configuration keys (``--masks`` also chooses its detector)."""
    return [
        (f"--masks {masks}", "detect.masks.path", str(masks) if masks is not None else None),
        ("--invert-masks", "detect.masks.invert", True if invert_masks else None),
        (f"--detector-weights {detector_weights}", "detect.yolo.weights", detector_weights),
        (f"--cache-dir {cache_dir}", "run.cache_dir", str(cache_dir) if cache_dir is not None else None),
        ("--no-cache", "run.cache", False if no_cache else None),
        ("--save-masks", "run.save_masks", True if save_masks else None),
    ]


def build_config(
    config_files: Iterable[Path] = (),
    overrides: Iterable[str] = (),
    *,
    plugins: Mapping[str, tuple[str, str | None]] | None = None,
    flags: Iterable[Flag] = (),
    model_dir: Path | None = None,
    offline: bool | None = None,
    quiet: bool | None = None,
) -> Config:
    """The one way a command turns its options into a checked ``Config``.

    Order: ``default.yaml`` and ``--config`` files; the plugin choice (``plugins``:
    stage → (option, name), e.g. ``{"inpaint": ("--inpainter", "telea")}``, then any
    ``--set STAGE.plugin=``); ``--model-dir``/``--offline``; the other flags (keys like
    ``inpaint.feather`` reach the chosen plugin); then the remaining ``--set`` items in
    command-line order. A bad value anywhere is a ``UsageError`` naming the option.
    The result's ``models`` section (and ``quiet``) then governs every weights look-up.
    """
    cfg = Config.from_files(config_files)
    for stage, (option, name) in (plugins or {}).items():
        cfg.select(stage, name, label=f"{option} {name}")
    parsed = [(item, *split_override(item)) for item in overrides]
    for item, key, value in parsed:
        if key.endswith(".plugin"):
            cfg.put(key, value, label=f"--set {item}")
    if model_dir is not None:
        cfg.put("models.dir", str(model_dir), label=f"--model-dir {model_dir}")
    if offline is not None:
        cfg.put("models.offline", offline, label="--offline" if offline else "--online")
    for label, key, value in flags:
        if value is not None:
            cfg.put(key, value, label=label)
    for item, key, value in parsed:
        if not key.endswith(".plugin"):
            cfg.put(key, value, label=f"--set {item}")
    cfg.validate()
    if cfg.run.get("cache_dir"):
        check_output_folder(Path(cfg.run["cache_dir"]).expanduser(), "--cache-dir")
    _check_selection(cfg)
    apply_model_settings(cfg, quiet=quiet)
    return cfg


def _check_selection(cfg: Config) -> None:
    """Whom-to-remove settings that only make sense together (``--keep``, ``--keep-mask``, the
    area range): the selector checks them, so build it once now, before any work."""
    from remove_people.stages.select import Selector

    Selector.from_config(cfg)


def check_training_options(data: Path, split: str, device: str, out: Path) -> None:
    """The train commands' ``--data`` (a folder), ``--split`` (a file, as given, else inside ``--data``),
    ``--device`` and ``--out`` (not a file), all checked before torch starts."""
    from remove_people.devices import is_device
    from remove_people.errors import UsageError

    if not data.is_dir():
        raise UsageError(f"--data {data} is not a folder")
    p = Path(split)
    if not (p.is_file() or (not p.is_absolute() and (data / p).is_file())):
        raise UsageError(f"--split {split}: no such file (looked as given and in {data}); a CSV with columns file,split")
    if not is_device(device):
        raise UsageError(f"--device {device}: expected auto, cpu, cuda or cuda:N")
    check_output_folder(out, "--out")


def check_output_folder(path: Path, option: str) -> None:
    """A folder option that names an existing file is refused at once, not at the first write."""
    from remove_people.errors import UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file, not a folder")


@contextmanager
def weights_scope() -> Iterator[None]:
    """Restore the process's weights settings afterwards, so one in-process command's
    ``--model-dir``/``--offline`` never leaks into the next (tests, the Python API)."""
    from remove_people.models.locations import configure, configured
    from remove_people.models.resolve import forget_notices

    saved = configured()
    forget_notices()
    try:
        yield
    finally:
        configure(**saved)
