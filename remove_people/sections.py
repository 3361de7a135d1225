"""The types, defaults and bounds of the configuration's non-plugin sections: run, models, eval, executor.

Why dataclasses beside ``configs/default.yaml``: the YAML is what users read and edit; these
say what each key accepts, so a bad value is refused before any work (``remove_people.settings``
checks both these and the plugins' ``Params``). ``tests/test_settings.py`` keeps the two in step.
``select`` is typed by the selector's own ``SelectParams``.
"""

from __future__ import annotations

from dataclasses import dataclass

from remove_people.settings import param, section

FORMATS = ("jpeg", "jpg", "png", "webp", "tiff", "tif", "bmp")


@dataclass
class RunSettings:
    """``run:`` how a run reads, batches, caches and writes."""

    batch_size: int = param(8, lo=1, hi=1024)
    io_threads: int = param(2, lo=1, hi=64)
    cache: bool = True
    cache_dir: str | None = param(None, kind="path")
    format: str | None = param(None, choices=FORMATS)
    quality: int | None = param(None, lo=1, hi=100)
    skip_existing: bool = False
    save_masks: bool = False
    compare: bool = False
    max_pixels: int = param(178956970, lo=1, hi=2**32)
    torch_threads: int | None = param(None, lo=1, hi=1024)
    large_hole_warning: float | None = param(0.33, lo=0.0, hi=1.0)
    max_hole_fraction: float | None = param(None, lo=0.0, hi=1.0)
    inpaint_workers: int | str = param("auto", lo=0, hi=256, choices=("auto",))


@dataclass
class ModelsSettings:
    """``models:`` where weight files come from (``--model-dir``, ``--offline``)."""

    dir: str | None = param(None, kind="path")
    offline: bool | None = None


@dataclass
class EvalSettings:
    """``eval:`` defaults of ``remove-people eval …`` and ``coco``."""

    shared: str | None = param(None, kind="path")
    seed: int = param(0, lo=0, hi=2**32 - 1)
    inpainters: list[str] = param(default_factory=lambda: ["telea", "ns", "patchmatch"])
    inpainters_if_present: list[str] = param(default_factory=lambda: ["lama", "migan"])
    peer_name: str = "MI-GAN"
    hole_ratio: list[float] = param(default_factory=lambda: [0.05, 0.25], lo=0.0, hi=1.0, length=2)
    hole_max_persons: int = param(2, lo=1, hi=50)
    lpips: bool = True
    detect_conf: float = param(0.001, lo=0.0, hi=1.0)
    detect_max_det: int = param(100, lo=1, hi=10000)
    detect_split: str = "val2017"
    removal_conf: float = param(0.5, lo=0.0, hi=1.0)
    check_conf: float = param(0.25, lo=0.0, hi=1.0)
    check_weights: str = "auto"
    thumb_side: int = param(256, lo=16, hi=4096)


@dataclass
class RayStageSettings:
    """``executor.ray.<stage>``: images per call, workers, resources per worker."""

    batch_size: int = param(8, lo=1, hi=1024)
    concurrency: int | list[int] | None = param(None, lo=1, hi=4096)
    num_cpus: float = param(0.5, lo=0.0, hi=1024)
    num_gpus: float | str = param(0, lo=0.0, hi=64, choices=("auto",))


@dataclass
class RaySettings:
    """``executor.ray``: the Ray cluster and each stage's workers."""

    address: str | None = None
    num_cpus: int | None = param(None, lo=1, hi=100000)
    num_gpus: int | None = param(None, lo=0, hi=10000)
    object_store_memory: int | None = param(None, lo=78643200, hi=2**50)
    include_dashboard: bool = False
    load: dict = section(RayStageSettings, batch_size=8, concurrency=None, num_cpus=0.5)
    detect: dict = section(RayStageSettings, batch_size=8, concurrency=1, num_cpus=1, num_gpus="auto")
    refine: dict = section(RayStageSettings, batch_size=8, concurrency=None, num_cpus=0.5)
    inpaint: dict = section(RayStageSettings, batch_size=8, concurrency=1, num_cpus=0.5, num_gpus=0)
    write: dict = section(RayStageSettings, batch_size=8, concurrency=None, num_cpus=0.5)


@dataclass
class ExecutorSettings:
    """``executor:`` who drives the stages."""

    name: str = param("local", choices=("local", "ray"))
    ray: dict = section(RaySettings)


def section_schemas() -> dict[str, type]:
    """Section name -> the dataclass that types it (``select`` is the selector's own ``SelectParams``)."""
    from remove_people.stages.select import SelectParams

    return {
        "run": RunSettings,
        "models": ModelsSettings,
        "select": SelectParams,
        "eval": EvalSettings,
        "executor": ExecutorSettings,
    }
