"""``remove-people eval inpaint``: inpainting quality where the truth is known (given holes, person-shaped holes)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from remove_people.commands import options as O
from remove_people.commands.eval_common import check_inpainters, console, print_table, split_names, write_json
from remove_people.errors import UsageError


def inpaint_cmd(
    inpainters: Optional[str] = typer.Option(None, "--inpainters", help="Comma-separated inpainters (default: eval.inpainters: telea,ns,patchmatch, plus eval.inpainters_if_present: lama,migan when their weight files are on disk)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Your own folder of person-free photos (default: shared scenes + person-free COCO photos)."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="Holes for --images, matched by file stem (255 = hole). Without it, person-shaped holes are drawn."),
    peer: Optional[Path] = typer.Option(None, "--peer", help="A folder of another tool's results for --images (matched by stem), scored as a peer row."),
    peer_name: Optional[str] = typer.Option(None, "--peer-name", help="Label of the peer row (default: eval.peer_name)."),
    sets: str = typer.Option("scenes,coco-free", "--sets", help="Default sets when --images is not given: scenes (given holes, MI-GAN peer), coco-free (person-shaped holes)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most N images per set (the first N by name)."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Seed of the person-shaped holes (default: eval.seed)."),
    no_lpips: bool = typer.Option(False, "--no-lpips", help="Skip LPIPS."),
    json_out: O.JsonFile = None,
    report: O.ReportDir = None,
    config: O.ConfigFiles = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: O.Overrides = [],  # noqa: B006
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
) -> None:
    """Inpainting quality where the truth is known: L1, PSNR, SSIM, LPIPS over the hole and the whole image."""
    from remove_people.evaluation import data
    from remove_people.evaluation.inpaint_bench import coco_free_cases, folder_cases, markdown_table, present_inpainters, run_inpaint_eval, scene_cases, table_rows
    from remove_people.evaluation.person_holes import PersonHoles

    cfg = O.build_config(config, set_, model_dir=model_dir, offline=offline)
    ev = cfg.data["eval"]
    names = split_names(inpainters, ev["inpainters"])
    check_inpainters(names)
    if not inpainters:  # the learned fills join the default rows when their files are on disk
        names += [n for n in present_inpainters(list(ev.get("inpainters_if_present") or []), cfg) if n not in names]
    seed = int(ev["seed"] if seed is None else seed)
    peer_label = peer_name or str(ev["peer_name"])
    if images is not None:
        cases = folder_cases(images, masks, peer, set_name=images.name or "custom")
    else:
        if masks is not None or peer is not None:
            raise UsageError("--masks and --peer go with --images (the default sets carry their own)")
        wanted = [s.strip() for s in sets.split(",") if s.strip()]
        bad = [s for s in wanted if s not in ("scenes", "coco-free")]
        if bad or not wanted:
            raise UsageError(f"--sets {sets}: valid sets: scenes, coco-free")
        cases = []
        for s in wanted:
            got = scene_cases(data.scenes_dir(ev["shared"])) if s == "scenes" else coco_free_cases(data.coco_person_dir(ev["shared"]))
            cases += got[:limit] if limit else got
    if limit and images is not None:
        cases = cases[:limit]
    holes = None
    if any(c.mask is None for c in cases):
        ann = data.coco_person_dir(ev["shared"]) / "annotations" / "instances.json"
        holes = PersonHoles(ann, seed=seed, ratio_range=tuple(ev["hole_ratio"]), max_persons=int(ev["hole_max_persons"]))

    rep = None
    if report is not None:
        from remove_people.evaluation.report import HtmlReport, overlay

        rep = HtmlReport(report, "remove-people eval inpaint", int(ev["thumb_side"]))

        def on_case(case: Any, truth: Any, hole: Any, results: dict[str, Any]) -> None:
            panels = [("original", truth), ("hole", overlay(truth, hole))] + list(results.items())
            rep.add_case(f"{case.set}/{case.name}", f"hole {100 * (hole > 0).mean():.1f}% of the image", panels)
    else:
        on_case = None  # type: ignore[assignment]

    def on_progress(done: int, total: int, what: str) -> None:
        console.print(f"[{done}/{total}] {what}", markup=False)

    result = run_inpaint_eval(
        cases, names, holes, peer_name=peer_label, lpips=bool(ev["lpips"]) and not no_lpips, config=cfg,
        on_case=on_case, on_progress=on_progress,
    )
    settings = {
        "inpainters": names, "params": {n: cfg.plugin_params("inpaint", n) for n in names}, "seed": seed,
        "hole_ratio": ev["hole_ratio"], "hole_max_persons": ev["hole_max_persons"], "lpips": bool(ev["lpips"]) and not no_lpips,
        "images": str(images) if images else sets, "limit": limit,
    }
    result["settings"] = settings
    header, rows = table_rows(result)
    styles = ["yellow" if r["kind"] == "peer" else "" for r in result["summary"]]
    print_table("inpainting quality (means; ↓ lower is better, ↑ higher is better)", header, rows, styles)
    for name, err in result["errors"].items():
        console.print(f"unavailable: {err}", markup=False)
    for line in result["failures"]:
        console.print(f"failed: {line}", markup=False)
    result["markdown"] = markdown_table(result)
    write_json(json_out, result)
    if rep is not None:
        rep.add_table("Inpainting quality", header, rows,
                      "ours = this project's inpainters; peer = another tool's published results, scored the same way. "
                      "Each set's rows are compared on the same images."
                      + "".join(f" Unavailable {k}: {v}." for k, v in result["errors"].items()),
                      ["peer" if r["kind"] == "peer" else "" for r in result["summary"]])
        console.print(f"report: {rep.write(settings, result)}")
    if result["failures"]:
        raise typer.Exit(1)
