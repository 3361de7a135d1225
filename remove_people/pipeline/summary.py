"""What a run did: per-image outcomes, counts, per-stage time and cache use, and the exit code.

Why its own module: the terminal table, ``--json`` output, the exit code, the
evaluation report and the tests all read the same record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STAGE_NAMES = ("decode", "detect", "refine", "inpaint", "encode")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass
class ImageOutcome:
    rel: str
    status: str  # changed | unchanged | skipped | failed
    persons: int = 0
    output: str | None = None
    message: str | None = None
    #: Share of the frame that was repainted (0..1).
    hole_fraction: float = 0.0
    #: The hole covers at least ``run.large_hole_warning`` of the frame: look at this result.
    large_hole: bool = False
    #: Why a ``skipped`` photo was skipped: ``exists`` (--skip-existing) or ``large-hole``.
    skip_reason: str | None = None


@dataclass
class RunSummary:
    outcomes: list[ImageOutcome] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGE_NAMES})
    cache_hits: dict[str, int] = field(default_factory=dict)
    cache_misses: dict[str, int] = field(default_factory=dict)
    cache_corrupt: int = 0
    models_loaded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    interrupted: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def persons(self) -> int:
        return sum(o.persons for o in self.outcomes)

    @property
    def failures(self) -> list[ImageOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def large_holes(self) -> list[ImageOutcome]:
        """Photos whose result is mostly invented (close-ups): written, but worth a look."""
        return [o for o in self.outcomes if o.large_hole]

    def skipped_for(self, reason: str) -> int:
        return sum(1 for o in self.outcomes if o.status == "skipped" and (o.skip_reason or "exists") == reason)

    def stage_cached(self, stage: str) -> bool:
        """True if the stage did no work: every look-up hit (or none was needed)."""
        return self.cache_misses.get(stage, 0) == 0

    def all_from_cache(self) -> bool:
        """True only when the cache served every stage that had work (no miss, at least one hit,
        no failure): what "everything came from the cache" promises."""
        hits = sum(self.cache_hits.values())
        misses = sum(self.cache_misses.values())
        return hits > 0 and misses == 0 and not self.failures and not self.interrupted

    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.failures else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": len(self.outcomes),
            "persons": self.persons,
            "changed": self.count("changed"),
            "unchanged": self.count("unchanged"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "large_holes": [o.rel for o in self.large_holes],
            "interrupted": self.interrupted,
            "exit_code": self.exit_code(),
            "wall_seconds": round(self.wall_seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "cache": {"hits": self.cache_hits, "misses": self.cache_misses, "corrupt": self.cache_corrupt},
            "models_loaded": self.models_loaded,
            "warnings": self.warnings,
            "failures": [{"file": o.rel, "reason": o.message} for o in self.failures],
            "outcomes": [asdict(o) for o in self.outcomes],
            "settings": self.settings,
        }

    def render(self, console: Any, resumable: bool = True) -> None:
        """The closing table for a person at the terminal.

        ``resumable``: whether running the same command again skips the finished work (the
        cache was on, or ``--skip-existing``); only then does an interrupted run say so.
        """
        from rich.table import Table

        t = Table(title="remove-people: summary", show_header=True, header_style="bold")
        t.add_column("what")
        t.add_column("value", justify="right")
        n = len(self.outcomes)
        for label, value in (
            ("images", n),
            ("persons found", self.persons),
            ("changed", self.count("changed")),
            ("unchanged (no person)", self.count("unchanged")),
            ("skipped (output exists)", self.skipped_for("exists")),
            ("skipped (hole too large)", self.skipped_for("large-hole")),
            ("failed", self.count("failed")),
            ("large holes (look at these)", len(self.large_holes)),
        ):
            if value or not label.startswith(("skipped (hole", "large holes")):
                t.add_row(label, str(value))
        t.add_row("wall time", f"{self.wall_seconds:.1f} s" + (f" ({n / self.wall_seconds:.2f} img/s)" if self.wall_seconds > 0 and n else ""))
        console.print(t)
        s = Table(title="stages", header_style="bold")
        s.add_column("stage")
        s.add_column("time", justify="right")
        s.add_column("cache", justify="right")
        for stage in STAGE_NAMES:
            hits, misses = self.cache_hits.get(stage), self.cache_misses.get(stage)
            if hits is None and misses is None:
                cache = "-"
            elif not misses:
                cache = f"cached ({hits})" if hits else "not needed"
            else:
                cache = f"{hits or 0} hit / {misses} computed"
            s.add_row(stage, f"{self.stage_seconds.get(stage, 0.0):.2f} s", cache)
        console.print(s)
        if self.models_loaded:
            console.print(f"models loaded: {', '.join(self.models_loaded)}")
        elif self.all_from_cache():
            console.print("models loaded: none (everything came from the cache)")
        else:
            console.print("models loaded: none")
        if self.large_holes:
            names = [f"{o.rel} ({o.hole_fraction:.0%})" for o in self.large_holes]
            more = f" and {len(names) - 10} more (--json lists all)" if len(names) > 10 else ""
            console.print(f"large holes, mostly invented (look at these): {', '.join(names[:10])}{more}", markup=False)
        if self.interrupted:
            if resumable:
                console.print("[yellow]interrupted: finished outputs are complete; run the same command again to resume[/]")
            else:
                console.print(
                    "[yellow]interrupted: finished outputs are complete; the cache was off, so running again "
                    "recomputes every photo (add --skip-existing to keep the finished ones)[/]"
                )
