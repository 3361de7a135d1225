"""Hole LPIPS of our PatchMatch with settings of the fill overridden: the levers of issue 17.

Why this script: the plugin exposes only the settings users should touch; the fill has more
(``remove_people.fill.FillSettings``: pyramid depth, vote rounds per level, search passes,
propagation jumps, random-search caps, source rules). Each argument ``FIELD=VALUE`` (a Python
literal) replaces one field for this run only; the run is ``remove-people eval inpaint
--inpainters patchmatch`` in this process (the scenes with their MI-GAN results, and the
person-shaped holes on person-free COCO photos), and the script prints the hole LPIPS and
seconds per image of each set. With no argument it measures the defaults, the baseline.

    python benchmarks/fill_levers.py                       # the defaults
    python benchmarks/fill_levers.py em_per_level=1        # one lever
    python benchmarks/fill_levers.py seed=1                # the noise of a different seed
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import json
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> None:
    from remove_people.cli import main as cli_main
    from remove_people.fill import FillSettings
    from remove_people.stages.inpaint.patchfill import PatchFillInpainter

    fields = {f.name for f in dataclasses.fields(FillSettings)}
    overrides: dict[str, object] = {}
    for arg in argv:
        key, _, value = arg.partition("=")
        if key not in fields or not value:
            sys.exit(f"fill_levers: '{arg}' is not FIELD=VALUE with FIELD one of {', '.join(sorted(fields))}")
        overrides[key] = ast.literal_eval(value)
    plugin_settings = PatchFillInpainter.settings
    PatchFillInpainter.settings = lambda self: dataclasses.replace(plugin_settings(self), **overrides)  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="rp-levers-") as tmp:
        out = Path(tmp) / "eval.json"
        args = ["eval", "inpaint", "--inpainters", "patchmatch", "--json", str(out)]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = cli_main(args)
        if rc or not out.exists():
            sys.exit(f"fill_levers: eval inpaint failed (exit {rc}); run `remove-people {' '.join(args)}` to see why")
        rows = json.loads(out.read_text())["summary"]
    found = {r["set"]: r for r in rows if r["method"] == "patchmatch"}
    parts = [f"{name}: hole LPIPS {r['mean']['hole.lpips']:.4f}, {r['seconds_per_image']:.2f} s/img" for name, r in found.items()]
    print(overrides or "defaults", "|", "; ".join(parts))


if __name__ == "__main__":
    main(sys.argv[1:])
