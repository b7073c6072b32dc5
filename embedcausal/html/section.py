"""One section of the HTML report, and the formatting every section shares.

A :class:`Section` holds what the page template shows: paragraphs, warnings, tables (formatted
by :func:`table_rows`), figures inlined as base64 PNG (:func:`png_uri`), notes and
subsections. Building a section never fails on a figure: :meth:`Section.figure` turns a
failure to draw into a warning.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from embedcausal.errors import EmbedcausalError
from embedcausal.report import EFFECT_LABELS

__all__ = [
    "EFFECT_LABELS",
    "Section",
    "anchor_of",
    "number_text",
    "png_file_uri",
    "png_uri",
    "table_rows",
]


def number_text(x: Any, digits: int = 4) -> str:
    """A table cell: ``digits`` decimals (3 significant digits when tiny or huge), ``yes``/``no``
    for booleans, empty for None and NaN."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return ""
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 10 ** (-digits)):
        return f"{v:.3g}"
    return f"{v:.{digits}f}"


def table_rows(frame: pd.DataFrame | None, columns: Sequence[str] | None = None) -> dict | None:
    """A table for the template: header and rows of formatted strings (escaped there)."""
    if frame is None or len(frame) == 0:
        return None
    cols = [c for c in (columns or frame.columns) if c in frame.columns]
    rows = [[number_text(v) for v in rec] for rec in frame[cols].itertuples(index=False)]
    return {"columns": [str(c) for c in cols], "rows": rows}


def png_uri(fig: Any) -> str:
    """A figure as a ``data:`` URI of its PNG (inlined in the page)."""
    from embedcausal.plots.base import figure_bytes

    return "data:image/png;base64," + base64.b64encode(figure_bytes(fig, "png")).decode("ascii")


def png_file_uri(path: Path) -> str | None:
    """A stored PNG file as a ``data:`` URI; None if unreadable or not a PNG."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@dataclass
class Section:
    """One part of the report: a title, paragraphs, warnings, tables, figures, notes."""

    title: str
    anchor: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    good: list[str] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)  # {"caption", "columns", "rows"}
    figures: list[dict] = field(default_factory=list)  # {"src", "alt", "caption"}
    pre: list[str] = field(default_factory=list)
    items_intro: str = ""
    details: list[tuple[str, str]] = field(default_factory=list)  # (summary, preformatted)
    subsections: list[Section] = field(default_factory=list)

    def figure(self, make, alt: str, caption: str) -> None:
        """Add a figure made by ``make()``; a failure becomes a warning, not a crash."""
        try:
            fig = make()
        except EmbedcausalError as exc:
            self.warnings.append(f"{alt}: not drawn ({exc})")
            return
        self.figures.append({"src": png_uri(fig), "alt": alt, "caption": caption})

    def table(self, caption: str, frame: pd.DataFrame | None, columns=None) -> None:
        """Add ``frame`` (its ``columns`` where given) as a table; nothing when it is empty."""
        t = table_rows(frame, columns)
        if t is not None:
            self.tables.append({"caption": caption, **t})


def anchor_of(text: str) -> str:
    """An HTML id made of ``text``'s letters and digits joined by hyphens."""
    keep = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(filter(None, keep.split("-"))) or "section"
