"""Omitted-variable bias for the linear model (Cinelli & Hazlett 2020, JRSS-B 82(1): 39–67).

For the OLS regression ``Y ~ D + X`` with the treatment ``D``, the bias from an omitted
confounder ``Z`` depends only on two partial R²: ``R²(D~Z|X)`` and ``R²(Y~Z|D,X)``. This module
computes, from one OLS fit:

* the partial R² of the treatment with the outcome, ``R²(Y~D|X) = t² / (t² + dof)``;
* the robustness value ``RV_q``: the strength (equal partial R² with D and Y) a confounder needs
  to reduce the estimate by ``100·q`` %, and ``RV_{q,α}``: to make its ``1 − α`` interval include
  ``(1 − q) ×`` the estimate;
* bias-adjusted estimates, standard errors and t-values for any ``(R²(D~Z|X), R²(Y~Z|D,X))``;
* **benchmark bounds**: a confounder ``k`` times as strong as an observed covariate (or a group
  of dummies, for a categorical one), with the bias-adjusted results at those bounds.

All formulas are the published ones (paper §4–§6; sensemakr's reference implementation);
``tests/test_ovb.py`` checks them against the paper's Darfur example and a direct OLS.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from embedcausal.errors import DataError, EmbedcausalError


# -- the formulas (vectorised) ------------------------------------------------------------------
def partial_r2(t_stat: Any, dof: int) -> Any:
    """Partial R² of a regressor from its t-statistic: ``t² / (t² + dof)``."""
    t = np.asarray(t_stat, dtype=float)
    return t**2 / (t**2 + dof)


def robustness_value(t_stat: float, dof: int, q: float = 1.0, alpha: float | None = None) -> float:
    """Robustness value ``RV_q`` (``alpha=None``) or ``RV_{q,α}``."""
    fq = q * abs(t_stat / np.sqrt(dof))
    if alpha is None:
        return float(0.5 * (np.sqrt(fq**4 + 4 * fq**2) - fq**2))
    f_crit = abs(stats.t.ppf(alpha / 2, dof - 1)) / np.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa < 0:
        return 0.0
    if fq > 1 / f_crit:  # the constraint R² <= 1 binds: the extreme case of the paper
        return float((fq**2 - f_crit**2) / (1 + fq**2))
    return float(0.5 * (np.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def bias(se: float, dof: int, r2dz_x: Any, r2yz_dx: Any) -> Any:
    """Absolute bias ``se · sqrt(dof) · sqrt(R²yz·R²dz / (1 − R²dz))``."""
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, float), np.asarray(r2yz_dx, float)
    return se * np.sqrt(dof) * np.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x))


def bias_adjusted_estimate(
    estimate: float, se: float, dof: int, r2dz_x: Any, r2yz_dx: Any, reduce: bool = True
) -> Any:
    """Estimate after removing (``reduce``) or adding the confounder's bias, away from zero."""
    b = bias(se, dof, r2dz_x, r2yz_dx)
    return np.sign(estimate) * (abs(estimate) - b if reduce else abs(estimate) + b)


def adjusted_se(se: float, dof: int, r2dz_x: Any, r2yz_dx: Any) -> Any:
    """Standard error after adjusting for the confounder."""
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, float), np.asarray(r2yz_dx, float)
    return np.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * se * np.sqrt(dof / (dof - 1))


def adjusted_t(
    estimate: float, se: float, dof: int, r2dz_x: Any, r2yz_dx: Any, reduce: bool = True
) -> Any:
    """t-value of the bias-adjusted estimate (against 0)."""
    return bias_adjusted_estimate(estimate, se, dof, r2dz_x, r2yz_dx, reduce) / adjusted_se(
        se, dof, r2dz_x, r2yz_dx
    )


def benchmark_bound(r2dxj_x: float, r2yxj_dx: float, kd: Any, ky: Any) -> tuple[Any, Any]:
    """Bounds on ``(R²(D~Z|X), R²(Y~Z|D,X))`` for a confounder ``(kd, ky)`` × a covariate.

    ``r2dxj_x`` is the covariate's partial R² with the treatment, ``r2yxj_dx`` with the outcome
    (given the treatment and the other covariates).
    """
    kd, ky = np.asarray(kd, float), np.asarray(ky, float)
    r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
    if np.any(r2dz_x >= 1):
        raise EmbedcausalError(f"kd = {kd.tolist()}: the implied R²(D~Z|X) >= 1; use a lower kd")
    r2zxj = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if np.any(r2zxj >= 1):
        raise EmbedcausalError(f"kd = {kd.tolist()}: impossible confounder; use a lower kd")
    eta2 = ((np.sqrt(ky) + np.sqrt(r2zxj)) / np.sqrt(1 - r2zxj)) ** 2
    r2yz_dx = np.minimum(eta2 * r2yxj_dx / (1 - r2yxj_dx), 1.0)
    return r2dz_x, r2yz_dx


# -- fitting ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _OLS:
    coef: np.ndarray
    cov: np.ndarray
    dof: int
    names: list[str]

    def t(self, name: str) -> float:
        j = self.names.index(name)
        return float(self.coef[j] / np.sqrt(self.cov[j, j]))

    def group_r2(self, names: Sequence[str]) -> float:
        """Partial R² of a group of regressors, from their Wald F statistic."""
        idx = [self.names.index(n) for n in names]
        b = self.coef[idx]
        f = float(b @ np.linalg.solve(self.cov[np.ix_(idx, idx)], b)) / len(idx)
        return f * len(idx) / (f * len(idx) + self.dof)


def _ols(y: np.ndarray, X: pd.DataFrame) -> _OLS:
    A = np.column_stack([np.ones(len(X)), X.to_numpy(float)])
    names = ["(intercept)", *map(str, X.columns)]
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    rank = np.linalg.matrix_rank(A)
    if rank < A.shape[1]:
        raise DataError(
            f"the regressors are collinear (rank {rank} < {A.shape[1]} columns); drop a "
            "redundant covariate or fixed effect"
        )
    resid = y - A @ coef
    dof = len(y) - A.shape[1]
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv(A.T @ A)
    return _OLS(coef, cov, dof, names)


def _design(data: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, dict[str, list]]:
    """Numeric columns as they are, categorical ones as drop-first dummies (grouped by column)."""
    parts, groups = [], {}
    for c in columns:
        s = data[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            parts.append(s.astype(float).rename(c))
            groups[c] = [c]
        else:
            d = pd.get_dummies(
                s.astype(str), prefix=c, prefix_sep="=", drop_first=True, dtype=float
            )
            parts.append(d)
            groups[c] = list(d.columns)
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
    return X, groups


@dataclass(frozen=True)
class OVBResult:
    """Sensitivity of an OLS estimate to omitted variables (see the module docstring)."""

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out = {
            k: getattr(self, k)
            for k in (
                "estimate",
                "se",
                "dof",
                "t_stat",
                "partial_r2",
                "rv_q",
                "rv_qa",
                "q",
                "alpha",
                "treatment",
                "outcome",
            )
        }
        out["bounds"] = self.bounds.to_dict(orient="records")
        return out

    def summary(self) -> str:
        """A short plain-text report."""
        lines = [
            f"Outcome: {self.outcome}; treatment: {self.treatment}",
            f"estimate {self.estimate:.5f} (se {self.se:.5f}, t {self.t_stat:.3f}, dof {self.dof})",
            f"partial R2 of treatment with outcome: {self.partial_r2:.2%}",
            f"robustness value RV_q={self.q:g}: {self.rv_q:.2%}; "
            f"RV_q={self.q:g},alpha={self.alpha:g}: {self.rv_qa:.2%}",
            f"  (a confounder explaining {self.rv_q:.1%} of the residual variance of both "
            f"treatment and outcome would reduce the estimate by {self.q:.0%})",
        ]
        if len(self.bounds):
            cols = [
                "bound_label",
                "r2dz_x",
                "r2yz_dx",
                "adjusted_estimate",
                "adjusted_lower",
                "adjusted_upper",
            ]
            lines.append(
                self.bounds[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}")
            )
        return "\n".join(lines)

    def contour(self, *, sensitivity_of: str = "estimate", lim: float = 0.4, ax=None):
        """Contour plot of the bias-adjusted estimate (or t-value) with the benchmark bounds."""
        import matplotlib.pyplot as plt

        if sensitivity_of not in ("estimate", "t-value"):
            raise EmbedcausalError(
                f"sensitivity_of = {sensitivity_of!r}; expected 'estimate' or 't-value'"
            )
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 5))
        lim = max(lim, *(self.bounds["r2dz_x"].tolist() or [0]), 0.05)
        grid = np.linspace(0, min(lim, 0.999), 101)
        dz, yz = np.meshgrid(grid, grid)
        if sensitivity_of == "estimate":
            z = bias_adjusted_estimate(self.estimate, self.se, self.dof, dz, yz)
            threshold = 0.0
            unadjusted = self.estimate
        else:
            z = adjusted_t(self.estimate, self.se, self.dof, dz, yz)
            threshold = float(stats.t.ppf(1 - self.alpha / 2, self.dof - 1))
            unadjusted = self.t_stat
        cs = ax.contour(dz, yz, z, levels=10, colors="0.4", linewidths=0.8)
        ax.clabel(cs, fmt="%.3g", fontsize=7)
        if z.min() < threshold < z.max():
            ax.contour(dz, yz, z, levels=[threshold], colors="red", linewidths=2)
        ax.scatter([0], [0], marker="^", c="black")
        ax.annotate(
            f"unadjusted ({unadjusted:.3g})",
            (0, 0),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
        for _, b in self.bounds.iterrows():
            ax.scatter(b["r2dz_x"], b["r2yz_dx"], marker="D", c="tab:red", s=20)
            ax.annotate(
                b["bound_label"],
                (b["r2dz_x"], b["r2yz_dx"]),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
        ax.set_xlabel("partial R² of confounder(s) with the treatment")
        ax.set_ylabel("partial R² of confounder(s) with the outcome")
        ax.set_title(f"bias-adjusted {sensitivity_of} of {self.treatment}")
        return ax


def _need_columns(data: pd.DataFrame, cols: dict[str, str]) -> None:
    for what, c in cols.items():
        if c not in data.columns:
            close = difflib.get_close_matches(str(c), list(map(str, data.columns)), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(f"ovb: {what} column {c!r} not found{hint}")


def ovb(
    data: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str] = (),
    fixed_effects: Sequence[str] = (),
    benchmark: Sequence[str] = (),
    kd: Sequence[float] = (1, 2, 3),
    ky: Sequence[float] | None = None,
    q: float = 1.0,
    alpha: float = 0.05,
    reduce: bool = True,
) -> OVBResult:
    """Sensitivity of the OLS estimate of ``treatment`` on ``outcome`` to omitted variables.

    Parameters
    ----------
    data : pandas.DataFrame
    outcome, treatment : str
        Numeric columns.
    covariates : sequence of str
        Adjusted-for columns; a non-numeric one becomes drop-first dummies.
    fixed_effects : sequence of str
        Grouping columns adjusted for as dummies (e.g. ``country``).
    benchmark : sequence of str
        Covariates (or fixed effects) to benchmark against; a categorical one is benchmarked as
        the group of its dummies.
    kd, ky : sequence of float
        Multiples of the benchmark's strength with the treatment and outcome (``ky`` defaults to
        ``kd``).
    q, alpha : float
        Fraction of the estimate to explain away, and the significance level.
    reduce : bool
        Whether the confounder reduces the estimate in absolute value.

    Returns
    -------
    OVBResult
    """
    if not q > 0:
        raise EmbedcausalError(f"ovb: q = {q!r}; expected a number > 0")
    if not 0 < alpha < 1:
        raise EmbedcausalError(f"ovb: alpha = {alpha!r}; expected a number in (0, 1)")
    kd = [float(k) for k in kd]
    ky = kd if ky is None else [float(k) for k in ky]
    if len(ky) != len(kd) or any(k <= 0 for k in [*kd, *ky]):
        raise EmbedcausalError(f"ovb: kd = {kd}, ky = {ky}; expected positive lists of one length")
    regs = list(dict.fromkeys([*covariates, *fixed_effects]))
    needed = {"outcome": outcome, "treatment": treatment}
    needed |= {f"covariate {c}": c for c in regs}
    _need_columns(data, needed)
    for b in benchmark:
        if b not in regs:
            raise EmbedcausalError(
                f"ovb: benchmark {b!r} is not among the covariates {regs}; a benchmark must be "
                "adjusted for"
            )
    used = [outcome, treatment, *regs]
    na = data[used].isna().any(axis=1)
    if na.any():
        raise DataError(
            f"ovb: {int(na.sum())} row(s) with missing values in {used}, e.g. rows "
            f"{list(data.index[na][:5])}; drop or fill them first"
        )
    for what, c in (("outcome", outcome), ("treatment", treatment)):
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise DataError(f"ovb: {what} column {c!r} must be numeric, got {data[c].dtype}")
    X, groups = _design(data, regs)
    y = data[outcome].to_numpy(float)
    d = data[treatment].to_numpy(float)
    full = _ols(y, pd.concat([data[[treatment]].astype(float), X], axis=1))
    j = full.names.index(treatment)
    est, se = float(full.coef[j]), float(np.sqrt(full.cov[j, j]))
    t_stat = est / se
    rows = []
    if benchmark:
        treat = _ols(d, X)
        for b in benchmark:
            cols = groups[b]
            r2dxj = treat.group_r2(cols)
            r2yxj = full.group_r2(cols)
            r2dz, r2yz = benchmark_bound(r2dxj, r2yxj, kd, ky)
            for i, (kdi, kyi) in enumerate(zip(kd, ky, strict=True)):
                adj = float(bias_adjusted_estimate(est, se, full.dof, r2dz[i], r2yz[i], reduce))
                adj_se = float(adjusted_se(se, full.dof, r2dz[i], r2yz[i]))
                crit = float(stats.t.ppf(1 - alpha / 2, full.dof - 1))
                label = f"{kdi:g}x {b}" if kdi == kyi else f"{kdi:g}/{kyi:g}x {b}"
                rows.append(
                    {
                        "bound_label": label,
                        "benchmark": b,
                        "kd": kdi,
                        "ky": kyi,
                        "r2dz_x": float(r2dz[i]),
                        "r2yz_dx": float(r2yz[i]),
                        "adjusted_estimate": adj,
                        "adjusted_se": adj_se,
                        "adjusted_t": adj / adj_se,
                        "adjusted_lower": adj - crit * adj_se,
                        "adjusted_upper": adj + crit * adj_se,
                    }
                )
    bounds = pd.DataFrame(
        rows,
        columns=[
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
        ],
    )
    return OVBResult(
        estimate=est,
        se=se,
        dof=full.dof,
        t_stat=t_stat,
        partial_r2=float(partial_r2(t_stat, full.dof)),
        rv_q=robustness_value(t_stat, full.dof, q),
        rv_qa=robustness_value(t_stat, full.dof, q, alpha),
        q=q,
        alpha=alpha,
        treatment=treatment,
        outcome=outcome,
        bounds=bounds,
    )
