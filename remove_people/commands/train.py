"""``remove-people train``: the group that holds each network's training command.

Why a thin group module: each trainer lives in its own module with its heavy
imports inside the function, so ``remove-people --help`` stays fast and a
missing optional trainer hides only itself.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Train or fine-tune the inpainting networks.", no_args_is_help=True)

for _module, _name, _func in (
    ("remove_people.commands.train_pconv", "pconv", "train_pconv"),
    ("remove_people.commands.train_deepfillv2", "deepfillv2", "train_deepfillv2"),
):
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as _err:
        if _err.name != _module:
            raise
        continue
    app.command(_name)(getattr(_mod, _func))
