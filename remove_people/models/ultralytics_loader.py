"""Loading an ultralytics YOLO segmenter from a weight file: the table's builder for the detector entries.

Why a gate first: ultralytics unpickles its checkpoints in full (``weights_only=False``), so a
booby-trapped ``--detector-weights`` file would run its code the moment it loads; a file whose
sha256 the table does not know is refused (before ultralytics is even imported: the refusal is
instant) unless the user trusts it. On a CPU the same weights may run in OpenVINO: the file is
exported once (``openvino_runtime.py``) and ultralytics loads the export.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from remove_people.models.loading import refuse_untrusted_pickle

TRUST_SETTING = "--set detect.yolo.trust_weights=true"


def load_yolo(path: str | os.PathLike[str], *, trust: bool = False, backend: str = "torch") -> Any:
    """``ultralytics.YOLO`` for a segmentation ``.pt`` (``backend="openvino"``: its OpenVINO export)."""
    if not trust:
        refuse_untrusted_pickle(path, "ultralytics weights", TRUST_SETTING)
    from ultralytics import YOLO

    if backend == "openvino":
        from remove_people.models.openvino_runtime import openvino_model

        path = openvino_model(Path(path))
    return YOLO(str(path), task="segment")
