"""``remove-people masks generate``: write seeded hole masks (255 = hole) as PNGs.

Mount with ``app.add_typer(remove_people.commands.masks.app, name="masks")``; the command
function itself is :func:`generate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from remove_people.commands import options as O

app = O.new_app("Generate hole masks (255 = hole) for training and evaluating inpainters.")


@app.callback()
def _group() -> None:
    """Generate hole masks (255 = hole) for training and evaluating inpainters."""


@O.command(app, "generate")
def generate(
    kind: str = typer.Option(..., "--kind", help="lines-circles (Liu et al.'s strokes and circles) or persons (COCO silhouettes)."),
    n: int = typer.Option(..., "--n", min=1, max=1_000_000, help="How many masks."),
    size: int = typer.Option(256, "--size", min=8, max=8192, help="Side of the square masks in pixels."),
    out: Path = typer.Option(..., "--out", help="Output folder (created); files are KIND_000000.png …"),
    seed: int = typer.Option(0, "--seed", min=0, help="Mask i depends only on (seed, kind, i)."),
    annotations: Optional[Path] = typer.Option(
        None, "--annotations", help="COCO instances.json for --kind persons [default: ../shared/data/coco-person/annotations/instances.json]."
    ),
    min_ratio: Optional[float] = typer.Option(None, "--min-ratio", min=0.0, max=1.0, help="Least hole share [0.01 lines-circles, 0.02 persons]."),
    max_ratio: Optional[float] = typer.Option(None, "--max-ratio", min=0.0, max=1.0, help="Largest hole share [0.6 lines-circles, 0.5 persons]."),
) -> None:
    """Write N masks of SIZE×SIZE (255 = hole), each written atomically (temporary file, then rename)."""
    from remove_people.errors import UsageError
    from remove_people.training.masks import DEFAULT_RATIO_RANGE, KINDS, PERSON_RATIO_RANGE, generate_masks

    if kind not in KINDS:
        raise UsageError(f"unknown mask kind {kind!r}; valid: {', '.join(KINDS)}")
    ratio_range = None
    if min_ratio is not None or max_ratio is not None:
        lo, hi = PERSON_RATIO_RANGE if kind == "persons" else DEFAULT_RATIO_RANGE
        ratio_range = (lo if min_ratio is None else min_ratio, hi if max_ratio is None else max_ratio)
        if not 0 <= ratio_range[0] <= ratio_range[1] <= 1:
            raise UsageError(f"need 0 <= --min-ratio <= --max-ratio <= 1, got {ratio_range}")
    O.check_output_folder(out, "--out")
    if annotations is not None and not annotations.exists():
        raise UsageError(f"annotations not found: {annotations}")
    paths = generate_masks(kind, n, size, out, seed=seed, annotations=annotations, ratio_range=ratio_range)
    typer.echo(f"wrote {len(paths)} {kind} masks ({size}x{size}) to {out}")
