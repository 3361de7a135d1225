"""The detector's OpenVINO runtime: a YOLO ``.pt`` exported once to the user cache, compiled our way.

Why OpenVINO for the detector on a CPU: on the coco photos (640 px, 2 cores) the
network runs 1.8x faster in OpenVINO at float32 than in PyTorch, with the same
weights and masks equal up to float noise (``benchmarks/run.py``, BENCHMARKS.md).
ultralytics does the export (``format=openvino``) and still does all pre- and
post-processing, so letterboxing, NMS and mask prototypes stay exactly its own.

Why a cache folder and not beside the weights: ultralytics writes the IR next to
the ``.pt``, and weights often live in a read-only place (``../shared``, a system
model folder). The export runs in a temporary folder of the cache (on a link to the
``.pt``) and is renamed into place when complete, under a file lock, so concurrent
runs export once and an interrupted export leaves nothing that looks finished.
The folder name holds the weights' sha256 and the ultralytics and OpenVINO
versions: new weights or a new exporter give a new export, never a stale one.

Why ``core_settings``: ultralytics compiles the IR on its own ``openvino.Core`` with
no precision hint, and OpenVINO's CPU plugin then runs float32 models in bf16 on
CPUs with AMX or AVX-512 bf16 (recent Xeons). On the coco photos that moved union
masks by up to 2 % IoU and lost a borderline person; at f32 the masks equal
PyTorch's. Properties set on one ``Core`` do not reach another, and recompiling
after ultralytics costs a second compile, so while ultralytics builds its
predictor every new ``Core`` gets our properties (f32, and a compiled-model cache
that makes later starts compile in about a third of the time).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from remove_people.errors import WeightsError

#: The export's input size; the IR is dynamic (any batch, height and width), this is only the trace shape.
TRACE_IMGSZ = 640
LOCK_TIMEOUT_S = 600


def openvino_available() -> bool:
    """Whether the ``openvino`` runtime can be imported (checked without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def export_dir_name(weights: Path, sha256: str) -> str:
    """``<stem>-<sha256[:16]>-ul<ultralytics>-ov<openvino>_openvino_model`` (ultralytics needs the suffix)."""
    from importlib.metadata import version

    return f"{weights.stem}-{sha256[:16]}-ul{version('ultralytics')}-ov{version('openvino')}_openvino_model"


def openvino_root(cache_root: Path | None = None) -> Path:
    """``<cache_root>/openvino`` (default: the user's weights cache): the exports and OpenVINO's compiled models."""
    if cache_root is None:
        from remove_people.models.locations import cache_dir

        cache_root = cache_dir()
    return Path(cache_root) / "openvino"


def openvino_model(weights: Path, cache_root: Path | None = None) -> Path:
    """The folder of the OpenVINO IR of ``weights`` under ``openvino_root(cache_root)``, exported on first use."""
    if not openvino_available():
        raise WeightsError(
            "detect.yolo.backend is openvino but the openvino package is not installed; "
            "pip install openvino, or pass --set detect.yolo.backend=torch"
        )
    from remove_people.models.hashing import sha256_file
    from remove_people.models.resolve import notice
    from remove_people.pipeline.atomic import exclusive

    root = openvino_root(cache_root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / export_dir_name(weights, sha256_file(weights))  # memoised: no re-hash per run
    if _complete(final):
        return final
    lock_file = root / f".{final.name}.lock"
    busy = f"another process has been exporting {final} for over 10 minutes; remove {lock_file}"
    with exclusive(lock_file, LOCK_TIMEOUT_S, busy):
        if _complete(final):  # a concurrent run finished it while we waited
            return final
        # A first run pauses here for seconds: say why, once.
        notice(f"exporting {Path(weights).name} to OpenVINO for the CPU (once, about 10 s): {final}", progress=True)
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
        try:
            link = work / f"{final.name.removesuffix('_openvino_model')}.pt"
            try:
                link.symlink_to(Path(weights).resolve())
            except OSError:  # no symlinks here (some file systems): a copy, removed with the folder
                shutil.copyfile(weights, link)
            out = _export(link)
            if final.exists():  # an incomplete leftover (no .xml/.bin pair): replace it
                shutil.rmtree(final)
            os.replace(out, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final


def _complete(folder: Path) -> bool:
    """An export is complete when its ``.xml``, ``.bin`` and metadata all exist (the rename is last)."""
    if not folder.is_dir():
        return False
    xml = next(folder.glob("*.xml"), None)
    return xml is not None and xml.with_suffix(".bin").is_file() and (folder / "metadata.yaml").is_file()


def _export(pt: Path) -> Path:
    """Run ultralytics' OpenVINO export of ``pt`` (float32, dynamic shapes); returns the IR folder."""
    from ultralytics import YOLO

    with warnings.catch_warnings():
        # torch.jit.trace's deprecation notices: the exporter's business, not the user's.
        warnings.simplefilter("ignore", FutureWarning)
        try:
            out = YOLO(str(pt), task="segment").export(
                format="openvino", dynamic=True, quantize=None, imgsz=TRACE_IMGSZ, verbose=False  # None: float32
            )
        except Exception as exc:  # any exporter failure becomes one actionable line
            raise WeightsError(
                f"{pt.name}: OpenVINO export failed ({type(exc).__name__}: {exc}); "
                f"pass --set detect.yolo.backend=torch to run the detector in PyTorch"
            ) from exc
    return Path(out)


@contextmanager
def core_settings(precision: str, cache_root: Path | None = None) -> Iterator[None]:
    """While the block runs, every new ``openvino.Core`` gets our properties.

    precision: ``f32`` sets the CPU plugin's inference precision; ``auto`` leaves the plugin's choice.
    Only the block's own code sees the swapped class (ultralytics' predictor set-up, in this thread);
    it is restored on the way out, also on error.
    """
    import openvino as ov

    # OpenVINO's compiled-model cache (its own format), beside the exports.
    properties: dict[str, Any] = {"CACHE_DIR": str(openvino_root(cache_root) / "compiled")}
    cpu: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32"} if precision == "f32" else {}
    original = ov.Core

    class ConfiguredCore(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.set_property(properties)
            if cpu:
                self.set_property("CPU", cpu)

    ov.Core = ConfiguredCore
    try:
        yield
    finally:
        ov.Core = original
