"""The result of an omitted-variable-bias analysis: its numbers, table, text and contour plot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from embedcausal.errors import EmbedcausalError
from embedcausal.sensitivity.ovb_statistics import adjusted_t, bias_adjusted_estimate
from embedcausal.serialize import json_safe

__all__ = ["BOUND_COLUMNS", "OVBResult"]

BOUND_COLUMNS = (
    "bound_label",
    "benchmark",
    "kd",
    "ky",
    "r2dz_x",
    "r2yz_dx",
    "adjusted_estimate",
    "adjusted_se",
    "adjusted_t",
    "adjusted_lower",
    "adjusted_upper",
)


@dataclass(frozen=True)
class OVBResult:
    """Sensitivity of an OLS estimate to omitted variables (returned by :func:`ovb`).

    Attributes
    ----------
    estimate, se, dof, t_stat : float, float, int, float
        The OLS coefficient of the treatment, its standard error, residual degrees of freedom
        and t-statistic.
    partial_r2 : float
        ``R²(Y~D|X)``, the share of the outcome's residual variance the treatment explains.
    rv_q, rv_qa : float
        Robustness values ``RV_q`` and ``RV_{q,α}``.
    q, alpha : float
        The fraction of the estimate explained away and the significance level used.
    treatment, outcome : str
        Column names.
    bounds : pandas.DataFrame
        One row per benchmark × ``kd``: ``bound_label``, ``benchmark``, ``kd``, ``ky``,
        ``r2dz_x``, ``r2yz_dx``, ``adjusted_estimate``, ``adjusted_se``, ``adjusted_t``,
        ``adjusted_lower``, ``adjusted_upper`` (the ``1 − α`` interval, with ``dof − 1``
        degrees of freedom).
    reduce : bool
        Whether confounding is assumed to have pushed the estimate away from zero.
    """

    estimate: float
    se: float
    dof: int
    t_stat: float
    partial_r2: float
    rv_q: float
    rv_qa: float
    q: float
    alpha: float
    treatment: str
    outcome: str
    bounds: pd.DataFrame
    reduce: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON form (plain ``float``/``int``/``str``; ``bounds`` as records; NaN bounds
        as ``None``)."""
        out: dict[str, Any] = {
            "treatment": str(self.treatment),
            "outcome": str(self.outcome),
            "estimate": float(self.estimate),
            "se": float(self.se),
            "dof": int(self.dof),
            "t_stat": float(self.t_stat),
            "partial_r2": float(self.partial_r2),
            "rv_q": float(self.rv_q),
            "rv_qa": float(self.rv_qa),
            "q": float(self.q),
            "alpha": float(self.alpha),
            "reduce": bool(self.reduce),
        }
        out["bounds"] = self.bounds.to_dict(orient="records")
        return json_safe(out)

    def summary(self) -> str:
        """A short plain-text report with a verbal interpretation, in the spirit of sensemakr."""
        target = (1 - self.q) * self.estimate
        goal = "0" if self.q == 1 else f"{target:.4g} ({1 - self.q:.0%} of the estimate)"
        lines = [
            "Sensitivity to unobserved confounding (Cinelli & Hazlett 2020)",
            f"outcome: {self.outcome}   treatment: {self.treatment}",
            f"unadjusted estimate {self.estimate:.5g} (se {self.se:.5g}, t {self.t_stat:.3f}, "
            f"dof {self.dof})",
            f"partial R2 of treatment with outcome, R2(Y~D|X): {self.partial_r2:.2%}",
            f"robustness value RV(q={self.q:g}): {self.rv_q:.2%}",
            f"robustness value RV(q={self.q:g}, alpha={self.alpha:g}): {self.rv_qa:.2%}",
            "",
            f"- A confounder (orthogonal to the covariates) explaining all of the outcome's "
            f"residual variance would need to explain at least {self.partial_r2:.2%} of the "
            "treatment's to explain the whole estimate away.",
            f"- Confounders explaining more than {self.rv_q:.2%} of the residual variance of both "
            f"treatment and outcome can bring the estimate to {goal}; weaker ones cannot.",
            f"- Confounders explaining more than {self.rv_qa:.2%} of both can make the "
            f"{1 - self.alpha:.0%} interval include {goal}.",
        ]
        if len(self.bounds):
            cols = [c for c in BOUND_COLUMNS if c not in ("benchmark", "kd", "ky")]
            table = self.bounds[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}")
            lines += ["", f"bounds (interval {1 - self.alpha:.0%}):", table]
            if self.bounds["r2dz_x"].isna().any():
                lines.append("NaN: kd too large for that benchmark (an impossible confounder)")
        return "\n".join(lines)

    def contour(self, *, sensitivity_of: str = "estimate", lim: float = 0.4, ax: Any = None):
        """Contour plot of the bias-adjusted estimate (or t-value) with the benchmark bounds.

        Parameters
        ----------
        sensitivity_of : {"estimate", "t-value"}
            What the contours show. The threshold contour (0 for the estimate, the critical
            t-value for ``t-value``) is drawn in red.
        lim : float
            Upper limit of both axes, in ``(0, 1]``; widened to show every benchmark bound.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure by default.

        Returns
        -------
        matplotlib.axes.Axes
        """
        if sensitivity_of not in ("estimate", "t-value"):
            raise EmbedcausalError(
                f"contour: sensitivity_of = {sensitivity_of!r}; expected 'estimate' or 't-value'"
            )
        if not 0 < lim <= 1:
            raise EmbedcausalError(f"contour: lim = {lim!r}; expected a number in (0, 1]")
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6, 5))
        shown = self.bounds.dropna(subset=["r2dz_x", "r2yz_dx"])
        top = {
            axis: min(max(lim, 1.15 * float(shown[col].max())) if len(shown) else lim, 0.999)
            for axis, col in (("x", "r2dz_x"), ("y", "r2yz_dx"))
        }
        dz, yz = np.meshgrid(np.linspace(0, top["x"], 161), np.linspace(0, top["y"], 161))
        if sensitivity_of == "estimate":
            z = bias_adjusted_estimate(self.estimate, self.se, self.dof, dz, yz, self.reduce)
            threshold, unadjusted = 0.0, self.estimate
        else:
            z = adjusted_t(self.estimate, self.se, self.dof, dz, yz, self.reduce)
            crit = float(stats.t.ppf(1 - self.alpha / 2, self.dof - 1))
            threshold = crit if self.t_stat >= 0 else -crit
            unadjusted = self.t_stat
        cs = ax.contour(dz, yz, z, levels=10, colors="0.45", linewidths=0.8)
        ax.clabel(cs, fmt="%.3g", fontsize=7)
        if z.min() < threshold < z.max():
            red = ax.contour(dz, yz, z, levels=[threshold], colors="red", linewidths=1.8)
            ax.clabel(red, fmt="%.3g", fontsize=7)
        ax.scatter([0], [0], marker="^", c="black", zorder=3)
        ax.annotate(
            f"unadjusted ({unadjusted:.3g})",
            (0, 0),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
        for b in shown.itertuples():
            ax.scatter([b.r2dz_x], [b.r2yz_dx], marker="D", c="tab:red", s=20, zorder=3)
            value = b.adjusted_estimate if sensitivity_of == "estimate" else b.adjusted_t
            ax.annotate(
                f"{b.bound_label} ({value:.3g})",
                (b.r2dz_x, b.r2yz_dx),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
        ax.set_xlim(0, max(top["x"], *(shown["r2dz_x"] * 1.05)))
        ax.set_ylim(0, max(top["y"], *(shown["r2yz_dx"] * 1.05)))
        ax.set_xlabel("Partial R² of confounder(s) with the treatment, R²(D~Z|X)")
        ax.set_ylabel("Partial R² of confounder(s) with the outcome, R²(Y~Z|D,X)")
        ax.set_title(f"Bias-adjusted {sensitivity_of} of {self.treatment}", fontsize=10)
        return ax
