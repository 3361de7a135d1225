"""``remove-people plugins``: the installed detector, refiner and inpainter plugins and their parameters."""

from __future__ import annotations

import dataclasses

from rich.console import Console
from rich.markup import escape

from remove_people.commands import options as O
from remove_people.settings import defaults_of


def plugins(config: O.ConfigFiles = [], set_: O.Overrides = []) -> None:  # noqa: B006
    """List the installed detector, refiner and inpainter plugins, with their parameters and defaults."""
    from rich.table import Table

    from remove_people.stages import REGISTRIES

    cfg = O.build_config(config, set_)
    console = Console()
    for stage, reg in REGISTRIES.items():
        t = Table(title=f"{stage} plugins ({reg.entry_point_group})", header_style="bold", show_lines=False)
        t.add_column("name")
        t.add_column("parameters (default)")
        t.add_column("what it is")
        for name in reg.names():
            try:
                cls = reg.get(name)
            except Exception as err:  # noqa: BLE001 - a broken third-party plugin should not hide the others
                t.add_row(escape(name), "", f"[red]cannot load: {escape(str(err))}[/]")
                continue
            defaults = {**defaults_of(cls.Params), **cfg.plugin_params(stage, name)}
            params = ", ".join(f"{f.name}={defaults.get(f.name, '?')}" for f in dataclasses.fields(cls.Params))
            mark = " (default)" if name == cfg.plugin_name(stage) else ""
            t.add_row(escape(name + mark), escape(params or "-"), escape(cls.summary))
        console.print(t)
