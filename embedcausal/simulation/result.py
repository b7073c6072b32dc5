"""A simulated panel with its ground truth, and writing both to disk."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from embedcausal.errors import DataError, shown
from embedcausal.files import atomic_write

__all__ = ["Simulation"]


@dataclass(frozen=True)
class Simulation:
    """A simulated panel with its ground truth.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per country × mission with the observed columns (the latent disposition is not
        among them).
    truth : dict
        JSON-serialisable ground truth: the contrast, ``total``, ``nde``, ``nie``,
        ``prop_mediated`` (probability scale), the definition and every parameter.
    mechanism : str
        The mechanism that generated the data (one of :data:`MECHANISMS`).
    latent : pandas.DataFrame or None
        Row-aligned unobserved quantities (``disposition``, the random intercepts, the log rate
        of ``inst_ties`` and the mediator noises), for checks against the structural equations.
        Not written by :meth:`save`.
    """

    data: pd.DataFrame
    truth: dict
    mechanism: str
    latent: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write the data as CSV at ``path`` and the truth beside it as JSON.

        ``x.csv`` gives ``x.truth.json`` (any other name gets ``.truth.json`` appended). Both
        files are written to a temporary sibling and moved into place with :func:`os.replace`;
        missing parent directories are created.

        Returns
        -------
        tuple of pathlib.Path
            The data path and the truth path.
        """
        data_path = Path(path)
        stem = data_path.name[:-4] if data_path.name.lower().endswith(".csv") else data_path.name
        if not stem:
            raise DataError(
                f"save: path {shown(str(path))} has no file name; expected e.g. 'sim.csv'"
            )
        truth_path = data_path.with_name(stem + ".truth.json")
        data_path.parent.mkdir(parents=True, exist_ok=True)
        csv = self.data.to_csv(index=False, lineterminator="\n")
        truth = json.dumps(self.truth, indent=2, allow_nan=False) + "\n"
        atomic_write(data_path, lambda tmp: tmp.write_text(csv, encoding="utf-8", newline=""))
        atomic_write(truth_path, lambda tmp: tmp.write_text(truth, encoding="utf-8", newline=""))
        return data_path, truth_path
