"""``remove-people cache``: where the artifact cache is, what it holds, and clearing it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from remove_people.commands import options as O
from remove_people.errors import UsageError

app = O.new_app("Inspect or clear the artifact cache (masks, refined masks, results).")


@O.command(app, "info")
def cache_info(cache_dir: O.CacheDir = None) -> None:
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


@O.command(app, "clear")
def cache_clear(
    cache_dir: O.CacheDir = None,
    stage: Annotated[list[str], typer.Option("--stage", metavar="STAGE", help="Clear only this stage (detect, refine, inpaint). Repeatable.")] = [],  # noqa: B006
) -> None:
    """Delete cached artifacts (all stages, or those named with --stage)."""
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.stages import STAGES

    bad = [s for s in stage if s not in STAGES]
    if bad:
        raise UsageError(f"--stage {', '.join(bad)}: valid stages: {', '.join(STAGES)}")
    cache = ArtifactCache(cache_dir)
    done = cache.clear(tuple(stage) or STAGES)  # only what the cache wrote; a folder that is not a cache: exit 2
    typer.echo(f"removed {done.removed} entries from {cache.root}")
    if done.left:
        O.err_console.print(f"left {len(done.left)} item(s) the cache did not write, e.g. {done.left[0]}", markup=False)
