"""``remove-people train``: the group that holds each network's training command.

Why a thin group module: each trainer lives in its own module with its heavy
imports inside the function, so ``remove-people --help`` stays fast.
"""

from __future__ import annotations

from remove_people.commands import options as O
from remove_people.commands.train_deepfillv2 import train_deepfillv2
from remove_people.commands.train_pconv import train_pconv

app = O.new_app("Train or fine-tune the inpainting networks.")
O.command(app, "pconv")(train_pconv)
O.command(app, "deepfillv2")(train_deepfillv2)
