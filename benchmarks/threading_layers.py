"""Which numba threading layer (and OpenMP spin) our PatchMatch fill should run its passes on.

Why this script: a fill is hundreds of short parallel passes with serial numpy between them,
so how the pool hands out a pass and how its threads wait decide the cores in use, and, when
another process holds a core, how much time spinning threads waste. Each case runs in a
fresh process (the layer and libgomp's spin are fixed at load), fills the 640x480 frame's
40 % person-shaped hole of ``fill_speed.py`` ``--repeats`` times with 2 threads after one
warm-up fill, and reports the median wall and CPU seconds per fill and the cores in use
(CPU s / wall s over all fills). ``--busy`` also runs a busy loop in another process, as the
detector or a second inpainting worker would.

    python benchmarks/threading_layers.py [--repeats 15] [--rounds 2] [--busy] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (label, environment): the default choice of ``kernels_numba``, then the alternatives.
CASES: list[tuple[str, dict[str, str]]] = [
    ("default (omp, spin 1000)", {}),
    ("workqueue", {"NUMBA_THREADING_LAYER": "workqueue"}),
    ("omp, spin 0", {"NUMBA_THREADING_LAYER": "omp", "GOMP_SPINCOUNT": "0"}),
    ("omp, spin 10000", {"NUMBA_THREADING_LAYER": "omp", "GOMP_SPINCOUNT": "10000"}),
    ("omp, libgomp's default spin", {"NUMBA_THREADING_LAYER": "omp"}),
]

_CHILD = """
import json, os, sys, time
sys.path.insert(0, {bench!r})
import numba
from fill_speed import size_holes
from remove_people.config import build_stage
stage = build_stage("inpaint", "patchmatch", threads=2)
_, _, img, hole = size_holes()[-1]
stage.inpaint(img, hole)
walls, cpus = [], []
for _ in range({repeats}):
    t, c = time.perf_counter(), time.process_time()
    stage.inpaint(img, hole)
    walls.append(time.perf_counter() - t)
    cpus.append(time.process_time() - c)
print(json.dumps({{"layer": numba.threading_layer(), "spin": os.environ.get("GOMP_SPINCOUNT"), "walls": walls, "cpus": cpus}}))
"""


def run_case(env: dict[str, str], repeats: int) -> dict:
    base = {
        k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
    }
    code = _CHILD.format(bench=str(ROOT / "benchmarks"), repeats=repeats)
    res = subprocess.run([sys.executable, "-c", code], env={**base, **env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True)  # fmt: skip
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["wall_s"] = statistics.median(out["walls"])
    out["cpu_s"] = statistics.median(out["cpus"])
    out["cores"] = sum(out["cpus"]) / sum(out["walls"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2, help="passes over all cases, alternating their order")
    ap.add_argument("--busy", action="store_true", help="hold one core with a busy loop in another process")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    rows: list[dict] = []
    try:
        for rnd in range(args.rounds):
            for label, env in CASES if rnd % 2 == 0 else CASES[::-1]:
                r = run_case(env, args.repeats)
                rows.append({"case": label, "round": rnd, **r})
                print(
                    f"{label:30s} layer {r['layer']:9s} wall {r['wall_s']:.3f} s  CPU {r['cpu_s']:.3f} s  cores {r['cores']:.2f}",
                    flush=True,
                )
    finally:
        if busy is not None:
            busy.kill()
    if args.json:
        args.json.write_text(
            json.dumps({"busy": args.busy, "cores": len(os.sched_getaffinity(0)), "rows": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
