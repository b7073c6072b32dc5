"""The Cinelli–Hazlett statistics of omitted-variable bias (JRSS-B 82(1): 39–67, §4–§6).

For the OLS regression ``Y ~ D + X`` the bias from an omitted confounder ``Z`` depends only on
``R²(D~Z|X)`` and ``R²(Y~Z|D,X)``. The functions below are the published formulas, vectorised
over those two partial R²: the treatment's partial R², the robustness values ``RV_q`` and
``RV_{q,α}``, the bias-adjusted estimate, standard error and t-value, and the bounds implied by a
confounder ``k`` times as strong as an observed covariate. :func:`embedcausal.sensitivity.ovb`
applies them to a data set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "adjusted_se",
    "adjusted_t",
    "benchmark_bound",
    "bias",
    "bias_adjusted_estimate",
    "partial_r2",
    "robustness_value",
]


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
