"""The Ray executor: the same pipeline as a Ray Data job, for folders that outgrow one machine.

Why this shape (Ray Data's idiom for batch inference):

- ``load`` (CPU tasks) reads each path's bytes and decodes them with the same
  ``Pipeline.load_one`` as the local run, so EXIF, ICC and JPEG tables travel with the
  image; a bad file becomes a failed outcome instead of failing the job (which
  ``ray.data.read_binary_files`` would do). It also looks the image up in the cache
  from the last stage backwards (``lookup_batch``), so cached images skip the models.
- ``detect`` is an actor pool (a callable class: the model loads once per actor), with
  ``num_gpus`` when the cluster has GPUs; ``refine`` runs as CPU tasks; ``inpaint`` is
  another actor pool; ``write`` (CPU tasks) writes each output atomically.
- Every worker builds its stages from the same ``Config`` and opens the same
  ``ArtifactCache`` root, so a Ray run and a local run share entries both ways: on a
  cluster that root (and ``--out``) must be a shared filesystem path.
- Records move between stages as pickled ``_Work`` items (pixels + write-back info);
  each stage call logs its time, cache hits/misses and loaded models, and the driver
  adds them up into the usual ``RunSummary``.

Ray is imported only inside :meth:`RayExecutor.run`: without it, ``--executor ray``
ends with one line saying how to install it.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from remove_people.config import Config
from remove_people.errors import UsageError
from remove_people.pipeline.cache import ArtifactCache
from remove_people.stages import STAGES
from remove_people.pipeline.inputs import InputItem, InputSet
from remove_people.pipeline.summary import ImageOutcome, RunSummary

INSTALL_HINT = "--executor ray needs Ray, which is not installed: pip install 'remove-people[ray]'"

#: Settings used when the config has no ``executor.ray`` section (an older --config file).
DEFAULTS: dict[str, Any] = {
    "address": None,
    "num_cpus": None,
    "num_gpus": None,
    "object_store_memory": None,
    "include_dashboard": False,
    "load": {"concurrency": None, "batch_size": 8, "num_cpus": 0.5},
    "detect": {"concurrency": 1, "batch_size": 8, "num_cpus": 1, "num_gpus": "auto"},
    "refine": {"concurrency": None, "batch_size": 8, "num_cpus": 0.5},
    "inpaint": {"concurrency": 1, "batch_size": 8, "num_cpus": 0.5, "num_gpus": 0},
    "write": {"concurrency": None, "batch_size": 8, "num_cpus": 0.5},
}
RAY_STAGES = ("load", "detect", "refine", "inpaint", "write")
#: Environment the workers need to find weights offline, copied from the driver.
ENV_PREFIXES = ("REMOVE_PEOPLE_", "YOLO_", "TORCH_HOME", "XDG_CACHE_HOME", "HF_")


def ray_settings(config: Config) -> dict[str, Any]:
    """``executor.ray`` merged over :data:`DEFAULTS` (per-stage dicts merged key by key)."""
    given = (config.data.get("executor") or {}).get("ray") or {}
    out = copy.deepcopy(DEFAULTS)
    for key, value in given.items():
        if key in RAY_STAGES and isinstance(value, dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def import_ray() -> Any:
    """``ray`` (and ``ray.data``), or a ``UsageError`` naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is a separate part of the extra
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


# --------------------------------------------------------------------------- worker side
#
# Everything below runs inside Ray workers. A worker process builds one Pipeline per
# job spec and keeps it (module global), so tasks that land on a warm worker reuse it.

_PIPELINES: dict[str, Any] = {}


def _pipeline(spec: dict[str, Any]) -> Any:
    """The worker's Pipeline for this job: stages from the driver's config, the shared cache root."""
    pipe = _PIPELINES.get(spec["job"])
    if pipe is None:
        for k, v in spec["env"].items():
            os.environ.setdefault(k, v)
        from remove_people.pipeline.runner import Pipeline

        threads = spec["config"].get("run", {}).get("torch_threads")
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        cache = ArtifactCache(Path(spec["cache_root"]), enabled=spec["cache_enabled"])
        config = Config(copy.deepcopy(spec["config"]))
        config.run["inpaint_workers"] = 0  # Ray's actors are the parallelism here: no pools inside them
        pipe = Pipeline(config, cache=cache)
        _PIPELINES.clear()  # one job at a time per worker: drop an earlier job's models
        _PIPELINES[spec["job"]] = pipe
    return pipe


def _stage_call(pipe: Any, recs: list[dict[str, Any]], fn: Callable[[list[Any], RunSummary], None]) -> None:
    """Run ``fn`` on the batch's live items and log what it did (time, cache use, models) on the batch."""
    works = [r["work"] for r in recs if r["work"] is not None and r["work"].failed is None]
    stats = pipe.cache.stats
    hits0, misses0, corrupt0 = dict(stats.hits), dict(stats.misses), stats.corrupt
    computed0 = set(pipe._computed)
    summary = RunSummary()
    fn(works, summary)
    log = {
        "stage_seconds": {k: v for k, v in summary.stage_seconds.items() if v},
        "hits": {s: stats.hits[s] - hits0.get(s, 0) for s in STAGES},
        "misses": {s: stats.misses[s] - misses0.get(s, 0) for s in STAGES},
        "corrupt": stats.corrupt - corrupt0,
        "computed": sorted(set(pipe._computed) - computed0),
        "warnings": list(summary.warnings),
    }
    if recs:
        recs[0]["logs"].append(log)


def _unpack(batch: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    return [pickle.loads(b) for b in batch["rec"]]


def _pack(recs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    out = np.empty(len(recs), dtype=object)
    for i, r in enumerate(recs):
        out[i] = pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)
    return {"idx": np.array([r["idx"] for r in recs], dtype=np.int64), "rec": out}


def load_task(batch: dict[str, np.ndarray], spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """CPU task: read + decode each path (bytes in, so metadata survives), then the cache look-ups."""
    from remove_people.pipeline.runner import _Work

    pipe = _pipeline(spec)
    recs: list[dict[str, Any]] = []
    summary = RunSummary()
    for idx, path, rel, out, guard in zip(batch["idx"], batch["path"], batch["rel"], batch["out"], batch["guard"]):
        work = _Work(InputItem(Path(str(path)), str(rel)), Path(str(out)))
        got = pipe.load_one(work, summary, frozenset({str(guard)}) if guard else frozenset())
        rec: dict[str, Any] = {"idx": int(idx), "work": None, "outcome": None, "logs": []}
        if isinstance(got, ImageOutcome):
            rec["outcome"] = got
        else:
            rec["work"] = got
        recs.append(rec)
    if recs:
        recs[0]["logs"].append({"stage_seconds": {"decode": summary.stage_seconds.get("decode", 0.0)}})
    _stage_call(pipe, recs, lambda works, s: pipe.lookup_batch(works))
    return _pack(recs)


class DetectActor:
    """Actor-pool stage: the detector's model loads once per actor (on its GPU when it has one)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.pipe = _pipeline(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        recs = _unpack(batch)
        _stage_call(self.pipe, recs, self.pipe.detect_batch)
        return _pack(recs)


def refine_task(batch: dict[str, np.ndarray], spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """CPU task: select whom to remove and refine the hole masks."""
    pipe = _pipeline(spec)
    recs = _unpack(batch)
    _stage_call(pipe, recs, pipe.refine_batch)
    return _pack(recs)


class InpaintActor:
    """Actor-pool stage: the inpainter (a network for deepfillv2/pconv) loads once per actor."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.pipe = _pipeline(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        recs = _unpack(batch)
        _stage_call(self.pipe, recs, self.pipe.inpaint_batch)
        return _pack(recs)


def write_task(batch: dict[str, np.ndarray], spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """CPU task: encode and write each output atomically; only outcomes and logs go back to the driver."""
    pipe = _pipeline(spec)
    recs = _unpack(batch)
    summary = RunSummary()
    for r in recs:
        w = r.pop("work")
        if r["outcome"] is None:
            r["outcome"] = w.failed if w.failed is not None else pipe.write_one(w, summary)
        r["work"] = None
    if recs:
        recs[0]["logs"].append({"stage_seconds": {"encode": summary.stage_seconds.get("encode", 0.0)}})
    return _pack(recs)


# --------------------------------------------------------------------------- driver side


class RayExecutor:
    """Runs the pipeline as a Ray Data job: on a local Ray, or on a cluster (``--ray-address auto``)."""

    name = "ray"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = ray_settings(config)
        import_ray()  # fail early, with the install hint, before any input is read

    def _init_ray(self, ray: Any) -> bool:
        """Connect to (or start) Ray; returns True if this call started it (and so shuts it down)."""
        if ray.is_initialized():
            return False
        s = self.settings
        kwargs: dict[str, Any] = {"include_dashboard": bool(s.get("include_dashboard")), "log_to_driver": True}
        if s.get("address"):
            kwargs["address"] = str(s["address"])
        else:  # a local Ray for this run only: size it from the config
            for key in ("num_cpus", "num_gpus", "object_store_memory"):
                if s.get(key) is not None:
                    kwargs[key] = int(s[key]) if key == "object_store_memory" else s[key]
        try:
            ray.init(**kwargs)
        except ConnectionError as err:
            raise UsageError(
                f"--ray-address {s.get('address')}: cannot connect to Ray ({err}); start it with `ray start --head` "
                f"or leave --ray-address out to start a local Ray"
            ) from None
        return True

    def _stage_args(self, ray: Any, stage: str, actor: bool) -> dict[str, Any]:
        """``map_batches`` arguments for one stage: batch size, CPUs/GPUs per worker, concurrency."""
        s = self.settings[stage]
        args: dict[str, Any] = {"batch_size": max(1, int(s.get("batch_size") or 8)), "num_cpus": float(s.get("num_cpus") or 0.5)}
        gpus = s.get("num_gpus")
        if gpus == "auto":
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        if gpus:
            args["num_gpus"] = float(gpus)
        conc = s.get("concurrency")
        if actor:  # an actor pool needs a size: N, or [min, max] to let Ray scale it
            if isinstance(conc, (list, tuple)):
                args["compute"] = ray.data.ActorPoolStrategy(min_size=int(conc[0]), max_size=int(conc[-1]))
            else:
                args["compute"] = ray.data.ActorPoolStrategy(size=int(conc or 1))
        elif conc is not None:  # tasks: at most N at a time (default: as many as fit)
            args["compute"] = ray.data.TaskPoolStrategy(size=int(conc))
        return args

    def run(
        self,
        inputs: InputSet,
        out_dir: Path,
        cache: ArtifactCache,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_message: Callable[[str], None] | None = None,
    ) -> RunSummary:
        ray = import_ray()
        from remove_people.pipeline.runner import Pipeline

        on_progress = on_progress or (lambda done, total, stage: None)
        on_message = on_message or (lambda msg: None)
        # A driver-side pipeline for what needs no model: output paths and the settings record.
        driver = Pipeline(self.config, cache=cache)
        summary = RunSummary(warnings=list(inputs.warnings))
        summary.settings = {
            "detect": driver.detector.identity(),
            "refine": driver.refiner.identity(),
            "select": driver.selector.identity(),
            "inpaint": driver.inpainter.identity(),
            "executor": "ray",
        }
        hits = {s: 0 for s in STAGES}
        misses = {s: 0 for s in STAGES}
        computed: set[str] = set()
        t_start = time.perf_counter()
        items = list(inputs.items)
        total = len(items)
        input_paths = {str(it.path.resolve()) for it in items}
        skip_existing = bool(self.config.run.get("skip_existing"))
        rows: list[dict[str, Any]] = []
        done: list[tuple[int, ImageOutcome]] = []
        for i, it in enumerate(items):
            out_path = driver.output_path(out_dir, it)
            if skip_existing and out_path.exists():
                done.append((i, ImageOutcome(it.rel, "skipped", output=str(out_path), skip_reason="exists")))
                continue
            resolved = str(out_path.resolve())
            rows.append({"idx": i, "path": str(it.path), "rel": it.rel, "out": str(out_path),
                         "guard": resolved if resolved in input_paths else ""})
        started = False
        try:
            if rows:
                started = self._init_ray(ray)
                ds = self._dataset(ray, rows, cache)
                on_progress(len(done), total, "ray")
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    for rec in _unpack(batch):
                        outcome: ImageOutcome = rec["outcome"]
                        done.append((rec["idx"], outcome))
                        if outcome.status == "failed":
                            on_message(f"failed: {outcome.message}")
                        for log in rec["logs"]:
                            for k, v in log.get("stage_seconds", {}).items():
                                summary.stage_seconds[k] = summary.stage_seconds.get(k, 0.0) + v
                            for s in STAGES:
                                hits[s] += log.get("hits", {}).get(s, 0)
                                misses[s] += log.get("misses", {}).get(s, 0)
                            summary.cache_corrupt += log.get("corrupt", 0)
                            computed.update(log.get("computed", []))
                            for msg in log.get("warnings", []):
                                summary.warnings.append(msg)
                                on_message(f"warning: {msg}")
                    on_progress(len(done), total, "ray")
            on_progress(len(done), total, "done")
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            driver.close()
            if started:
                ray.shutdown()
            summary.outcomes = [o for _, o in sorted(done, key=lambda p: p[0])]
            summary.wall_seconds = time.perf_counter() - t_start
            summary.cache_hits = hits
            summary.cache_misses = misses
            summary.models_loaded = sorted(computed)
        return summary

    def _dataset(self, ray: Any, rows: list[dict[str, Any]], cache: ArtifactCache) -> Any:
        """The lazy Ray Data plan: load → detect (actors) → refine (tasks) → inpaint (actors) → write."""
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        spec = {
            "job": f"{os.getpid()}-{time.time_ns()}",
            "config": copy.deepcopy(self.config.data),
            "cache_root": str(Path(cache.root).resolve()),
            "cache_enabled": bool(cache.enabled),
            "env": {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)},
        }
        load_bs = self._stage_args(ray, "load", actor=False)["batch_size"]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / load_bs)))
        ds = ds.map_batches(load_task, fn_kwargs={"spec": spec}, batch_format="numpy", **self._stage_args(ray, "load", False))
        ds = ds.map_batches(DetectActor, fn_constructor_kwargs={"spec": spec}, batch_format="numpy",
                            **self._stage_args(ray, "detect", True))
        ds = ds.map_batches(refine_task, fn_kwargs={"spec": spec}, batch_format="numpy", **self._stage_args(ray, "refine", False))
        ds = ds.map_batches(InpaintActor, fn_constructor_kwargs={"spec": spec}, batch_format="numpy",
                            **self._stage_args(ray, "inpaint", True))
        ds = ds.map_batches(write_task, fn_kwargs={"spec": spec}, batch_format="numpy", **self._stage_args(ray, "write", False))
        return ds
