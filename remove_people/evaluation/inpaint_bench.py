"""``eval inpaint``: fill known holes on person-free photos and score each inpainter against the truth.

Why this shape: the sets (scenes with given holes, person-free COCO photos with
person-shaped holes, or the user's own folders) are lists of ``Case`` built before
any inpainter loads, so a bad file is reported up front; then every case is filled
by every requested inpainter in turn, scored at once and let go, so memory stays
flat. A peer's published results (MI-GAN in ``scenes/migan_results``) are scored
exactly like ours, as one more row, and the table compares every row of a set on
the same images (those the peer has), so no row wins by having easier images.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from remove_people.errors import InputError, RemovePeopleError, UsageError
from remove_people.evaluation.inpaint_metrics import mean_scores, score_image
from remove_people.evaluation.person_holes import PersonHoles
from remove_people.pipeline.formats import IMAGE_SUFFIXES


@dataclass
class Case:
    """One photo to fill: where its hole comes from (a mask file, or person shapes when ``mask`` is None)."""

    set: str
    name: str
    image: Path
    mask: Path | None = None
    peer: Path | None = None


@dataclass
class MethodResult:
    name: str
    kind: str  # "ours" or "peer"
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def scene_cases(scenes: Path) -> list[Case]:
    """The scenes set from its ``manifest.csv``: image, given hole, MI-GAN result where it exists."""
    manifest = scenes / "manifest.csv"
    if not manifest.is_file():
        raise UsageError(f"{manifest}: missing; --scenes must be the shared scenes folder (with manifest.csv)")
    cases = []
    with manifest.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            peer = scenes / row["migan_result"] if row.get("migan_result") else None
            cases.append(
                Case("scenes", row["name"], scenes / row["image"], scenes / row["mask"], peer if peer and peer.is_file() else None)
            )
    return cases


def coco_free_cases(coco_dir: Path) -> list[Case]:
    """COCO photos with no person annotation (crowd or not): person-shaped holes will be drawn on them."""
    from remove_people.evaluation.coco_subset import CocoSubset

    subset = CocoSubset.load(coco_dir / "annotations" / "instances.json", coco_dir / "images")
    chosen = subset.select(with_persons=False)
    return [Case("coco-free", Path(r.file_name).stem, r.path) for r in chosen.records if r.path.is_file()]


def folder_cases(images: Path, masks: Path | None, peer: Path | None, set_name: str = "custom") -> list[Case]:
    """The user's own folder: holes from ``masks`` (matched by file stem) or person shapes; a peer folder by stem."""
    if not images.is_dir():
        raise UsageError(f"--images {images}: not a folder")

    def by_stem(folder: Path | None) -> dict[str, Path]:
        if folder is None:
            return {}
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder")
        return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}

    mask_map, peer_map = by_stem(masks), by_stem(peer)
    cases = []
    for p in sorted(images.iterdir()):
        if p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
            continue
        if masks is not None and p.stem not in mask_map:
            raise UsageError(f"{p}: no mask named {p.stem}.* in {masks}; add one or remove the image")
        cases.append(Case(set_name, p.stem, p, mask_map.get(p.stem), peer_map.get(p.stem)))
    if not cases:
        raise UsageError(f"--images {images}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return cases


def present_inpainters(names: list[str], config: Any = None) -> list[str]:
    """Those of ``names`` whose weight files are on disk now (no download, nothing loaded).

    Why: the learned fills (``eval.inpainters_if_present``: lama, migan) get their rows
    in ``eval inpaint`` as soon as someone places their files, without a flag; a machine
    without them (no network, or not fetched yet) keeps the weight-free rows only.
    """
    from remove_people.config import build_stage

    present = []
    for name in names:
        try:
            stage = build_stage("inpaint", name, config=config)
        except RemovePeopleError:
            continue
        if getattr(stage, "weights_available", lambda: False)():
            present.append(name)
    return present


def _as_rgb_result(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    from remove_people.evaluation.data import load_rgb

    rgb = load_rgb(path)
    if rgb.shape != shape:
        raise InputError(path, f"peer result is {rgb.shape[1]}x{rgb.shape[0]}, its photo {shape[1]}x{shape[0]}")
    return rgb


def run_inpaint_eval(
    cases: list[Case],
    inpainters: list[str],
    holes: PersonHoles | None,
    peer_name: str = "MI-GAN",
    lpips: bool = True,
    config: Any = None,
    on_case: Callable[[Case, np.ndarray, np.ndarray, dict[str, np.ndarray]], None] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Fill every case with every inpainter, score, and return a JSON-ready result.

    ``on_case(case, truth, hole, results)`` sees each case's arrays once (the report uses it).
    """
    from remove_people.config import build_stage
    from remove_people.evaluation.data import load_hole, load_rgb

    methods: dict[str, MethodResult] = {}
    stages: dict[str, Any] = {}
    for name in inpainters:
        methods[name] = MethodResult(name, "ours")
        try:
            stages[name] = build_stage("inpaint", name, config=config)
        except RemovePeopleError as err:
            methods[name].error = str(err)
        except Exception as err:  # an unregistered or broken plugin is one row's problem
            methods[name].error = f"{type(err).__name__}: {err}"
    peer = MethodResult(peer_name, "peer")
    failures: list[str] = []
    case_info: dict[str, dict[str, Any]] = {}

    for i, case in enumerate(cases):
        key = f"{case.set}/{case.name}"
        if on_progress:
            on_progress(i, len(cases), key)
        try:
            truth = load_rgb(case.image)
            if case.mask is not None:
                hole = load_hole(case.mask, truth.shape[:2])
            elif holes is not None:
                hole = holes.hole_for(case.name, truth.shape[:2])
            else:
                raise InputError(case.image, "no hole mask and no person-shape source")
        except RemovePeopleError as err:
            failures.append(str(err))
            continue
        case_info[key] = {"set": case.set, "image": str(case.image), "hole_fraction": float((hole > 0).mean()),
                          "hole": str(case.mask) if case.mask else "person-shaped (seeded)"}
        results: dict[str, np.ndarray] = {}
        for name, stage in stages.items():
            m = methods[name]
            if m.error:
                continue
            t = time.perf_counter()
            try:
                out = stage.inpaint(truth, hole)
            except RemovePeopleError as err:  # e.g. weights missing: the whole row is unavailable
                m.error = str(err)
                continue
            except (ValueError, RuntimeError) as err:
                failures.append(f"{case.image}: {name} failed ({type(err).__name__}: {err})")
                continue
            m.seconds[key] = time.perf_counter() - t
            m.per_image[key] = score_image(truth, out, hole, lpips=lpips)
            results[name] = out
        if case.peer is not None:
            try:
                out = _as_rgb_result(case.peer, truth.shape)
                peer.per_image[key] = score_image(truth, out, hole, lpips=lpips)
                results[peer_name] = out
            except RemovePeopleError as err:
                failures.append(str(err))
        if on_case:
            on_case(case, truth, hole, results)
    for stage in stages.values():
        stage.close()
    if on_progress:
        on_progress(len(cases), len(cases), "done")

    all_methods = list(methods.values()) + ([peer] if peer.per_image else [])
    sets = sorted({c.set for c in cases}, key=[c.set for c in cases].index)
    summary: list[dict[str, Any]] = []
    for s in sets:
        keys = [k for k in case_info if case_info[k]["set"] == s]
        peer_keys = [k for k in keys if k in peer.per_image]
        common = peer_keys if peer_keys else keys
        for m in all_methods:
            got = [k for k in common if k in m.per_image]
            if m.kind == "peer" and not got:
                continue  # the peer has no results for this set
            row: dict[str, Any] = {"set": s, "method": m.name, "kind": m.kind, "images": len(got)}
            if m.error and not got:
                row["error"] = m.error
            else:
                row["mean"] = mean_scores([m.per_image[k] for k in got])
                row["mean_all_images"] = mean_scores([m.per_image[k] for k in keys if k in m.per_image])
                secs = [m.seconds[k] for k in got if k in m.seconds]
                row["seconds_per_image"] = float(np.mean(secs)) if secs else None
            if m.kind == "peer" or len(common) != len(keys):
                row["note"] = f"compared on the {len(common)} of {len(keys)} images that have {peer.name} results"
            summary.append(row)
    return {
        "summary": summary,
        "images": case_info,
        "per_image": {m.name: m.per_image for m in all_methods},
        "errors": {m.name: m.error for m in all_methods if m.error},
        "failures": failures,
    }


TABLE_COLUMNS = [
    ("set", None), ("method", None), ("ours/peer", None), ("n", None),
    ("hole L1 ↓", "hole.l1"), ("hole PSNR ↑", "hole.psnr"), ("hole SSIM ↑", "hole.ssim"), ("hole LPIPS ↓", "hole.lpips"),
    ("image L1 ↓", "image.l1"), ("image PSNR ↑", "image.psnr"), ("image SSIM ↑", "image.ssim"), ("image LPIPS ↓", "image.lpips"),
    ("s/img", None),
]


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The summary as plain strings (for rich, HTML and Markdown alike)."""
    header = [c for c, _ in TABLE_COLUMNS]
    rows = []
    for r in result["summary"]:
        if "error" in r:
            rows.append([r["set"], r["method"], r["kind"], "0", "unavailable (see errors)"] + [""] * (len(header) - 5))
            continue
        cells = [r["set"], r["method"], r["kind"], str(r["images"])]
        for _, key in TABLE_COLUMNS[4:-1]:
            v = r["mean"].get(key)
            cells.append("" if v is None else (f"{v:.2f}" if "psnr" in key else f"{v:.4f}"))
        s = r.get("seconds_per_image")
        cells.append("" if s is None else f"{s:.2f}")
        rows.append(cells)
    return header, rows


def markdown_table(result: dict[str, Any]) -> str:
    header, rows = table_rows(result)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
