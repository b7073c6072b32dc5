"""The report assembled: runs and sweeps to sections, sections to one HTML page on disk.

:func:`build_report` returns the HTML text of loaded runs and sweep directories (so scripts,
such as the one behind ``docs/analysis.md``, can reuse it); :func:`write_report` reads the
directories, classifies them and writes the page atomically.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from embedcausal.files import atomic_write
from embedcausal.html.inputs import ReportError, classify, unique_names
from embedcausal.html.run_sections import comparison_section, run_section
from embedcausal.html.sweep_sections import sweep_section
from embedcausal.html.template import render_page

__all__ = ["build_report", "write_report"]


def build_report(
    runs: Mapping[str, Any] | None = None,
    sweeps: Mapping[str, str | os.PathLike] | None = None,
    *,
    title: str | None = None,
    curve: bool = True,
    ppc: bool = True,
) -> str:
    """The report's HTML text.

    Parameters
    ----------
    runs : dict of str to Run, optional
        Runs by name (one section each; a comparison section when there are several).
    sweeps : dict of str to path, optional
        Sensitivity sweep directories by name.
    title : str, optional
    curve, ppc : bool
        Draw the effect curve and the posterior predictive checks (the slower figures).

    Raises
    ------
    ReportError
        If there is nothing to report.
    """
    from embedcausal import __version__

    runs = dict(runs or {})
    sweeps = {k: Path(v) for k, v in (sweeps or {}).items()}
    if not runs and not sweeps:
        raise ReportError("nothing to report: expected at least one run or sweep directory")
    sections = [run_section(n, r, curve=curve, ppc=ppc) for n, r in runs.items()]
    if len(runs) > 1:
        sections.append(comparison_section(runs))
    sections += [sweep_section(n, d) for n, d in sweeps.items()]
    if title is None:
        names = [r.spec.name for r in runs.values()] or list(sweeps)
        title = "embedcausal report: " + ", ".join(dict.fromkeys(names))
    parts = [f"{len(runs)} run(s)"] if runs else []
    if sweeps:
        parts.append(f"{len(sweeps)} sensitivity sweep(s)")
    return render_page(
        title=title,
        subtitle="; ".join(parts),
        sections=sections,
        version=__version__,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    title: str | None = None,
    curve: bool = True,
    ppc: bool = True,
) -> Path:
    """Write one self-contained HTML report of run and sweep directories to ``out``.

    Parameters
    ----------
    paths : iterable of paths
        Run directories (``embedcausal fit --out``) and sensitivity sweep directories
        (``embedcausal sensitivity --out``), in the order to show them.
    out : path
        The ``.html`` file to write (atomically).
    title : str, optional
    curve, ppc : bool
        See :func:`build_report`.

    Returns
    -------
    Path

    Raises
    ------
    ReportError
        A path that is neither a run nor a sweep, an output that is not ``.html`` or whose
        directory does not exist.
    RunError
        A damaged run directory.
    """
    from embedcausal.runs import load_run

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"--out {out}: expected an .html file")
    if not out.parent.is_dir():
        raise ReportError(f"--out {out}: directory {str(out.parent)!r} not found")
    paths = [Path(p) for p in paths]
    if not paths:
        raise ReportError("nothing to report: expected at least one run or sweep directory")
    kinds = [classify(p) for p in paths]
    names = unique_names(paths)
    runs: dict[str, Any] = {}
    sweeps: dict[str, Path] = {}
    for p, kind, name in zip(paths, kinds, names, strict=True):
        if kind == "run":
            # the log-likelihood (for PSIS-LOO) only when there are runs to compare
            runs[name] = load_run(p, log_likelihood=kinds.count("run") > 1)
        else:
            sweeps[name] = p
    html = build_report(runs, sweeps, title=title, curve=curve, ppc=ppc)
    return atomic_write(out, lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))
