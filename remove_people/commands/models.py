"""``remove-people models``: list, fetch, verify and describe the known weights.

Why a command of its own: users should never hunt for a weight file. ``list``
shows what is known and what is on disk, ``fetch`` pre-downloads (e.g. before
going offline), ``verify`` catches corrupted files, and ``info`` says what a
network expects and where its file was found.

Every sub-command looks weights up exactly as ``run`` does: the same ``--model-dir`` /
``--offline`` / ``--config`` / ``--set`` options build the same configuration, whose
``models`` section (else ``REMOVE_PEOPLE_MODEL_DIR``) names the folders searched.

Exit codes: 0 ok, 1 a file is missing or bad, 2 bad usage (unknown name or role).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from remove_people.commands import options as O
from remove_people.errors import UsageError, WeightsError
from remove_people.models.hashing import md5_file, sha256_file
from remove_people.models.locations import cache_dir, model_dirs
from remove_people.models.resolve import Location, WEIGHT_SUFFIXES, find_local, resolve_weights
from remove_people.models.weights_entry import Role
from remove_people.models.weights_table import WEIGHTS, entry_for_sha256, get_entry, iter_entries

app = O.new_app(
    "Known weights: list, fetch, verify, info. Files are looked up in --model-dir / "
    "REMOVE_PEOPLE_MODEL_DIR, then the user cache, then downloaded, exactly as `run` does."
)


def _settings(model_dir: Optional[Path], offline: Optional[bool], config: list[Path], set_: list[str]) -> Any:
    """The same configuration ``run`` would build from these options: its ``models`` section
    decides where weights are looked up, and its plugins which weights ``run`` would use."""
    return O.build_config(config, set_, model_dir=model_dir, offline=offline)


def _used_by_run(cfg: Any) -> dict[str, str]:
    """Table names ``run`` would resolve with ``cfg``: the detector's and the inpainter's weights."""
    used: dict[str, str] = {}
    if cfg.plugin_name("detect") == "yolo":
        from remove_people.stages.detect.yolo import weights_list

        for name in weights_list(cfg.data["detect"]["yolo"]["weights"]):  # one model, or an ensemble
            used[name] = "run's detector"
    inpainter = cfg.plugin_name("inpaint")
    params = cfg.plugin_params("inpaint", inpainter)
    if inpainter == "deepfillv2":
        name = params.get("weights") or f"deepfillv2-{params.get('variant', 'places2')}-{params.get('layout', 'tf')}"
        used[str(name)] = "run's inpainter"
    elif params.get("weights"):
        used[str(params["weights"])] = "run's inpainter"
    return used


def _console() -> Console:
    return Console()


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def _where(loc: Location | None) -> tuple[str, str]:
    if loc is None:
        return "[red]no[/red]", ""
    if loc.substitute_for:
        return f"[yellow]yes, substitute[/yellow] ({loc.entry.name if loc.entry else '?'})", str(loc.path)
    how = f" ({loc.where}, by sha256)" if loc.matched_by == "sha256" else f" ({loc.where})"
    return "[green]yes[/green]" + how, str(loc.path)


@O.command(app, "list")
def list_cmd(
    model_dir: O.ModelDir = None,
    role: Annotated[Optional[str], typer.Option("--role", metavar="ROLE", help="Only this role: " + ", ".join(r.value for r in Role))] = None,
    offline: O.Offline = None,
    config: O.ConfigFiles = [],  # noqa: B006 - typer reads the default, never mutates it
    set_: O.Overrides = [],  # noqa: B006
) -> None:
    """Every known weight: name, role, size, licence, whether it is on disk and where (looked up as `run` does)."""
    cfg = _settings(model_dir, offline, config, set_)
    try:
        entries = list(iter_entries(role))
    except ValueError:
        raise UsageError(f"--role {role}: valid roles: {', '.join(r.value for r in Role)}") from None
    used = _used_by_run(cfg)
    table = Table(title="Known weights", show_lines=False)
    for col in ("name", "role", "size", "licence", "present", "where"):
        table.add_column(col, overflow="fold")
    for e in entries:
        try:
            loc = find_local(e)
        except OSError:
            loc = None
        present, where = _where(loc)
        size = e.size if e.size is not None else (loc.path.stat().st_size if loc and not loc.substitute_for else None)
        names = {e.name, *e.aliases, e.filename}
        mark = next((f" ({used[n]})" for n in names if n in used), "")
        table.add_row(escape(e.name) + mark, e.role.value, _human(size), escape(e.license), present, escape(where))
    _console().print(table)


@O.command(app, "fetch")
def fetch_cmd(
    names: Annotated[List[str], typer.Argument(metavar="NAME...", help="Names from `remove-people models list`.", show_default=False)],
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
    openvino: Annotated[bool, typer.Option("--openvino", help="Also make the OpenVINO export of each YOLO weight (what the detector runs on a CPU).")] = False,
    config: O.ConfigFiles = [],  # noqa: B006
    set_: O.Overrides = [],  # noqa: B006
) -> None:
    """Make sure each named weight is on disk (model folder or cache), downloading into the cache if needed.

    Exit codes: 0 all present, 1 a file could not be had, 2 an unknown name (nothing fetched).
    """
    _settings(model_dir, offline, config, set_)
    for name in names:
        get_entry(name)  # an unknown name is a usage error before anything is downloaded
    console = _console()
    failed: list[str] = []
    for name in names:
        try:
            path = resolve_weights(name, progress=True)
            if openvino and get_entry(name).role == Role.DETECTOR:
                from remove_people.models.openvino_runtime import openvino_model

                console.print(f"{name}: {path}", highlight=False, soft_wrap=True, markup=False)
                path = openvino_model(Path(path))
        except WeightsError as exc:
            O.err_console.print(f"error: {exc}", markup=False)
            failed.append(name)
            continue
        console.print(f"{name}: {path}", highlight=False, soft_wrap=True, markup=False)
    if failed:
        raise typer.Exit(1)


def _verify_folder(folder: Path, where: str, table: Table) -> int:
    """Hash every weight file in ``folder``; return how many are bad."""
    bad = 0
    if not folder.is_dir():
        return 0
    by_name = {e.filename: e for e in WEIGHTS.values()}
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.name.startswith(".") or f.suffix.lower() not in WEIGHT_SUFFIXES:
            continue
        digest = sha256_file(f)
        named = by_name.get(f.name)
        hashed = entry_for_sha256(digest)
        if named is not None and named.sha256 is not None:
            if digest == named.sha256:
                status = "[green]ok[/green]"
            else:
                status = f"[red]MISMATCH[/red] (expected {named.sha256})"
                bad += 1
            entry_name = named.name
        elif named is not None and named.md5 is not None:
            # Only an MD5 is published (IOPaint's TorchScript files): check it; the sha256 column is ours to record.
            if md5_file(f) == named.md5:
                status = "[green]ok[/green] (published md5)"
            else:
                status = f"[red]MISMATCH[/red] (expected md5 {named.md5})"
                bad += 1
            entry_name = named.name
        elif hashed is not None:
            status, entry_name = "[green]ok[/green] (by sha256)", hashed.name
        elif named is not None:
            status, entry_name = "[yellow]no published sha256[/yellow]", named.name
        else:
            status, entry_name = "[dim]unknown file[/dim]", ""
        table.add_row(str(f), where, entry_name, digest, status)
    return bad


@O.command(app, "verify")
def verify_cmd(
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
    config: O.ConfigFiles = [],  # noqa: B006
    set_: O.Overrides = [],  # noqa: B006
) -> None:
    """Check the sha256 of every weight file in the model folder(s) and the user cache (the folders `run` searches)."""
    _settings(model_dir, offline, config, set_)
    table = Table(title="Weight files")
    for col in ("file", "in", "entry", "sha256", "status"):
        table.add_column(col, overflow="fold")
    bad = 0
    for folder in model_dirs():
        bad += _verify_folder(folder, "model-dir", table)
    bad += _verify_folder(cache_dir(), "cache", table)
    _console().print(table)
    if bad:
        O.err_console.print(f"{bad} file(s) do not match their sha256", markup=False)
        raise typer.Exit(1)


@O.command(app, "info")
def info_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A name from `remove-people models list`.", show_default=False)],
    model_dir: O.ModelDir = None,
    offline: O.Offline = None,
    config: O.ConfigFiles = [],  # noqa: B006
    set_: O.Overrides = [],  # noqa: B006
) -> None:
    """One entry in full: file, mirrors, sha256, licence, preprocessing, builder, and where it was found."""
    _settings(model_dir, offline, config, set_)
    e = get_entry(name)
    loc = find_local(e)
    present, where = _where(loc)
    pre = e.preprocessing
    table = Table(show_header=False, title=e.name)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("role", e.role.value),
        ("description", e.description),
        ("file", e.filename),
        ("size", f"{e.size} bytes" if e.size is not None else "unknown"),
        ("sha256", e.sha256 or "not published"),
        ("md5", f"{e.md5} (published; checked on download and before loading)" if e.md5 else ""),
        ("urls", "\n".join(e.urls) or "none (see source)"),
        ("source", e.source),
        ("licence", e.license),
        ("value range", f"[{pre.value_range[0]:g}, {pre.value_range[1]:g}]"),
        ("mask", pre.mask_polarity or "no mask input"),
        ("native size", str(pre.native_size) if pre.native_size else "any"),
        ("size multiple", str(pre.size_multiple) if pre.size_multiple else "any"),
        ("fixed size", "yes: exactly native size" if pre.fixed_size else "no"),
        ("normalisation", f"mean {pre.mean}, std {pre.std}" if pre.mean else "none"),
        ("notes", pre.notes),
        ("builder", e.builder or ""),
        ("aliases", ", ".join(e.aliases)),
        ("fallbacks", ", ".join(e.fallbacks)),
        ("present", present),
        ("found at", where),
        ("searched", os.pathsep.join(str(p) for p in [*model_dirs(), cache_dir()])),
    ]
    for k, v in rows:
        if v:
            table.add_row(k, v)
    _console().print(table)
