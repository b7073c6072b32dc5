"""Omitted-variable bias for the linear model (Cinelli & Hazlett 2020, JRSS-B 82(1): 39–67).

For the OLS regression ``Y ~ D + X`` with the treatment ``D``, the bias from an omitted
confounder ``Z`` depends only on two partial R²: ``R²(D~Z|X)`` and ``R²(Y~Z|D,X)``.
:func:`ovb` checks the data, fits the regressions (:mod:`.ovb_regression`, statsmodels OLS) and
computes (:mod:`.ovb_statistics`):

* the partial R² of the treatment with the outcome, ``R²(Y~D|X) = t² / (t² + dof)``;
* the robustness value ``RV_q``: the strength (equal partial R² with D and Y) a confounder needs
  to reduce the estimate by ``100·q`` %, and ``RV_{q,α}``: to make its ``1 − α`` interval include
  ``(1 − q) ×`` the estimate;
* **benchmark bounds**: a confounder ``k`` times as strong as an observed covariate (or a group
  of dummies, for a categorical one), with the bias-adjusted results at those bounds.

The result is an :class:`~embedcausal.sensitivity.ovb_result.OVBResult` (table, text, contour
plot). All formulas are the published ones (paper §4–§6 and sensemakr, the authors' reference
implementation); ``tests/test_ovb.py`` checks them against the paper's Darfur example, a direct
statsmodels OLS and brute-force searches. See ``docs/sensitivity-ovb.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from embedcausal.errors import DataError, EmbedcausalError, close_matches
from embedcausal.sensitivity.ovb_regression import (
    design,
    fit_ols,
    group_partial_r2,
    is_categorical,
)
from embedcausal.sensitivity.ovb_result import BOUND_COLUMNS, OVBResult
from embedcausal.sensitivity.ovb_statistics import (
    adjusted_se,
    benchmark_bound,
    bias_adjusted_estimate,
    partial_r2,
    robustness_value,
)

__all__ = ["OVBResult", "ovb"]


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
        if not is_categorical(s) and not np.isfinite(s.to_numpy(float)).all():
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
    X, groups = design(data, regs, set(fixed_effects))
    y = data[outcome].to_numpy(float)
    d = data[treatment].to_numpy(float)
    full = fit_ols(y, pd.concat([data[[treatment]].astype(float), X], axis=1), "outcome")
    est, se = float(full.params[str(treatment)]), float(full.bse[str(treatment)])
    dof = int(full.df_resid)
    rows = []
    if benchmark:
        treat = fit_ols(d, X, "treatment")
        crit = float(stats.t.ppf(1 - alpha / 2, dof - 1))
        for b in dict.fromkeys(benchmark):
            r2dxj, r2yxj = group_partial_r2(treat, groups[b]), group_partial_r2(full, groups[b])
            r2dz, r2yz = benchmark_bound(r2dxj, r2yxj, kd_list, ky_list)
            _warn_degenerate(b, r2dxj, kd_list, ky_list, r2dz, r2yz)
            adj = bias_adjusted_estimate(est, se, dof, r2dz, r2yz, reduce)
            adj_se = adjusted_se(se, dof, r2dz, r2yz)
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
        dof=dof,
        t_stat=t_stat,
        partial_r2=float(partial_r2(t_stat, dof)),
        rv_q=robustness_value(t_stat, dof, q),
        rv_qa=robustness_value(t_stat, dof, q, alpha),
        q=q,
        alpha=alpha,
        treatment=treatment,
        outcome=outcome,
        bounds=pd.DataFrame(rows, columns=list(BOUND_COLUMNS)),
        reduce=reduce,
    )
