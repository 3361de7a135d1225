"""Our PatchMatch fill (``remove_people.fill``, plugin ``patchmatch``): the promises it makes.

- only hole pixels change, and the hole really gets new content;
- the same seed gives the same bytes, also with another thread count, and on torch (the GPU
  path, run here on the CPU) exactly as on numba;
- an excluded region (a kept or missed person) is never a source: no match points into it,
  and none of its colours reaches the hole, where without the exclusion they do.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import inspect
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from remove_people.config import build_stage
from remove_people.fill import FillSettings, patch_fill
from remove_people.fill.kernels_numba import NumbaKernels

SETTINGS = FillSettings()  # the defaults, as the plugin's config gives them


def _photo(shared, name: str = "000000000139.jpg") -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(shared / "data/coco-person/images" / name)), cv2.COLOR_BGR2RGB)


def _ellipse_hole(shape: tuple[int, int], centre: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    hole = np.zeros(shape, np.uint8)
    cv2.ellipse(hole, centre, axes, 0, 0, 360, 255, -1)
    return hole


def test_only_hole_pixels_change_and_the_hole_is_refilled(shared) -> None:
    img = _photo(shared)[150:330, 250:490].copy()
    hole = _ellipse_hole(img.shape[:2], (120, 90), (35, 60))
    out = build_stage("inpaint", "patchmatch").inpaint(img, hole)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(out[hole == 0], img[hole == 0])
    assert np.abs(out[hole > 0].astype(int) - img[hole > 0]).mean() > 2


def test_same_seed_same_bytes_any_thread_count_other_seed_differs(shared) -> None:
    img = _photo(shared, "000000030752.jpg")[:200, :260].copy()
    hole = _ellipse_hole(img.shape[:2], (130, 100), (40, 55)) > 0
    one = patch_fill(img, hole, None, SETTINGS, NumbaKernels(threads=1))
    two = patch_fill(img, hole, None, SETTINGS, NumbaKernels(threads=2))
    again = patch_fill(img, hole, None, SETTINGS, NumbaKernels(threads=2))
    other = patch_fill(img, hole, None, FillSettings(seed=1), NumbaKernels(threads=2))
    assert np.array_equal(one, two) and np.array_equal(two, again)
    assert not np.array_equal(one, other), "the seed does not reach the search"


def test_torch_path_gives_the_numba_bytes(shared) -> None:
    """The GPU path's code, run on the CPU: the same integer arithmetic and candidate order as numba."""
    pytest.importorskip("torch")
    from remove_people.fill.kernels_torch import TorchKernels

    img = _photo(shared)[100:196, 200:320].copy()
    hole = _ellipse_hole(img.shape[:2], (60, 48), (18, 30)) > 0
    excl = np.zeros_like(hole)
    excl[:, :16] = True
    a = patch_fill(img, hole, excl, SETTINGS, NumbaKernels(threads=2))
    b = patch_fill(img, hole, excl, SETTINGS, TorchKernels("cpu"))
    assert np.array_equal(a, b), f"{int((a != b).any(axis=2).sum())} pixels differ between numba and torch"


class _Recorder(NumbaKernels):
    """Numba kernels that keep every NNF the search returns, with the level's shape and patch radius."""

    def __init__(self) -> None:
        super().__init__(threads=2)
        self.nnfs: list[tuple[tuple[int, int], int, np.ndarray]] = []

    def search(self, img, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt):  # noqa: ANN001, ANN201
        nnf, dist = super().search(img, wgt, shole, hpen, ty, tx, tidx, valid, nnf, dist, r, jumps, radii, salt)
        self.nnfs.append((wgt.shape, r, nnf.copy()))
        return nnf, dist


def _scene_with_a_unique_person(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey textured ground; a magenta/green checkered 'person' (colours found nowhere else) right beside a hole."""
    h, w = 120, 160
    base = np.linspace(90, 150, w, dtype=np.float32)[None, :, None] + rng.normal(0, 12, (h, w, 3))
    img = np.clip(base, 0, 255).astype(np.uint8)
    person = np.zeros((h, w), bool)
    person[30:90, 40:70] = True
    yy, xx = np.mgrid[0:h, 0:w]
    checker = ((yy // 4 + xx // 4) % 2).astype(bool)
    img[person & checker] = (230, 20, 220)
    img[person & ~checker] = (20, 220, 40)
    hole = np.zeros((h, w), bool)
    hole[25:95, 70:110] = True  # shares the person's right edge
    return img, hole, person


def _unique_colour(px: np.ndarray) -> np.ndarray:
    p = px.astype(int)
    magenta = (p[:, 0] - p[:, 1] > 60) & (p[:, 2] - p[:, 1] > 60)
    green = (p[:, 1] - p[:, 0] > 60) & (p[:, 1] - p[:, 2] > 60)
    return magenta | green


def test_excluded_pixels_are_never_a_source() -> None:
    img, hole, person = _scene_with_a_unique_person(np.random.default_rng(0))
    # Without the exclusion the person is a source, and its colours reach the hole: the test can fail.
    free = patch_fill(img, hole, None, SETTINGS, NumbaKernels(threads=2))
    assert _unique_colour(free[hole]).sum() > 20

    rec = _Recorder()
    out = patch_fill(img, hole, person, SETTINGS, rec)
    assert np.array_equal(out[~hole], img[~hole])
    assert _unique_colour(out[hole]).sum() == 0, "a colour of the excluded person was copied into the hole"
    finest = [(r, nnf) for shape, r, nnf in rec.nnfs if shape == hole.shape]
    assert finest
    for r, nnf in finest:
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                assert not person[nnf[:, 0] + dy, nnf[:, 1] + dx].any(), "a match's patch covers an excluded pixel"


def test_plugin_fill_takes_excludes_and_honours_them() -> None:
    img, hole, person = _scene_with_a_unique_person(np.random.default_rng(1))
    stage = build_stage("inpaint", "patchmatch")
    assert stage.uses_exclude
    h8, e8 = hole.astype(np.uint8) * 255, person.astype(np.uint8) * 255
    (out,) = stage.fill([img], [h8], excludes=[e8])
    assert _unique_colour(np.asarray(out)[hole]).sum() == 0
    if "exclude" in inspect.signature(stage.inpaint).parameters:  # the base's side of the contract
        full = stage.inpaint(img, h8, exclude=e8)
        assert np.array_equal(full[~hole], img[~hole]) and _unique_colour(full[hole]).sum() == 0


def test_pypatchmatch_reference_honours_excludes_too() -> None:
    img, hole, person = _scene_with_a_unique_person(np.random.default_rng(2))
    stage = build_stage("inpaint", "pypatchmatch")
    assert stage.uses_exclude
    (free,) = stage.fill([img], [hole.astype(np.uint8) * 255])
    assert _unique_colour(np.asarray(free)[hole]).sum() > 20  # without global_mask it does copy the person
    (out,) = stage.fill([img], [hole.astype(np.uint8) * 255], excludes=[person.astype(np.uint8) * 255])
    out = np.asarray(out)
    assert np.array_equal(out[~hole], img[~hole]), "global_mask pixels must keep their values"
    assert _unique_colour(out[hole]).sum() == 0


@pytest.mark.parametrize("shape", [(1, 1), (1, 30), (5, 5), (9, 40)])
def test_tiny_crops_with_no_clean_patch_still_fill(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    hole = np.zeros(shape, bool)
    hole[shape[0] // 2, shape[1] // 2] = True
    excl = np.zeros(shape, bool)
    excl[0, 0] = not hole[0, 0]
    out = patch_fill(img, hole, excl, SETTINGS, NumbaKernels(threads=1))
    assert np.array_equal(out[~hole], img[~hole])


def test_cache_identity_ignores_threads_and_device_but_not_the_seed() -> None:
    """Same bytes on any thread count and device, so cached results are shared across them."""
    base = build_stage("inpaint", "patchmatch").identity()
    assert build_stage("inpaint", "patchmatch", threads=1, device="cpu").identity() == base
    assert build_stage("inpaint", "patchmatch", seed=3).identity() != base


def test_no_torch_import_to_learn_there_is_no_gpu() -> None:
    """On a machine with no NVIDIA driver, choosing the backend must not import torch (each worker would pay)."""
    if os.path.exists("/proc/driver/nvidia/version"):
        pytest.skip("an NVIDIA driver is present: torch is imported to ask it")
    code = ("import sys; from remove_people.config import build_stage; s = build_stage('inpaint', 'patchmatch'); "
            "s.kernels(); print(s.uses_accelerator(), 'torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


_LAYER_PROBE = """
import hashlib, os, sys
{first}
import cv2, numpy as np, numba
from remove_people.fill import FillSettings, patch_fill
from remove_people.fill.kernels_numba import NumbaKernels
img = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)[:200, :260].copy()
hole = np.zeros(img.shape[:2], np.uint8)
cv2.ellipse(hole, (130, 100), (40, 55), 0, 0, 360, 255, -1)
out = patch_fill(img, hole > 0, None, FillSettings(), NumbaKernels(threads=2))
print(numba.threading_layer(), os.environ.get("GOMP_SPINCOUNT"), hashlib.sha256(out.tobytes()).hexdigest())
"""


def _probe_layer(shared, first: str = "", **env: str) -> list[str]:
    """Fill the probe's hole in a fresh process; (threading layer, GOMP_SPINCOUNT, sha256 of the fill)."""
    code = _LAYER_PROBE.format(first=first)
    photo = str(shared / "data/coco-person/images/000000030752.jpg")
    environ = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER")}
    res = subprocess.run([sys.executable, "-c", code, photo], capture_output=True, text=True, env={**environ, **env}, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.split()


def test_threading_layer_openmp_with_a_short_spin_else_workqueue_same_bytes(shared) -> None:
    """OpenMP where libgomp's spin can still be bounded (BENCHMARKS.md: 1.7 cores per fill instead of
    1.4), numba's workqueue pool where torch loaded libgomp first with its long default spin; the
    same bytes on both, and as in this process."""
    fresh = _probe_layer(shared)
    after_torch = _probe_layer(shared, first="import torch")
    forced = _probe_layer(shared, NUMBA_THREADING_LAYER="workqueue")
    if sys.platform.startswith("linux") and ctypes.util.find_library("gomp"):
        assert fresh[:2] == ["omp", "1000"]
    assert after_torch[:2] == ["workqueue", "None"]
    assert forced[0] == "workqueue"
    img = _photo(shared, "000000030752.jpg")[:200, :260].copy()
    here = patch_fill(img, _ellipse_hole(img.shape[:2], (130, 100), (40, 55)) > 0, None, SETTINGS, NumbaKernels(threads=2))
    assert fresh[2] == after_torch[2] == forced[2] == hashlib.sha256(here.tobytes()).hexdigest()
