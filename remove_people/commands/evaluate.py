"""``remove-people eval``: measured quality of each stage (detect, inpaint, removal), one module per command.

Why a command and not a script in benchmarks/: users re-run the same measurements
on their own photos and settings, with the same defaults (``eval:`` in
``configs/default.yaml``), and get a rich table, JSON and an HTML report.
"""

from __future__ import annotations

from remove_people.commands import options as O
from remove_people.commands.eval_detect import detect_cmd
from remove_people.commands.eval_inpaint import inpaint_cmd
from remove_people.commands.eval_removal import removal_cmd

app = O.new_app("Measure each stage: detection AP and mask coverage, inpainting quality, residual persons.")
O.command(app, "inpaint")(inpaint_cmd)
O.command(app, "detect")(detect_cmd)
O.command(app, "removal")(removal_cmd)
