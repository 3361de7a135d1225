"""Throughput, peak memory and baselines of the remove-people pipeline, in one run (issue 7).

Why one script that measures everything at once: absolute timings on a shared
laptop-class CPU swing with the load, so every claim is a *ratio* between two
figures taken minutes apart in the same run (ours vs the naive chain, ours vs
ultralytics' CLI, cold vs warm). Each case runs in its own child process, so its
peak RSS is its own (the larger of ``ru_maxrss`` from ``os.wait4`` and the sampled sum
over the child and its inpainting worker processes), and one case's memory or thread
pools never leak into the next. CPU seconds likewise include the workers.

What it measures (``--help`` for the knobs):

- ``pipeline``: ``Pipeline.run`` over N coco-person photos, per inpainter; models
  loaded by a warm-up run first; then R cold runs (empty cache each) and, after each,
  a warm re-run (same cache, fresh output folder). Median images/s, per-stage
  images/s (from the run summary's stage seconds), peak RSS.
- ``naive`` (baseline a): per photo, ``cv2.imread``; ultralytics ``predict`` on that one
  photo; the same select and refine; the inpainter a user would glue in (``NAIVE_INPAINTER``:
  the ``pypatchmatch`` package for our ``patchmatch``, else the same one) with ``strategy=full``
  on the whole photo; ``cv2.imwrite``. Median of R passes after one warm-up photo.
- ``detect``: our detector alone over the folder (decode on the I/O thread pool, batches)
  as a one-shot child process, against ultralytics' own ``yolo segment predict`` CLI
  (baseline b) over the same folder and weights, same settings, both timed as whole
  processes (start, import, load, predict) and median of R.
- ``sizes``: each inpainter at 512/1024/2048 px long side with person-shaped holes from
  the COCO annotations (dilated as the refiner does), ``crop`` strategy (and ``full``
  at 512 px for scale).
- ``rss``: peak RSS of a telea run (cache off, so every image is computed) over
  ``--rss-counts`` images (the coco photos repeated through symlinks).

Usage::

    python benchmarks/run.py [--images 16] [--repeats 3] [--inpainters patchmatch,deepfillv2]
                             [--rss-counts 100,1000] [--skip sizes,rss] [--json out.json]
                             [--set inpaint.patchmatch.max_hole_pixels=60000] [--set run.inpaint_workers=0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from remove_people.shared_data import shared_dir

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_dir().resolve()  # remove_people/shared_data.py: $REMOVE_PEOPLE_SHARED, else ../shared
COCO = SHARED / "data" / "coco-person"
DEEPFILL_FIXTURE = SHARED / "fixtures" / "deepfillv2_tf" / "random_G_seed1101.pth"
YOLO_WEIGHTS = "yolo11n-seg"
#: DeepFillv2 parameters when the config has no deepfillv2 section (it is optional there).
DEEPFILL_DEFAULTS = {
    "strategy": "crop", "margin": 0.5, "min_margin": 32, "max_side": 512, "feather": 0, "variant": "places2",
    "layout": "tf", "weights": None, "device": "auto", "precision": "fp32", "batch_size": 4,
}  # fmt: skip
SIZES = (512, 1024, 2048)
SIZE_PHOTOS = ("000000000139.jpg", "000000030752.jpg", "000000034417.jpg")
STAGE_NAMES = ("decode", "detect", "refine", "inpaint", "encode")
#: The inpainter of the naive chain for each of ours: a hand-glued script fills with the
#: ``pypatchmatch`` package (ours, ``patchmatch``, is this project's own fill).
NAIVE_INPAINTER = {"patchmatch": "pypatchmatch"}


# -- shared helpers (parent and children) ---------------------------------------------------


def child_env() -> dict[str, str]:
    """Offline, quiet ultralytics and private caches, so a benchmark never touches the network or ~."""
    tmp = Path(tempfile.gettempdir())
    env = dict(os.environ)
    env.setdefault("YOLO_OFFLINE", "1")
    env.setdefault("YOLO_AUTOINSTALL", "False")
    env.setdefault("YOLO_VERBOSE", "False")
    env.setdefault("YOLO_CONFIG_DIR", str(tmp / "rp-bench-yolo-cfg"))
    env.setdefault("REMOVE_PEOPLE_OFFLINE", "1")
    env.setdefault("REMOVE_PEOPLE_HOME", str(tmp / "rp-bench-home"))
    env.setdefault("REMOVE_PEOPLE_MODEL_DIR", str(SHARED / "weights"))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def coco_photos() -> list[Path]:
    return sorted((COCO / "images").glob("*.jpg"))


def make_input_dir(root: Path, count: int) -> Path:
    """A folder of ``count`` symlinks to the coco photos (repeated, under new names, when count > 135).

    Symlinks, not copies: the shared files stay where they are and nothing is written into them.
    """
    photos = coco_photos()
    if not photos:
        raise SystemExit(f"{COCO / 'images'}: no coco-person photos there; set REMOVE_PEOPLE_SHARED to the shared folder")
    d = root / f"in{count}"
    d.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        src = photos[i % len(photos)]
        name = src.name if i < len(photos) else f"r{i // len(photos)}_{src.name}"
        (d / name).symlink_to(src)
    return d


def load_config(inpainter: str, threads: int, overrides: dict[str, Any] | None = None, sets: list[str] | None = None) -> Any:
    """The default config with ``inpainter`` selected; DeepFillv2 gets the random-weight fixture.

    ``sets``: ``--set`` items (``KEY=VALUE``) as the CLI takes them; ``overrides`` (the naive
    chain's ``strategy: full``) win over them.
    """
    from remove_people.config import Config

    cfg = Config.load(overrides=sets or [])
    cfg.select("inpaint", inpainter)
    if inpainter == "deepfillv2":
        section = cfg.data["inpaint"].setdefault("deepfillv2", {})
        for k, v in DEEPFILL_DEFAULTS.items():
            section.setdefault(k, v)
        section["weights"] = str(DEEPFILL_FIXTURE)
        section["device"] = "cpu" if threads else section["device"]
    for k, v in (overrides or {}).items():
        cfg.data["inpaint"][inpainter][k] = v
    return cfg


def set_threads(threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tree() -> list[Any]:
    import psutil  # an ultralytics dependency

    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def tree_cpu_s() -> float:
    """User + system CPU seconds of this process and its live worker processes.

    Why not ``time.process_time``: inpainting runs in worker processes, and their time
    counts as much as ours; the workers live across runs, so deltas of this are per run.
    """
    total = 0.0
    for p in _tree():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - a worker that just left
            pass
    return total


class TreeMemory:
    """Peak of the *summed* RSS of this process and its workers, sampled every 100 ms.

    Why: ``wait4``'s ``ru_maxrss`` is the largest single process of a tree, blind to the
    memory that inpainting workers add beside the main process.
    """

    def __init__(self, interval: float = 0.1) -> None:
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            total = 0
            for p in _tree():
                try:
                    total += p.memory_info().rss
                except Exception:  # noqa: BLE001
                    pass
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


# -- child cases ----------------------------------------------------------------------------


def case_pipeline(spec: dict) -> dict:
    """Warm-up run (loads models), then R × (cold run on an empty cache, warm re-run on the same cache)."""
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.inputs import InputSet, collect_inputs
    from remove_people.pipeline.runner import Pipeline

    set_threads(spec["threads"])
    cfg = load_config(spec["inpainter"], spec["threads"], sets=spec.get("set"))
    cfg.run["batch_size"] = spec.get("batch_size") or cfg.run["batch_size"]
    inputs = collect_inputs(spec["input"])
    work = Path(spec["work"])
    t0 = time.perf_counter()
    pipe = Pipeline(cfg, cache=ArtifactCache(work / "cache-warmup"))
    warm_items = InputSet(inputs.items[-2:], inputs.root, [])  # photos not among the first ones timed
    pipe.run(warm_items, work / "out-warmup")
    load_s = time.perf_counter() - t0
    if spec.get("profile"):
        from pyinstrument import Profiler

        prof = Profiler()
        prof.start()
    cold, cold_cpu, warm, stages, outcomes = [], [], [], [], {}
    for r in range(spec["repeats"]):
        cache = ArtifactCache(work / f"cache{r}")
        pipe.cache = cache
        c0 = tree_cpu_s()
        s = pipe.run(inputs, work / f"out{r}-cold")
        cold_cpu.append(tree_cpu_s() - c0)
        cold.append(s.wall_seconds)
        stages.append(dict(s.stage_seconds))
        outcomes = {st: sum(1 for o in s.outcomes if o.status == st) for st in ("changed", "unchanged", "failed")}
        pipe.cache = ArtifactCache(work / f"cache{r}")  # fresh stats, same entries
        w = pipe.run(inputs, work / f"out{r}-warm")
        warm.append(w.wall_seconds)
        if w.cache_misses.get("inpaint") or w.cache_misses.get("detect"):
            raise SystemExit(f"warm re-run missed the cache: {w.cache_misses}")
        shutil.rmtree(work / f"out{r}-cold", ignore_errors=True)
        shutil.rmtree(work / f"out{r}-warm", ignore_errors=True)
    if spec.get("profile"):
        prof.stop()
        Path(spec["profile"]).write_text(prof.output_text(unicode=False, color=False, show_all=False))
    n = len(inputs.items)
    stage_median = {k: statistics.median(st.get(k, 0.0) for st in stages) for k in STAGE_NAMES}
    return {
        "images": n, "cold_s": cold, "warm_s": warm, "warmup_and_load_s": load_s, "outcomes": outcomes,
        "cold_cpu_s_per_img": statistics.median(cold_cpu) / n,
        "cold_img_s": n / statistics.median(cold), "warm_img_s": n / statistics.median(warm),
        "stage_s": stage_median,
        "stage_img_s": {k: (n / v if v > 0 else None) for k, v in stage_median.items()},
    }  # fmt: skip


def case_naive(spec: dict) -> dict:
    """Baseline (a): one photo at a time, no batching, no crops, no cache, no I/O overlap."""
    import cv2
    import numpy as np

    from remove_people.config import build_stage
    from remove_people.pipeline.inputs import collect_inputs
    from remove_people.stages.detect.base import Instance
    from remove_people.stages.select import Selector

    set_threads(spec["threads"])
    name = NAIVE_INPAINTER.get(spec["inpainter"], spec["inpainter"])
    cfg = load_config(name, spec["threads"], {"strategy": "full"}, sets=spec.get("set"))
    detector = build_stage("detect", config=cfg)
    refiner = build_stage("refine", config=cfg)
    inpainter = build_stage("inpaint", config=cfg)
    selector = Selector.from_config(cfg)
    yp = detector.params
    from ultralytics import YOLO

    # ultralytics on the .pt, as a hand-glued script runs it (not our OpenVINO runtime), loaded once:
    # the naive chain is naive about batching and crops, not that naive.
    model = YOLO(str(detector.weights_path()), task="segment")
    inputs = collect_inputs(spec["input"])
    out = Path(spec["work"]) / "naive-out"
    out.mkdir(parents=True, exist_ok=True)
    times = {k: 0.0 for k in STAGE_NAMES}

    def one(item: Any) -> None:
        t = time.perf_counter()
        bgr = cv2.imread(str(item.path))
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        t1 = time.perf_counter()
        r = model.predict(bgr, retina_masks=True, classes=yp.classes, conf=yp.conf, iou=yp.iou, imgsz=yp.imgsz,
                          max_det=yp.max_det, device="cpu", verbose=False)[0]  # fmt: skip
        instances = []
        if r.masks is not None and len(r.boxes):
            for m, b, c, k in zip(r.masks.data.cpu().numpy() > 0.5, r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy(), r.boxes.cls.cpu().numpy()):
                if m.any():
                    instances.append(Instance(m, float(c), str(model.names[int(k)]), int(k), tuple(float(v) for v in b)))
        t2 = time.perf_counter()
        remove, protect = selector.select(instances, rgb.shape[:2], item)
        mask = refiner.refine(rgb, remove, protect) if remove else np.zeros(rgb.shape[:2], np.uint8)
        t3 = time.perf_counter()
        result = inpainter.inpaint(rgb, mask) if mask.any() else rgb
        t4 = time.perf_counter()
        cv2.imwrite(str(out / item.path.name), np.ascontiguousarray(result[:, :, ::-1]))
        t5 = time.perf_counter()
        for k, a, b in zip(STAGE_NAMES, (t, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
            times[k] += b - a

    one(inputs.items[-1])  # warm-up: model load, first-call overheads
    times = {k: 0.0 for k in STAGE_NAMES}
    passes, cpu = [], []
    for _ in range(spec["repeats"]):
        t0, c0 = time.perf_counter(), time.process_time()
        for item in inputs.items:
            one(item)
        passes.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    n = len(inputs.items)
    stage_s = {k: v / spec["repeats"] for k, v in times.items()}
    return {"images": n, "inpainter": name, "pass_s": passes, "img_s": n / statistics.median(passes), "stage_s": stage_s,
            "cpu_s_per_img": statistics.median(cpu) / n,
            "stage_img_s": {k: (n / v if v > 0 else None) for k, v in stage_s.items()}}  # fmt: skip


def case_detect(spec: dict) -> dict:
    """Our detect stage alone, as a whole process: decode on the I/O pool, batched ``detect``."""
    from concurrent.futures import ThreadPoolExecutor

    from remove_people.config import Config, build_stage
    from remove_people.pipeline.image_reader import read_image
    from remove_people.pipeline.inputs import collect_inputs
    from remove_people.stages.detect.base import Frame

    set_threads(spec["threads"])
    cfg = Config.load(overrides=spec.get("set") or [])
    detector = build_stage("detect", config=cfg)
    items = collect_inputs(spec["input"]).items
    bs = int(cfg.run["batch_size"])
    found = 0
    with ThreadPoolExecutor(int(cfg.run["io_threads"])) as pool:
        batches = [items[i : i + bs] for i in range(0, len(items), bs)]
        nxt = [pool.submit(read_image, it.path) for it in batches[0]]
        for k, batch in enumerate(batches):
            loaded = [f.result() for f in nxt]
            nxt = [pool.submit(read_image, it.path) for it in batches[k + 1]] if k + 1 < len(batches) else []
            frames = [Frame(li.rgb, it.path, it.rel) for li, it in zip(loaded, batch)]
            found += sum(len(x) for x in detector.detect(frames))
    return {"images": len(items), "persons": found}


# -- parent: running children ------------------------------------------------------------


def run_child(args: list[str], label: str, timeout: float | None = None) -> tuple[str, float, float]:
    """Run a command, return (stdout, wall seconds, its peak RSS in MB from ``os.wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=child_env(), cwd=str(REPO))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"{label} failed (exit {proc.returncode})")
    return stdout, wall, usage.ru_maxrss / 1024


def run_case(kind: str, spec: dict) -> dict:
    """One child case of this script; its JSON result plus its wall time and peak RSS."""
    stdout, wall, rss = run_child([sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(spec)], kind)
    result = json.loads(stdout.strip().splitlines()[-1])
    # The larger of wait4's (largest single process) and the sampled sum over the process tree.
    result.update(process_wall_s=wall, peak_rss_mb=max(rss, result.get("peak_tree_rss_mb", 0.0)))
    return result


def machine() -> dict:
    import torch

    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import ultralytics

    return {
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
        "torch": torch.__version__, "torch_threads_default": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "ultralytics": ultralytics.__version__, "python": platform.python_version(),
        "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }  # fmt: skip


def bench_detect(input_dir: Path, repeats: int, threads: int, sets: list[str] | None = None) -> dict:
    """Ours vs ``yolo segment predict``: same folder, weights, imgsz, conf, classes, retina masks.

    ``sets``: ``--set`` overrides for our side only (``detect.yolo.backend=torch`` shows the gain
    without OpenVINO); the CLI always runs the ``.pt`` with ultralytics' defaults.
    """
    from remove_people.models.resolve import resolve_weights

    os.environ.update({k: v for k, v in child_env().items() if k.startswith(("REMOVE_PEOPLE", "YOLO"))})
    weights = str(resolve_weights(YOLO_WEIGHTS))
    yolo_bin = shutil.which("yolo") or str(Path(sys.executable).with_name("yolo"))
    cli = [yolo_bin, "segment", "predict", f"model={weights}", f"source={input_dir}", "save=False", "imgsz=640",
           "conf=0.25", "iou=0.7", "classes=0", "retina_masks=True", "device=cpu", "verbose=False"]  # fmt: skip
    ours, theirs = [], []
    run_child(cli, "yolo CLI warm-up")  # page cache, .pyc files
    spec = {"input": str(input_dir), "threads": threads, "set": sets or []}
    run_case("detect", spec)  # also makes the OpenVINO export, once, outside the timing
    for _ in range(repeats):
        _, wall, rss_cli = run_child(cli, "yolo CLI")
        theirs.append((wall, rss_cli))
        r = run_case("detect", spec)
        ours.append((r["process_wall_s"], r["peak_rss_mb"]))
    n = len(list(input_dir.iterdir()))
    med_ours, med_cli = statistics.median(w for w, _ in ours), statistics.median(w for w, _ in theirs)
    return {"images": n, "ours_s": [w for w, _ in ours], "cli_s": [w for w, _ in theirs],
            "ours_img_s": n / med_ours, "cli_img_s": n / med_cli, "ratio": med_cli / med_ours,
            "ours_peak_rss_mb": max(r for _, r in ours), "cli_peak_rss_mb": max(r for _, r in theirs),
            "cli_command": " ".join(cli)}  # fmt: skip


def case_sizes(spec: dict) -> dict:
    """Inpaint time by long side with COCO person silhouettes as holes (dilated like the refiner)."""
    import cv2
    import numpy as np

    from remove_people.config import build_stage

    set_threads(spec["threads"])
    coco = json.loads((COCO / "annotations" / "instances.json").read_text())
    rows = []
    for name in spec["inpainters"]:
        for strategy, sides in (("crop", SIZES), ("full", (512,))):
            cfg = load_config(name, spec["threads"], {"strategy": strategy})
            inp = build_stage("inpaint", config=cfg)
            for side in sides:
                times, holes = [], []
                for k, photo in enumerate(SIZE_PHOTOS):
                    image = cv2.cvtColor(cv2.imread(str(COCO / "images" / photo)), cv2.COLOR_BGR2RGB)
                    hole = person_mask(coco, photo, image.shape[:2])
                    f = side / max(image.shape[:2])
                    size = (round(image.shape[1] * f), round(image.shape[0] * f))
                    image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
                    hole = cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST)
                    hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * 9 + 1,) * 2))
                    if k == 0 and side == sides[0]:
                        inp.inpaint(image, hole)  # warm-up (model load)
                    t = time.perf_counter()
                    for _ in range(spec["repeats"]):
                        inp.inpaint(image, hole)
                    times.append((time.perf_counter() - t) / spec["repeats"])
                    holes.append(float((hole > 0).mean()))
                rows.append({"inpainter": name, "strategy": strategy, "side": side, "s_per_image": statistics.median(times),
                             "times_s": times, "hole_fraction": statistics.median(holes)})  # fmt: skip
            inp.close()
    return {"rows": rows, "photos": list(SIZE_PHOTOS)}


def person_mask(coco: dict, file_name: str, shape: tuple[int, int]) -> Any:
    """The union of the photo's COCO person polygons, 255 = hole."""
    import cv2
    import numpy as np

    image_id = next(im["id"] for im in coco["images"] if im["file_name"] == file_name)
    mask = np.zeros(shape, np.uint8)
    for a in coco["annotations"]:
        if a["image_id"] == image_id and a["category_id"] == 1 and isinstance(a["segmentation"], list):
            for poly in a["segmentation"]:
                cv2.fillPoly(mask, [np.asarray(poly, np.float64).reshape(-1, 2).round().astype(np.int32)], 255)
    return mask


def case_rss(spec: dict) -> dict:
    """One telea run with the cache off over the given folder (peak RSS comes from the parent's wait4)."""
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.inputs import collect_inputs
    from remove_people.pipeline.runner import Pipeline

    set_threads(spec["threads"])
    cfg = load_config("telea", spec["threads"])
    cfg.run["cache"] = False
    inputs = collect_inputs(spec["input"])
    pipe = Pipeline(cfg, cache=ArtifactCache(Path(spec["work"]) / "cache", enabled=False))
    s = pipe.run(inputs, Path(spec["work"]) / "out")
    shutil.rmtree(Path(spec["work"]) / "out", ignore_errors=True)
    failed = sum(1 for o in s.outcomes if o.status == "failed")
    return {"images": len(inputs.items), "wall_s": s.wall_seconds, "failed": failed, "rss_self_mb": peak_rss_mb()}


CASES = {"pipeline": case_pipeline, "naive": case_naive, "detect": case_detect, "sizes": case_sizes, "rss": case_rss}


# -- the report -----------------------------------------------------------------------------


def fmt(v: Any, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def report(res: dict) -> str:
    m = res["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['usable_cores']} usable cores, torch {m['torch']} ({res['threads']} threads), "
        f"ultralytics {m['ultralytics']}, device {m['device']}; load average before {res['load_before']}, after {res['load_after']}",
        f"inputs: {res['images']} coco-person photos, repeats {res['repeats']} (medians)",
        "",
    ]
    if res.get("pipeline"):
        lines += ["| inpainter | ours cold img/s | naive (a) img/s | ratio (target ≥ 3) | CPU s/img ours / naive | warm re-run img/s | cold/warm (target ≥ 50) | peak RSS ours / naive MB |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for name, p in res["pipeline"].items():
            nv = res["naive"].get(name)
            ratio = p["cold_img_s"] / nv["img_s"] if nv else None
            lines.append(f"| {name} | {fmt(p['cold_img_s'])} | {fmt(nv and nv['img_s'])} | {fmt(ratio)}× "
                         f"| {fmt(p['cold_cpu_s_per_img'])} / {fmt(nv and nv['cpu_s_per_img'])} | {fmt(p['warm_img_s'], 1)} "
                         f"| {fmt(p['warm_img_s'] / p['cold_img_s'], 1)}× | {p['peak_rss_mb']:.0f} / {fmt(nv and nv['peak_rss_mb'], 0)} |")  # fmt: skip
        lines += ["", "per stage, images/s of summed stage time (decode/encode run on the I/O pool, overlapped):", "",
                  "| run | " + " | ".join(STAGE_NAMES) + " |", "| --- " * (len(STAGE_NAMES) + 1) + "|"]  # fmt: skip
        for name, p in res["pipeline"].items():
            lines.append(f"| ours {name} | " + " | ".join(fmt(p["stage_img_s"].get(k)) for k in STAGE_NAMES) + " |")
            nv = res["naive"].get(name)
            if nv:
                lines.append(f"| naive {name} | " + " | ".join(fmt(nv["stage_img_s"].get(k)) for k in STAGE_NAMES) + " |")
    if res.get("detect"):
        d = res["detect"]
        lines += ["", "| detect alone, whole process | ours img/s | `yolo segment predict` img/s | ratio (target ≥ 1) | peak RSS ours / CLI MB |",
                  "| --- | --- | --- | --- | --- |",
                  f"| {d['images']} photos | {fmt(d['ours_img_s'])} | {fmt(d['cli_img_s'])} | {fmt(d['ratio'])}× | {d['ours_peak_rss_mb']:.0f} / {d['cli_peak_rss_mb']:.0f} |"]  # fmt: skip
    if res.get("sizes"):
        lines += ["", "| inpainter | strategy | long side | s / image | hole % |", "| --- | --- | --- | --- | --- |"]
        for r in res["sizes"]["rows"]:
            lines.append(f"| {r['inpainter']} | {r['strategy']} | {r['side']} | {r['s_per_image']:.3f} | {100 * r['hole_fraction']:.1f} |")
    if res.get("rss"):
        lines += ["", "| telea run, cache off | images | wall s | peak RSS MB |", "| --- | --- | --- | --- |"]
        for r in res["rss"]:
            lines.append(f"| | {r['images']} | {r['wall_s']:.0f} | {r['peak_rss_mb']:.0f} |")
        if len(res["rss"]) > 1:
            a, b = res["rss"][0], res["rss"][-1]
            lines.append(f"\npeak RSS {b['images']} vs {a['images']} images: {100 * (b['peak_rss_mb'] / a['peak_rss_mb'] - 1):+.1f}% (target within 10%)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=16, help="coco-person photos per pipeline/naive/detect pass (≤ 135 distinct)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per case (median reported)")
    ap.add_argument("--inpainters", default="patchmatch,deepfillv2")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the children (0 = torch's default)")
    ap.add_argument("--rss-counts", default="100,1000", help="image counts for the peak-RSS runs")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override for our pipeline, our detector and the naive chain, as the CLI's --set (repeatable)")
    ap.add_argument("--skip", default="", help="comma list of: pipeline, naive, detect, sizes, rss")
    ap.add_argument("--profile", type=Path, help="write a pyinstrument text profile of the first inpainter's cold/warm runs")
    ap.add_argument("--json", type=Path, default=Path("benchmark.json"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # internal: KIND SPEC_JSON
    args = ap.parse_args()

    if args.child:
        kind, spec = args.child
        for k, v in child_env().items():
            os.environ.setdefault(k, v)
        # Only the cases that start worker processes pay for sampling (a few ms per sample).
        memory = TreeMemory() if kind in ("pipeline", "rss") else None
        result = CASES[kind](json.loads(spec))
        if memory is not None:
            result["peak_tree_rss_mb"] = memory.stop()
        print(json.dumps(result))
        return

    for k, v in child_env().items():
        os.environ.setdefault(k, v)
    skip = set(filter(None, args.skip.split(",")))
    inpainters = [s for s in args.inpainters.split(",") if s]
    res: dict[str, Any] = {"machine": machine(), "images": args.images, "repeats": args.repeats, "threads": args.threads or res_threads(), "set": args.set,
                           "load_before": os.getloadavg(), "pipeline": {}, "naive": {}}  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="rp-bench-"))
    try:
        input_dir = make_input_dir(work, args.images)
        for name in inpainters:
            if "pipeline" not in skip:
                spec = {"input": str(input_dir), "inpainter": name, "threads": args.threads, "repeats": args.repeats,
                        "work": str(work / f"pipe-{name}"), "set": args.set, "profile": str(args.profile) if args.profile and name == inpainters[0] else None}  # fmt: skip
                res["pipeline"][name] = run_case("pipeline", spec)
                print(f"pipeline {name}: {res['pipeline'][name]['cold_img_s']:.2f} img/s cold", flush=True)
            if "naive" not in skip:
                spec = {"input": str(input_dir), "inpainter": name, "threads": args.threads, "repeats": args.repeats, "work": str(work / f"naive-{name}"),
                        "set": args.set}
                res["naive"][name] = run_case("naive", spec)
                print(f"naive {name}: {res['naive'][name]['img_s']:.2f} img/s", flush=True)
        if "detect" not in skip:
            res["detect"] = bench_detect(input_dir, args.repeats, args.threads, args.set)
            print(f"detect: ours {res['detect']['ours_img_s']:.2f} vs CLI {res['detect']['cli_img_s']:.2f} img/s", flush=True)
        if "sizes" not in skip:
            res["sizes"] = run_case("sizes", {"inpainters": inpainters, "threads": args.threads, "repeats": 1})
            print("sizes done", flush=True)
        if "rss" not in skip:
            res["rss"] = []
            for count in (int(c) for c in args.rss_counts.split(",") if c):
                d = make_input_dir(work / "rss", count)
                res["rss"].append(run_case("rss", {"input": str(d), "threads": args.threads, "work": str(work / f"rss-run{count}")}))
                print(f"rss {count}: {res['rss'][-1]['peak_rss_mb']:.0f} MB in {res['rss'][-1]['wall_s']:.0f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["load_after"] = os.getloadavg()
    text = report(res)
    print("\n" + text)
    args.json.write_text(json.dumps(res, indent=1, default=str))
    print(f"\nwrote {args.json}")


def res_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
