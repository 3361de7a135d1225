"""The ``remove-people`` command line: the commands assembled, and errors turned into exit codes.

Why typer: sub-commands, typed options and complete ``--help`` from one function
signature each. The options the commands share, and the one way flags become
configuration, live in ``commands/options.py``; each command lives in its own module.

Exit codes (the README's table): 0 all done, 1 some inputs failed, 2 usage error or
nothing could start (a bad option or setting, missing weights), 130 interrupted.
Every usage error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from remove_people import __version__
from remove_people.commands import options as O
from remove_people.commands.run import run
from remove_people.errors import RemovePeopleError, UsageError, WeightsError

__all__ = ["app", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

app = O.new_app(
    "Remove people from photos: detect (YOLO-seg) → refine (morphology) → inpaint (PatchMatch, DeepFillv2, partial-conv, OpenCV)."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"remove-people {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Remove people from photos, in batch, with every intermediate artifact cached."""


def _mount() -> None:
    """Every command, each from its own module (``commands/``)."""
    from remove_people.commands import cache, coco, evaluate, masks, models, plugins, train

    O.command(app, "run")(run)
    O.command(app, "coco")(coco.coco_command)
    O.command(app, "plugins")(plugins.plugins)
    for sub, name in ((cache.app, "cache"), (models.app, "models"), (masks.app, "masks"), (train.app, "train"), (evaluate.app, "eval")):
        app.add_typer(sub, name=name)


_mount()


def _usage_line(err: Exception) -> str:
    """One line for a usage error raised by typer (typer's own copy of click, or click itself)."""
    message = err.format_message().strip().rstrip(".")  # type: ignore[attr-defined]
    message = message[:1].lower() + message[1:]
    ctx = getattr(err, "ctx", None)
    path = getattr(ctx, "command_path", "") or "remove-people"
    command = getattr(ctx, "command", None)
    if message.startswith("missing command") and command is not None and hasattr(command, "list_commands"):
        message += f"; choose one of {', '.join(command.list_commands(ctx))}"
    return f"error: {path}: {message} (see {path} --help)"


def _is_usage_error(err: BaseException) -> bool:
    """typer >= 0.29 raises its vendored click's exceptions, older typer click's own: both carry
    ``exit_code`` and ``format_message``; checking the shape needs no import of click."""
    return callable(getattr(err, "format_message", None)) and isinstance(getattr(err, "exit_code", None), int)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: user-facing errors become one line and the README's exit code."""
    from remove_people.pipeline.interrupts import sigterm_as_interrupt

    err_console = O.err_console
    try:
        # SIGTERM stops a run like Ctrl-C (summary, exit 130).
        with O.weights_scope(), sigterm_as_interrupt():
            # standalone_mode=False: typer returns the code of typer.Exit instead of exiting.
            rv = app(args=argv, prog_name="remove-people", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except WeightsError as err:
        # The weights are resolved before the first photo is touched: nothing ran.
        err_console.print(f"error: {err}", markup=False)
        return EXIT_USAGE
    except RemovePeopleError as err:
        err_console.print(f"error: {err}", markup=False)
        return EXIT_USAGE if isinstance(err, UsageError) else 1
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("interrupted", markup=False)
        return EXIT_INTERRUPTED
    except Exception as err:
        if _is_usage_error(err):
            err_console.print(_usage_line(err), markup=False)
            return int(getattr(err, "exit_code", EXIT_USAGE) or EXIT_USAGE)
        raise


if __name__ == "__main__":
    sys.exit(main())
