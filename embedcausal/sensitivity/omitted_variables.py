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

All formulas are the published ones (paper §4–§6 and sensemakr, the authors' reference
implementation); ``tests/test_ovb.py`` checks them against the paper's Darfur example, a direct
statsmodels OLS and brute-force searches. See ``docs/sensitivity-ovb.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, stats

from embedcausal.errors import DataError, EmbedcausalError, close_matches

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


# -- the formulas (vectorised) ------------------------------------------------------------------
def partial_r2(t_stat: Any, dof: int) -> Any:
    """Partial R² of a regressor from its t-statistic.

    Parameters
    ----------
    t_stat : float or array_like
        t-statistic(s) of the coefficient.
    dof : int
        Residual degrees of freedom of the regression.

    Returns
    -------
    float or numpy.ndarray
        ``t² / (t² + dof)``.
    """
    t = np.asarray(t_stat, dtype=float)
    return t**2 / (t**2 + dof)


def robustness_value(t_stat: float, dof: int, q: float = 1.0, alpha: float | None = None) -> float:
    """Robustness value ``RV_q`` (``alpha=None``) or ``RV_{q,α}``.

    Parameters
    ----------
    t_stat : float
        t-statistic of the treatment coefficient.
    dof : int
        Residual degrees of freedom.
    q : float
        Fraction of the estimate to explain away (``q = 1``: bring it to zero).
    alpha : float, optional
        Significance level; with it, the strength needed for the ``1 − α`` interval of the
        adjusted estimate to include ``(1 − q) × estimate``.

    Returns
    -------
    float
        The partial R² (with both treatment and outcome) the confounder needs, in ``[0, 1)``.

    Notes
    -----
    With ``f_q = q·|t|/√dof``: ``RV_q = ½(√(f_q⁴ + 4f_q²) − f_q²)``. With ``alpha``, ``f_q`` is
    replaced by ``f_q − f*`` where ``f* = |t_{α/2, dof−1}| / √(dof − 1)`` (0 when negative); when
    ``f_q > 1/f*`` the constraint ``R² ≤ 1`` binds and ``RV = (f_q² − f*²)/(1 + f_q²)``.
    """
    fq = q * abs(t_stat / np.sqrt(dof))
    if alpha is None:
        return float(0.5 * (np.sqrt(fq**4 + 4 * fq**2) - fq**2))
    f_crit = abs(stats.t.ppf(alpha / 2, dof - 1)) / np.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa <= 0:
        return 0.0
    if fq > 1 / f_crit:  # the constraint R² <= 1 binds
        return float((fq**2 - f_crit**2) / (1 + fq**2))
    return float(0.5 * (np.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def bias(se: float, dof: int, r2dz_x: Any, r2yz_dx: Any) -> Any:
    """Absolute bias from a confounder: ``se · √dof · √(R²yz·R²dz / (1 − R²dz))``.

    Parameters
    ----------
    se : float
        Standard error of the unadjusted estimate.
    dof : int
        Residual degrees of freedom.
    r2dz_x, r2yz_dx : float or array_like
        Partial R² of the confounder with the treatment and with the outcome.

    Returns
    -------
    float or numpy.ndarray
    """
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, float), np.asarray(r2yz_dx, float)
    return se * np.sqrt(dof) * np.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x))


def bias_adjusted_estimate(
    estimate: float, se: float, dof: int, r2dz_x: Any, r2yz_dx: Any, reduce: bool = True
) -> Any:
    """Estimate after adjusting for a confounder of the given strength.

    Parameters
    ----------
    estimate, se : float
        Unadjusted estimate and its standard error.
    dof : int
        Residual degrees of freedom.
    r2dz_x, r2yz_dx : float or array_like
        Partial R² of the confounder with the treatment and with the outcome.
    reduce : bool
        ``True``: the confounder biased the estimate away from zero, so the adjustment moves it
        toward zero; ``False``: the other way.

    Returns
    -------
    float or numpy.ndarray
        ``sign(estimate)·(|estimate| ∓ bias)``.
    """
    b = bias(se, dof, r2dz_x, r2yz_dx)
    return np.sign(estimate) * (abs(estimate) - b if reduce else abs(estimate) + b)


def adjusted_se(se: float, dof: int, r2dz_x: Any, r2yz_dx: Any) -> Any:
    """Standard error after adjusting for the confounder.

    Parameters
    ----------
    se : float
        Standard error of the unadjusted estimate.
    dof : int
        Residual degrees of freedom of the unadjusted regression.
    r2dz_x, r2yz_dx : float or array_like
        Partial R² of the confounder with the treatment and with the outcome.

    Returns
    -------
    float or numpy.ndarray
        ``√((1 − R²yz)/(1 − R²dz)) · se · √(dof/(dof − 1))``.
    """
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, float), np.asarray(r2yz_dx, float)
    return np.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * se * np.sqrt(dof / (dof - 1))


def adjusted_t(
    estimate: float, se: float, dof: int, r2dz_x: Any, r2yz_dx: Any, reduce: bool = True
) -> Any:
    """t-value (against 0) of the bias-adjusted estimate.

    Parameters
    ----------
    estimate, se, dof, r2dz_x, r2yz_dx, reduce
        As in :func:`bias_adjusted_estimate`.

    Returns
    -------
    float or numpy.ndarray
        ``bias_adjusted_estimate / adjusted_se``.
    """
    est = bias_adjusted_estimate(estimate, se, dof, r2dz_x, r2yz_dx, reduce)
    with np.errstate(divide="ignore"):  # R²(Y~Z|D,X) = 1 leaves no residual: t is infinite
        return est / adjusted_se(se, dof, r2dz_x, r2yz_dx)


def benchmark_bound(r2dxj_x: float, r2yxj_dx: float, kd: Any, ky: Any) -> tuple[Any, Any]:
    """Bounds on ``(R²(D~Z|X), R²(Y~Z|D,X))`` for a confounder ``(kd, ky)`` times a covariate.

    Parameters
    ----------
    r2dxj_x : float
        The benchmark covariate's partial R² with the treatment (given the other covariates).
    r2yxj_dx : float
        Its partial R² with the outcome (given the treatment and the other covariates).
    kd, ky : float or array_like
        How many times stronger the confounder is with the treatment and with the outcome.

    Returns
    -------
    tuple of (float or numpy.ndarray)
        ``r2dz_x = kd·r2dxj/(1 − r2dxj)`` and ``r2yz_dx = min(1, η²·r2yxj/(1 − r2yxj))`` with
        ``η = (√ky + √r2zxj)/√(1 − r2zxj)``, ``r2zxj = kd·r2dxj²/((1 − kd·r2dxj)(1 − r2dxj))``
        (Cinelli & Hazlett 2020, §6.1 and footnote 10). Both are NaN where ``kd`` is so large
        that the confounder is impossible (``r2dz_x`` or ``r2zxj`` would reach 1), as in
        sensemakr.
    """
    kd, ky = np.asarray(kd, float), np.asarray(ky, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
        r2zxj = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
        impossible = (r2dz_x >= 1) | (kd * r2dxj_x >= 1) | ~(r2zxj < 1)
        r2dz_x = np.where(impossible, np.nan, r2dz_x)
        r2zxj = np.where(impossible, np.nan, r2zxj)
        eta2 = ((np.sqrt(ky) + np.sqrt(r2zxj)) / np.sqrt(1 - r2zxj)) ** 2
        r2yz_dx = np.fmin(eta2 * r2yxj_dx / (1 - r2yxj_dx), 1.0)
    r2yz_dx = np.where(impossible, np.nan, r2yz_dx)
    return r2dz_x, r2yz_dx


# -- fitting ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _OLS:
    coef: np.ndarray
    cov: np.ndarray
    dof: int
    names: list[str]

    def group_r2(self, names: Sequence[str]) -> float:
        """Partial R² of a group of regressors: ``W/(W + dof)``, ``W`` their Wald statistic.

        For OLS this equals ``(RSS_without − RSS_with)/RSS_without`` (and ``t²/(t² + dof)`` for
        a single regressor).
        """
        idx = [self.names.index(n) for n in names]
        b = self.coef[idx]
        wald = float(b @ np.linalg.solve(self.cov[np.ix_(idx, idx)], b))
        return wald / (wald + self.dof)


def _ols(y: np.ndarray, X: pd.DataFrame, what: str) -> _OLS:
    """OLS with an intercept by pivoted QR; a rank-deficient design is a :class:`DataError`."""
    A = np.column_stack([np.ones(len(X)), X.to_numpy(float)])
    names = ["(intercept)", *map(str, X.columns)]
    n, p = A.shape
    if n - p < 2:
        raise DataError(
            f"ovb: the {what} regression has {n} rows but {p} coefficients; it needs at least "
            f"{p + 2} rows (drop covariates or fixed effects)"
        )
    Q, R, piv = linalg.qr(A, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > diag[0] * max(n, p) * np.finfo(float).eps))
    if rank < p:
        redundant = [names[i] for i in piv[rank:]]
        raise DataError(
            f"ovb: the {what} regression's columns are collinear (rank {rank} < {p}); "
            f"{redundant[:5]} are linear combinations of the others; drop a redundant covariate, "
            "fixed effect or constant column"
        )
    coef = np.empty(p)
    coef[piv] = linalg.solve_triangular(R, Q.T @ y)
    resid = y - A @ coef
    dof = n - p
    r_inv = linalg.solve_triangular(R, np.eye(p))
    cov = np.empty((p, p))
    cov[np.ix_(piv, piv)] = (r_inv @ r_inv.T) * (float(resid @ resid) / dof)
    return _OLS(coef, cov, dof, names)


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _design(
    data: pd.DataFrame, columns: Sequence[str], categorical: set[str]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Numeric columns as they are, categorical ones as drop-first dummies (grouped by column)."""
    parts, groups = [], {}
    for c in columns:
        s = data[c]
        if c in categorical or _is_categorical(s):
            d = pd.get_dummies(
                s.astype(str), prefix=str(c), prefix_sep="=", drop_first=True, dtype=float
            )
            parts.append(d)
            groups[c] = list(map(str, d.columns))
        else:
            parts.append(s.astype(float).rename(c))
            groups[c] = [str(c)]
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
    return X, groups


# -- result -------------------------------------------------------------------------------------
def _json_float(v: Any) -> float | None:
    """``float(v)``, or ``None`` for NaN/±inf (an impossible or degenerate bound)."""
    v = float(v)
    return v if np.isfinite(v) else None


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
        """JSON-serialisable form (plain ``float``/``int``/``str``; ``bounds`` as records)."""
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
        out["bounds"] = [
            {k: (v if isinstance(v, str) else _json_float(v)) for k, v in row.items()}
            for row in self.bounds.to_dict(orient="records")
        ]
        return out

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


# -- the entry point ----------------------------------------------------------------------------
def _missing_column(data: pd.DataFrame, what: str, column: str) -> DataError:
    close = close_matches(column, data.columns, n=3)
    hint = f"; close matches: {close}" if close else f"; columns are {list(data.columns)[:20]}"
    return DataError(f"ovb: {what} column {column!r} not found{hint}")


def _check_arguments(
    q: float, alpha: float, kd: Sequence[float], ky: Sequence[float] | None
) -> tuple[list[float], list[float]]:
    if not (isinstance(q, Real) and np.isfinite(q) and q > 0):
        raise EmbedcausalError(f"ovb: q = {q!r}; expected a number > 0")
    if not (isinstance(alpha, Real) and 0 < alpha < 1):
        raise EmbedcausalError(f"ovb: alpha = {alpha!r}; expected a number in (0, 1)")
    kd_list = [float(k) for k in np.atleast_1d(np.asarray(kd, dtype=float))]
    ky_list = kd_list if ky is None else [float(k) for k in np.atleast_1d(np.asarray(ky, float))]
    for name, ks in (("kd", kd_list), ("ky", ky_list)):
        if not ks or not all(np.isfinite(k) and k > 0 for k in ks):
            raise EmbedcausalError(f"ovb: {name} = {ks}; expected one or more numbers > 0")
    if len(ky_list) != len(kd_list):
        raise EmbedcausalError(
            f"ovb: ky = {ky_list} has {len(ky_list)} values but kd = {kd_list} has "
            f"{len(kd_list)}; expected one ky per kd"
        )
    return kd_list, ky_list


def _check_data(
    data: pd.DataFrame, outcome: str, treatment: str, regs: list[str], benchmark: Sequence[str]
) -> None:
    for what, c in (("outcome", outcome), ("treatment", treatment)):
        if c not in data.columns:
            raise _missing_column(data, what, c)
    for c in regs:
        if c not in data.columns:
            raise _missing_column(data, "covariate", c)
        if c in (outcome, treatment):
            raise EmbedcausalError(
                f"ovb: {c!r} is the outcome or treatment and cannot also be a covariate"
            )
    for b in benchmark:
        if b not in data.columns:
            raise _missing_column(data, "benchmark", b)
        if b not in regs:
            raise EmbedcausalError(
                f"ovb: benchmark {b!r} is not among the covariates or fixed effects {regs}; a "
                "benchmark must be adjusted for"
            )
    used = [outcome, treatment, *regs]
    na = data[used].isna()
    rows = na.any(axis=1)
    if rows.any():
        cols = {c: int(n) for c, n in na.sum().items() if n}
        raise DataError(
            f"ovb: {int(rows.sum())} row(s) with missing values (per column: {cols}), e.g. rows "
            f"{list(data.index[rows][:5])}; drop or fill them first"
        )
    for what, c in (("outcome", outcome), ("treatment", treatment)):
        s = data[c]
        if not pd.api.types.is_numeric_dtype(s):
            raise DataError(f"ovb: {what} column {c!r} has dtype {s.dtype}; expected numbers")
    for c in [outcome, treatment, *regs]:
        s = data[c]
        if not _is_categorical(s) and not np.isfinite(s.to_numpy(float)).all():
            bad = list(data.index[~np.isfinite(s.to_numpy(float))][:5])
            raise DataError(f"ovb: column {c!r} has infinite values, e.g. rows {bad}")


def _warn_degenerate(
    name: str, r2dxj: float, kd: list[float], ky: list[float], r2dz: Any, r2yz: Any
) -> None:
    """Warn (as sensemakr does) about impossible bounds (NaN) and ones capped at R² = 1."""
    impossible = [k for k, v in zip(kd, r2dz, strict=True) if np.isnan(v)]
    if impossible:
        warnings.warn(
            f"ovb: benchmark {name!r} (partial R² {r2dxj:.3g} with the treatment): kd = "
            f"{impossible} implies an impossible confounder (R² >= 1); those bounds are NaN, "
            "use a smaller kd",
            UserWarning,
            stacklevel=3,
        )
    capped = [(a, b) for a, b, v in zip(kd, ky, r2yz, strict=True) if v == 1.0]
    if capped:
        warnings.warn(
            f"ovb: benchmark {name!r}: (kd, ky) = {capped} imply R²(Y~Z|D,X) > 1; capped at 1, "
            "try a smaller kd or ky",
            UserWarning,
            stacklevel=3,
        )


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
        One row per observation; no missing values in the columns used.
    outcome, treatment : str
        Numeric columns.
    covariates : sequence of str
        Adjusted-for columns; a non-numeric (str, category, bool) one becomes drop-first dummies.
    fixed_effects : sequence of str
        Grouping columns adjusted for as drop-first dummies even when numeric (e.g. ``country``).
    benchmark : sequence of str
        Covariates or fixed effects to benchmark against; a categorical one is benchmarked as
        the group of its dummies (its group partial R²).
    kd, ky : sequence of float
        Multiples of the benchmark's strength with the treatment and with the outcome
        (``ky`` defaults to ``kd``; one ``ky`` per ``kd``).
    q : float
        Fraction of the estimate to explain away (``1``: to zero).
    alpha : float
        Significance level of the intervals and of ``RV_{q,α}``.
    reduce : bool
        Whether confounding is assumed to have pushed the estimate away from zero.

    Returns
    -------
    OVBResult

    Raises
    ------
    DataError
        A column is missing, non-numeric (outcome, treatment), has missing or infinite values, or
        the design is collinear or has too few rows.
    EmbedcausalError
        ``q``, ``alpha``, ``kd`` or ``ky`` is out of range, or a benchmark is not a covariate.
    """
    kd_list, ky_list = _check_arguments(q, alpha, kd, ky)
    regs = list(dict.fromkeys([*covariates, *fixed_effects]))
    _check_data(data, outcome, treatment, regs, benchmark)
    X, groups = _design(data, regs, set(fixed_effects))
    y = data[outcome].to_numpy(float)
    d = data[treatment].to_numpy(float)
    full = _ols(y, pd.concat([data[[treatment]].astype(float), X], axis=1), "outcome")
    j = full.names.index(str(treatment))
    est, se = float(full.coef[j]), float(np.sqrt(full.cov[j, j]))
    rows = []
    if benchmark:
        treat = _ols(d, X, "treatment")
        crit = float(stats.t.ppf(1 - alpha / 2, full.dof - 1))
        for b in dict.fromkeys(benchmark):
            r2dxj, r2yxj = treat.group_r2(groups[b]), full.group_r2(groups[b])
            r2dz, r2yz = benchmark_bound(r2dxj, r2yxj, kd_list, ky_list)
            _warn_degenerate(b, r2dxj, kd_list, ky_list, r2dz, r2yz)
            adj = bias_adjusted_estimate(est, se, full.dof, r2dz, r2yz, reduce)
            adj_se = adjusted_se(se, full.dof, r2dz, r2yz)
            with np.errstate(divide="ignore", invalid="ignore"):  # r2yz_dx = 1: se 0
                adj_t = adj / adj_se
            for i, (kdi, kyi) in enumerate(zip(kd_list, ky_list, strict=True)):
                rows.append(
                    {
                        "bound_label": f"{kdi:g}x {b}" if kdi == kyi else f"{kdi:g}/{kyi:g}x {b}",
                        "benchmark": str(b),
                        "kd": kdi,
                        "ky": kyi,
                        "r2dz_x": float(r2dz[i]),
                        "r2yz_dx": float(r2yz[i]),
                        "adjusted_estimate": float(adj[i]),
                        "adjusted_se": float(adj_se[i]),
                        "adjusted_t": float(adj_t[i]),
                        "adjusted_lower": float(adj[i] - crit * adj_se[i]),
                        "adjusted_upper": float(adj[i] + crit * adj_se[i]),
                    }
                )
    t_stat = est / se
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
        bounds=pd.DataFrame(rows, columns=list(BOUND_COLUMNS)),
        reduce=reduce,
    )
