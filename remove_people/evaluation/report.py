"""A self-contained HTML report: per image original / hole overlay / results, metric tables, settings.

Why self-contained: the report is opened from a laptop, a CI artifact or a shared
drive, with no server. Every image is copied into the report folder (full size as
PNG, a JPEG thumbnail beside it) and linked by a relative path; there is no
script, no font or stylesheet from the network. ``report.json`` carries the same
numbers for machines. Everything is written atomically.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from remove_people.pipeline.atomic import atomic_write_bytes
from remove_people.pipeline.encode import opencv_encode

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0 4px;font-size:13px;background:#fff}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}
td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}
tr.peer td{background:#fff6e0}
.note{font-size:12px;color:#555;margin:2px 0 12px}
.case{background:#fff;border:1px solid #ddd;margin:10px 0;padding:8px}
.case h3{font-size:14px;margin:0 0 6px;font-family:monospace}
.panels{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0}figcaption{font-size:12px;text-align:center;max-width:260px}
img{display:block;border:1px solid #bbb}
pre{background:#fff;border:1px solid #ddd;padding:8px;font-size:12px;overflow:auto}
"""


def overlay(rgb: np.ndarray, hole: np.ndarray, color: tuple[int, int, int] = (255, 0, 0)) -> np.ndarray:
    """The photo with the hole tinted half-way to ``color`` and outlined, to see what was removed."""
    out = rgb.copy()
    m = hole > 0
    tint = np.array(color, np.float32)
    out[m] = (0.5 * rgb[m].astype(np.float32) + 0.5 * tint).astype(np.uint8)
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, color, max(1, min(rgb.shape[:2]) // 300))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "item"


def _png(rgb: np.ndarray) -> bytes:
    return opencv_encode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _thumb(rgb: np.ndarray, side: int) -> bytes:
    h, w = rgb.shape[:2]
    s = min(1.0, side / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    return opencv_encode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


class HtmlReport:
    """Collects tables and per-image panels, then writes ``index.html`` and ``report.json`` into ``out_dir``."""

    def __init__(self, out_dir: Path, title: str, thumb_side: int = 256) -> None:
        self.out_dir = Path(out_dir)
        self.title = title
        self.thumb_side = int(thumb_side)
        self.tables: list[tuple[str, list[str], list[list[str]], str, list[str]]] = []
        self.cases: list[tuple[str, str, list[tuple[str, str, str]]]] = []
        self._names: set[str] = set()

    def add_table(self, title: str, header: list[str], rows: list[list[str]], note: str = "", row_classes: list[str] | None = None) -> None:
        self.tables.append((title, header, rows, note, row_classes or [""] * len(rows)))

    def add_case(self, key: str, caption: str, panels: list[tuple[str, np.ndarray]]) -> None:
        """Save each panel (full-size PNG + thumbnail) now, so the arrays can be let go."""
        base = _slug(key)
        while base in self._names:
            base += "_"
        self._names.add(base)
        saved = []
        for label, rgb in panels:
            stem = f"{base}__{_slug(label)}"
            full, thumb = f"images/{stem}.png", f"thumbs/{stem}.jpg"
            atomic_write_bytes(self.out_dir / full, _png(rgb))
            atomic_write_bytes(self.out_dir / thumb, _thumb(rgb, self.thumb_side))
            saved.append((label, full, thumb))
        self.cases.append((key, caption, saved))

    def write(self, settings: dict[str, Any], data: dict[str, Any]) -> Path:
        e = html.escape
        parts = [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            f"<title>{e(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{e(self.title)}</h1><p class=note>written {e(time.strftime('%Y-%m-%d %H:%M:%S'))}; "
            "machine-readable: <a href='report.json'>report.json</a></p>",
        ]
        for title, header, rows, note, classes in self.tables:
            parts.append(f"<h2>{e(title)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            for row, cls in zip(rows, classes):
                parts.append(f"<tr class='{e(cls)}'>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
            parts.append("</table>")
            if note:
                parts.append(f"<p class=note>{e(note)}</p>")
        if self.cases:
            parts.append(f"<h2>Images ({len(self.cases)})</h2><p class=note>click a thumbnail for the full-size image</p>")
        for key, caption, saved in self.cases:
            parts.append(f"<div class=case><h3>{e(key)}</h3>")
            if caption:
                parts.append(f"<p class=note>{e(caption)}</p>")
            parts.append("<div class=panels>")
            for label, full, thumb in saved:
                parts.append(
                    f"<figure><a href='{e(full)}'><img src='{e(thumb)}' alt='{e(label)}' loading=lazy></a>"
                    f"<figcaption>{e(label)}</figcaption></figure>"
                )
            parts.append("</div></div>")
        parts.append("<h2>Settings</h2><pre>" + e(json.dumps(settings, indent=1, default=str)) + "</pre></body></html>")
        atomic_write_bytes(self.out_dir / "report.json", json.dumps({"settings": settings, **data}, indent=1, default=str).encode())
        index = self.out_dir / "index.html"
        atomic_write_bytes(index, "\n".join(parts).encode("utf-8"))
        return index
