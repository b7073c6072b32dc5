"""The result of the DoWhy refuters: the frequentist estimate and one row per refuter."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from embedcausal.serialize import json_safe

__all__ = ["RefutationResult"]


@dataclass(frozen=True)
class RefutationResult:
    """A frequentist estimate of the total effect and the DoWhy refuters run against it.

    Attributes
    ----------
    estimate : float
        Total effect of moving the treatment from ``contrast[0]`` to ``contrast[1]``, on the
        probability scale (linear probability model coefficient × contrast width).
    estimator : str
        What was fitted, e.g. ``"linear probability model (OLS), backdoor adjustment {cinc,
        alliance}"``.
    contrast : tuple of float
        The treatment values (from, to) in data units.
    table : pandas.DataFrame
        One row per refuter: ``refuter``, ``new_effect``, ``p_value`` (DoWhy's, NaN if none),
        ``expected`` (``"≈ 0"`` or ``"≈ estimate"``), ``passed`` (bool) and ``detail`` (the
        rule applied, with numbers).
    std_error : float
        Conventional OLS standard error of ``estimate`` (same scale); the pass rules use it.
    n_obs : int
        Rows used.
    adjustment : tuple of str
        The adjustment set used (DAG nodes; the same as the Bayesian model's).
    dowhy_adjustment : tuple of str or None
        The backdoor set DoWhy's own identification proposes (``None`` if DoWhy finds none,
        e.g. when a latent confounder is only absorbed by the within-group split).
    """

    estimate: float
    estimator: str
    contrast: tuple[float, float]
    table: pd.DataFrame
    std_error: float = math.nan
    n_obs: int = 0
    adjustment: tuple[str, ...] = ()
    dowhy_adjustment: tuple[str, ...] | None = None
    simulations: int = 0
    seed: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Whether every refuter in the table passed."""
        return bool(self.table["passed"].all())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary (NaN becomes ``None``)."""
        return json_safe(
            {
                "estimate": self.estimate,
                "std_error": self.std_error,
                "estimator": self.estimator,
                "contrast": [float(c) for c in self.contrast],
                "n_obs": int(self.n_obs),
                "adjustment": list(self.adjustment),
                "dowhy_adjustment": None
                if self.dowhy_adjustment is None
                else list(self.dowhy_adjustment),
                "simulations": int(self.simulations),
                "seed": int(self.seed),
                "notes": list(self.notes),
                "passed": self.passed,
                "refuters": self.table.to_dict(orient="records"),
            }
        )

    def summary(self) -> str:
        """A short text report: the estimate, then one line per refuter."""
        t0, t1 = self.contrast
        lines = [
            f"estimate {self.estimate:+.4f} (SE {self.std_error:.4f}) for treatment "
            f"{t0:g} -> {t1:g}, n = {self.n_obs}",
            f"estimator: {self.estimator}",
        ]
        lines.extend(f"note: {n}" for n in self.notes)
        for row in self.table.itertuples(index=False):
            p = "" if pd.isna(row.p_value) else f", DoWhy p = {row.p_value:.3f}"
            verdict = "pass" if row.passed else "FAIL"
            lines.append(
                f"{row.refuter:<20} {verdict:<4} new effect {row.new_effect:+.4f} "
                f"(expected {row.expected}{p}): {row.detail}"
            )
        return "\n".join(lines)
