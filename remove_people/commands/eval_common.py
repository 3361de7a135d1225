"""What the ``remove-people eval`` commands share: the console, tables, JSON output, name and id lists,
and the COCO subset selection.

Why a module of its own: each eval command lives in its own module (``eval_detect``,
``eval_inpaint``, ``eval_removal``), as each train command does, and these pieces are the
same in all of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from remove_people.errors import UsageError

console = Console(stderr=True, highlight=False, soft_wrap=True)  # soft_wrap: one line per message, however narrow


def print_table(title: str, header: list[str], rows: list[list[str]], styles: list[str] | None = None) -> None:
    t = Table(title=title, header_style="bold")
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i < 3 else "right")
    for row, style in zip(rows, styles or [""] * len(rows)):
        t.add_row(*row, style=style or None)
    out = Console()
    if not out.is_terminal:  # pipes and CI logs: do not squeeze a wide table into 80 columns
        out = Console(width=240)
    out.print(t)


def write_json(path: Optional[Path], data: dict[str, Any]) -> None:
    if path is None:
        return
    from remove_people.pipeline.atomic import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(data, indent=1, default=str).encode("utf-8"))
    console.print(f"json: {path}")


def split_names(text: Optional[str], default: list[str]) -> list[str]:
    if not text:
        return list(default)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--inpainters: give a comma-separated list, e.g. telea,ns,patchmatch")
    return names


def check_inpainters(names: list[str]) -> None:
    """Every ``--inpainters`` name is installed (else one line, exit 2, before any image is read)."""
    from remove_people.stages import INPAINTERS

    for n in names:
        try:
            INPAINTERS.get(n)
        except UsageError as err:
            raise UsageError(f"--inpainters {n}: {err}") from None



def parse_ids(text: Optional[str]) -> Optional[list[int]]:
    if not text:
        return None
    try:
        return [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise UsageError(f"--image-ids {text!r}: expected comma-separated integers, e.g. 139,785") from None


def select_subset(
    annotations: Path, images: Path, image_ids: Optional[str], limit: Optional[int], split: Optional[str], seed: Optional[int] = None
) -> Any:
    """The COCO records the options select (``split`` ``all``/empty: every record); refused records are printed."""
    from remove_people.evaluation.coco_subset import CocoSubset

    subset = CocoSubset.load(annotations, images).select(
        image_ids=parse_ids(image_ids), limit=limit, seed=seed, split=None if split in (None, "", "all") else split
    )
    for line in subset.problems:
        console.print(f"refused: {line}", markup=False)
    return subset


def no_match(annotations: Path, split: Optional[str], image_ids: Optional[str], limit: Optional[int]) -> UsageError:
    """The usage error of a selection that matches no image."""
    return UsageError(f"{annotations}: no image matches the selection (split={split}, ids={image_ids}, limit={limit})")
