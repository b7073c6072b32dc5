"""What the HTML report reads: run directories and sensitivity sweep directories.

:func:`classify` tells a run (``embedcausal fit --out``) from a sweep (``embedcausal sensitivity
--out``) by the files in it; :func:`unique_names` names each directory for its section.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from embedcausal.errors import EmbedcausalError

__all__ = ["SWEEP_FILES", "ReportError", "classify", "unique_names"]

#: files that mark a directory as a sensitivity sweep (any one of them)
SWEEP_FILES = (
    "sensitivity.json",
    "confounder.csv",
    "ovb.json",
    "prior_sets.csv",
    "power_scaling.csv",
    "refuters.json",
)


class ReportError(EmbedcausalError, ValueError):
    """A path given to the report is neither a run nor a sweep, or the output is unwritable."""


def classify(path: str | os.PathLike) -> str:
    """``"run"`` or ``"sweep"`` for a directory (by the files in it).

    Raises
    ------
    ReportError
        If ``path`` is not a directory or holds neither a run nor sweep results.
    """
    p = Path(path)
    if not p.is_dir():
        raise ReportError(
            f"{p}: no such directory; expected a run directory (embedcausal fit --out) or a "
            "sensitivity sweep directory (embedcausal sensitivity --out)"
        )
    if (p / "run.json").is_file():
        return "run"
    if any((p / f).is_file() for f in SWEEP_FILES):
        return "sweep"
    raise ReportError(
        f"{p}: neither a run (no run.json) nor a sensitivity sweep (none of "
        + ", ".join(SWEEP_FILES)
        + ")"
    )


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Directory names, made unique by their parent's name (then by a number)."""
    names = [p.resolve().name or str(p) for p in paths]
    for i, p in enumerate(paths):
        if names.count(names[i]) > 1:
            names[i] = f"{p.resolve().parent.name}/{names[i]}"
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} ({seen[n]})"
    return names
