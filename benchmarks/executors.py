"""Local vs Ray executor on this machine: same inputs, same settings, cold cache each.

Why: the Ray executor exists for clusters; on one small machine it can only add
overhead (starting Ray, pickling images between stages, one process per stage). This
measures how much, so docs/scale-out.md can say what to expect and when Ray pays.

    python benchmarks/executors.py --images 24 --repeats 1 [--num-cpus 2] [--json out.json]

Inputs are the first N photos of ../shared/data/coco-person (read in place, via a list
file in a temp folder); the inpainter is telea (deterministic and cheap, so detection
and the executor's overhead dominate). Each run gets a fresh cache and output folder.
Printed: wall seconds and images/s per executor, Ray's start-up time on its own, and
whether the two executors' outputs are byte-identical.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from remove_people.shared_data import shared_dir

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_dir().resolve()  # remove_people/shared_data.py: $REMOVE_PEOPLE_SHARED, else ../shared
os.environ.setdefault("REMOVE_PEOPLE_MODEL_DIR", str(SHARED / "weights"))
os.environ.setdefault("REMOVE_PEOPLE_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--inpainter", default="telea")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import ray

    from remove_people.config import Config
    from remove_people.pipeline.cache import ArtifactCache
    from remove_people.pipeline.executors import make_executor
    from remove_people.pipeline.inputs import collect_inputs

    work = Path(tempfile.mkdtemp(prefix="rp-bench-exec-"))
    names = sorted(p for p in (SHARED / "data" / "coco-person" / "images").iterdir() if p.suffix == ".jpg")[: args.images]
    listing = work / "inputs.txt"
    listing.write_text("".join(f"{p}\n" for p in names))
    cfg = Config.load()
    cfg.select("inpaint", args.inpainter)
    cfg.data["detect"]["yolo"]["weights"] = str(SHARED / "weights" / "yolo11n-seg_from_openvino_int8.pt")

    t = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, object_store_memory=200 * 1024**2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t

    rows: list[dict] = []
    outs: dict[str, Path] = {}
    for rep in range(args.repeats):
        for name in ("local", "ray"):
            out, cache = work / f"out-{name}-{rep}", work / f"cache-{name}-{rep}"
            summary = make_executor(cfg, name).run(collect_inputs(listing), out, ArtifactCache(cache))
            rows.append({
                "executor": name, "repeat": rep, "images": len(summary.outcomes), "failed": summary.count("failed"),
                "wall_s": round(summary.wall_seconds, 2), "img_per_s": round(len(summary.outcomes) / summary.wall_seconds, 2),
                "stage_s": {k: round(v, 2) for k, v in summary.stage_seconds.items()},
            })
            outs[name] = out
            print(json.dumps(rows[-1]), flush=True)
    ray.shutdown()
    identical = _tree(outs["local"]) == _tree(outs["ray"])
    result = {"machine_cpus": os.cpu_count(), "ray_num_cpus": args.num_cpus, "ray_init_s": round(ray_start, 2),
              "inpainter": args.inpainter, "runs": rows, "outputs_identical": identical}
    print(f"ray.init: {ray_start:.1f} s; outputs byte-identical: {identical}")
    print("| executor | images | wall s | img/s |\n| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['executor']} | {r['images']} | {r['wall_s']} | {r['img_per_s']} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
