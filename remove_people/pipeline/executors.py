"""Executors: who drives the stages over the inputs. The stages themselves never change.

Why an abstraction: the same configs, stage code and on-disk cache should run on one
machine (``local``: ``Pipeline.run``, a thread pool for I/O beside the models) or on an
existing distributed engine (``ray``: a Ray Data job with an actor pool per model stage),
chosen by ``--executor`` / ``executor.name``. An executor takes a ``Config``, an
``InputSet``, an output folder and an ``ArtifactCache`` and returns the same
``RunSummary``, so the CLI, ``--json`` and the exit code do not care which one ran.

Executors are looked up by name in ``EXECUTORS``; ``ray`` is imported only when chosen,
so Ray stays an optional extra (``pip install 'remove-people[ray]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from remove_people.config import Config
from remove_people.errors import UsageError
from remove_people.pipeline.cache import ArtifactCache
from remove_people.pipeline.inputs import InputSet
from remove_people.pipeline.summary import RunSummary
from remove_people.registry import import_target

ProgressFn = Callable[[int, int, str], None]
MessageFn = Callable[[str], None]


class Executor(Protocol):
    """Runs the configured pipeline over ``inputs`` and writes under ``out_dir``."""

    name: str

    def run(
        self,
        inputs: InputSet,
        out_dir: Path,
        cache: ArtifactCache,
        on_progress: ProgressFn | None = None,
        on_message: MessageFn | None = None,
    ) -> RunSummary: ...


class LocalExecutor:
    """Today's ``Pipeline.run`` in this process: batches, prefetching decode, threaded writes."""

    name = "local"

    def __init__(self, config: Config) -> None:
        self.config = config

    def run(
        self,
        inputs: InputSet,
        out_dir: Path,
        cache: ArtifactCache,
        on_progress: ProgressFn | None = None,
        on_message: MessageFn | None = None,
    ) -> RunSummary:
        from remove_people.pipeline.runner import Pipeline

        pipeline = Pipeline(self.config, cache=cache, on_progress=on_progress, on_message=on_message)
        try:
            return pipeline.run(inputs, out_dir)
        finally:
            pipeline.close()


#: name → "module:Class"; imported on use so an executor's heavy dependency is optional.
EXECUTORS: dict[str, str] = {
    "local": "remove_people.pipeline.executors:LocalExecutor",
    "ray": "remove_people.pipeline.ray_executor:RayExecutor",
}


def executor_name(config: Config, override: str | None = None) -> str:
    """The executor to use: ``--executor`` if given, else ``executor.name`` (default ``local``)."""
    name = override or (config.data.get("executor") or {}).get("name") or "local"
    name = str(name).lower()
    if name not in EXECUTORS:
        raise UsageError(f"--executor {name}: valid executors: {', '.join(EXECUTORS)}")
    return name


def make_executor(config: Config, name: str | None = None) -> Executor:
    """Build the executor ``name`` (or the configured one) for ``config``."""
    name = executor_name(config, name)
    return import_target(EXECUTORS[name])(config)


def _stage_pairs(option: str, values: list[str]) -> list[tuple[str, int]]:
    """Parse repeated ``STAGE=N`` options (``--stage-concurrency detect=2``)."""
    from remove_people.pipeline.ray_executor import RAY_STAGES

    out = []
    for v in values:
        stage, sep, n = v.partition("=")
        stage = stage.strip().lower()
        if not sep or stage not in RAY_STAGES or not n.strip().isdigit() or int(n) < 1:
            raise UsageError(f"{option} {v!r}: expected STAGE=N with N >= 1 and STAGE one of {', '.join(RAY_STAGES)}")
        out.append((stage, int(n)))
    return out


def apply_executor_options(
    config: Config,
    executor: str | None = None,
    ray_address: str | None = None,
    stage_concurrency: list[str] | None = None,
    stage_batch_size: list[str] | None = None,
) -> str:
    """Fold the CLI's executor options into ``config.data['executor']``; returns the executor's name.

    Checked before any input is read, so ``--executor ray`` without Ray fails at once,
    with one line saying how to install it.
    """
    section = config.data.setdefault("executor", {})
    name = executor_name(config, executor)
    section["name"] = name
    ray_cfg = section.setdefault("ray", {})
    if ray_address is not None:
        ray_cfg["address"] = ray_address
    for key, option, values in (
        ("concurrency", "--stage-concurrency", stage_concurrency or []),
        ("batch_size", "--stage-batch-size", stage_batch_size or []),
    ):
        for stage, n in _stage_pairs(option, values):
            ray_cfg.setdefault(stage, {})[key] = n
    if name == "ray":
        from remove_people.pipeline.ray_executor import import_ray

        import_ray()
    elif ray_address or stage_concurrency or stage_batch_size:
        raise UsageError("--ray-address, --stage-concurrency and --stage-batch-size need --executor ray")
    return name
