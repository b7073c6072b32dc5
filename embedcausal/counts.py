r"""Integrating a count mediator's noise out of ``P(Y = 1)``: exact sums over its support.

:func:`count_mean` — Poisson or negative-binomial ``M``: the exact sum over the support,
stopped when the remaining probability is below :data:`COUNT_TAIL`; with one slope per draw
``expit(a + γ·log1p(k)) = 1/(1 + e^{-a}·(1+k)^{-γ})`` and the powers are tabulated, so a
term costs a multiply-add and a division, not an exponential. :func:`count_arms` takes the
counterfactual arms ``(t, t')`` of g-computation at once: each row's pmf under ``t'`` is
computed once and serves every outcome arm that uses it. The other mediator families' kernels
are in :mod:`embedcausal.quadrature`, whose link functions these share.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from embedcausal.quadrature import LINKS, _inv_link

#: a row's sum over the mediator's support stops when less probability than this is left
COUNT_TAIL = 1e-9
#: counts whose (1 + k)^(-γ) is tabulated per draw (larger counts are computed directly)
K_TABLE = 2048


@numba.njit(cache=True)
def _same_slope(gamma, s, link):  # pragma: no cover
    """Whether draw ``s`` has one slope for all rows (up to rounding) and a logit link."""
    if link != 0:
        return False
    g0 = gamma[s, 0]
    for i in range(gamma.shape[1]):
        if abs(gamma[s, i] - g0) > 1e-9 * (1.0 + abs(g0)):
            return False
    return True


@numba.njit(cache=True, parallel=True)
def _count(a0, da, g0, g1, m0, dm, disp, negbin, tail, k_table, link, need):  # pragma: no cover
    """Per arm ``(t, t')`` with ``need[t, t']``, per draw: row mean of E[h(α_t + γ_t·g(M_t'))].

    ``α_1 = a0 + da``, ``η_m(1) = m0 + dm``. Each mediator's pmf is computed once per row and
    serves every outcome arm that uses it; row by row the sum runs over ``k = 0, 1, …`` until
    the mass left is below ``tail`` (and ``k > μ``), exactly as :func:`count_mean`.
    """
    n_draw, n_row = a0.shape
    out = np.zeros((2, 2, n_draw))
    # shared tables: log1p(k) and 1/(k + 1)
    log1p_k = np.empty(k_table)
    inv_k1 = np.empty(k_table)
    for k in range(k_table):
        log1p_k[k] = math.log1p(k)
        inv_k1[k] = 1.0 / (k + 1.0)
    for s in numba.prange(n_draw):
        same0 = _same_slope(g0, s, link)
        same1 = _same_slope(g1, s, link)
        r = disp[s]
        log_r = math.log(r)
        # (1 + k)^(-γ) for each outcome arm, filled as far as the rows need them
        pw0 = np.empty(k_table)
        pw1 = np.empty(k_table)
        filled0 = 0
        filled1 = 0
        # the pmf's ratio p(k+1)/p(k) without its row factor: (k + r)/(k + 1), or 1/(k + 1)
        step = np.empty(k_table)
        for k in range(k_table):
            step[k] = (k + r) * inv_k1[k] if negbin else inv_k1[k]
        acc = np.zeros((2, 2))
        # the treatment's changes da and dm are often one number per draw (no interaction, no
        # varying slope): then e^(-α_1) = e^(-α_0)·e^(-da) and μ_1 = μ_0·e^(dm), two
        # exponentials less per row (rows whose change differs by > 1e-12 get their own)
        da_s = da[s, 0]
        dm_s = dm[s, 0]
        e_da = math.exp(-da_s)
        e_dm = math.exp(dm_s)
        tol_a = 1e-12 * (1.0 + abs(da_s))
        tol_m = 1e-12 * (1.0 + abs(dm_s))
        for i in range(n_row):
            # the two outcome arms of the row: α, γ, e^(-α) (for the tabulated powers)
            a_0 = a0[s, i]
            a_1 = a_0 + da[s, i]
            gg0 = g0[s, i]
            gg1 = g1[s, i]
            ea0 = math.exp(-a_0) if a_0 > -700.0 else np.inf
            if a_0 > -700.0 and a_1 > -700.0 and abs(da[s, i] - da_s) <= tol_a:
                ea1 = ea0 * e_da
            else:
                ea1 = math.exp(-a_1) if a_1 > -700.0 else np.inf
            mu0 = math.exp(m0[s, i])
            if abs(dm[s, i] - dm_s) <= tol_m:
                mu1 = mu0 * e_dm
            else:
                mu1 = math.exp(m0[s, i] + dm[s, i])
            tab0 = same0 and ea0 < np.inf
            tab1 = same1 and ea1 < np.inf
            for tm in range(2):
                use0 = need[0, tm]  # the outcome arms that use this mediator
                use1 = need[1, tm]
                if not (use0 or use1):
                    continue
                mu = mu1 if tm == 1 else mu0
                if negbin:  # p(0) = (r / (r + μ))^r
                    p = math.exp(r * (log_r - math.log(r + mu)))
                    ratio = mu / (mu + r)
                else:
                    p = math.exp(-mu)
                    ratio = mu
                # k = 0, 1, … until the mass left is below tail (and k > μ)
                mass = 0.0
                acc0 = 0.0
                acc1 = 0.0
                kk = 0
                if use0 and use1 and tab0 and tab1 and ea0 < 1e100 and ea1 < 1e100:
                    # both arms from the tables, one division for the two:
                    # 1/x0 = x1/(x0·x1), 1/x1 = x0/(x0·x1) (no overflow: x0, x1 < 1e100)
                    while kk < k_table:
                        if kk >= filled0:
                            pw0[kk] = math.exp(-g0[s, 0] * log1p_k[kk])
                            pw1[kk] = math.exp(-g1[s, 0] * log1p_k[kk])
                            filled0 = kk + 1
                            filled1 = max(filled1, filled0)
                        x0 = 1.0 + ea0 * pw0[kk]
                        x1 = 1.0 + ea1 * pw1[kk]
                        q = p / (x0 * x1)
                        acc0 += q * x1
                        acc1 += q * x0
                        mass += p
                        if 1.0 - mass < tail and kk > mu:
                            break
                        p *= step[kk] * ratio
                        kk += 1
                elif (not use0 or tab0) and (not use1 or tab1):  # the arms used: from tables
                    while kk < k_table:
                        if use0:
                            if kk >= filled0:
                                pw0[kk] = math.exp(-g0[s, 0] * log1p_k[kk])
                                filled0 = kk + 1
                            acc0 += p / (1.0 + ea0 * pw0[kk])
                        if use1:
                            if kk >= filled1:
                                pw1[kk] = math.exp(-g1[s, 0] * log1p_k[kk])
                                filled1 = kk + 1
                            acc1 += p / (1.0 + ea1 * pw1[kk])
                        mass += p
                        if 1.0 - mass < tail and kk > mu:
                            break
                        p *= step[kk] * ratio
                        kk += 1
                else:  # h(a + γ·log1p(k)) term by term
                    while kk < k_table:
                        if use0:
                            acc0 += p * _inv_link(a_0 + gg0 * log1p_k[kk], link)
                        if use1:
                            acc1 += p * _inv_link(a_1 + gg1 * log1p_k[kk], link)
                        mass += p
                        if 1.0 - mass < tail and kk > mu:
                            break
                        p *= step[kk] * ratio
                        kk += 1
                if kk == k_table:  # a long tail: the terms past the tables
                    while True:
                        lk = math.log1p(kk)
                        if use0:
                            acc0 += p * _inv_link(a_0 + gg0 * lk, link)
                        if use1:
                            acc1 += p * _inv_link(a_1 + gg1 * lk, link)
                        mass += p
                        if 1.0 - mass < tail and kk > mu:
                            break
                        if kk > 1_000_000:
                            break
                        if negbin:
                            p = p * ((kk + r) / (kk + 1) * ratio)
                        else:
                            p = p * (ratio / (kk + 1))
                        kk += 1
                if use0:
                    acc[0, tm] += acc0 / mass
                if use1:
                    acc[1, tm] += acc1 / mass
        for t in range(2):
            for tm in range(2):
                out[t, tm, s] = acc[t, tm] / n_row
    return out


def _f64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def count_arms(
    a0, da, g0, g1, m0, dm, arms, *, family: str, dispersion=None, link: str = "logit"
) -> dict[tuple[int, int], np.ndarray]:
    """:func:`count_mean` for several counterfactual arms at once, sharing the pmfs.

    Arm ``(t, t')`` is the outcome at treatment ``t`` (``α = a0 + t·da``, ``γ = g0`` or
    ``g1``) with the mediator at ``t'`` (``η_m = m0 + t'·dm``); all arrays draws × rows.
    Each row's mediator pmf under ``t'`` is computed once for every arm that uses it.
    Returns ``{arm: per-draw mean}``.
    """
    negbin = family == "negbinomial"
    n_draw = np.shape(a0)[0]
    disp = np.ones(n_draw) if dispersion is None else np.asarray(dispersion, float)
    need = np.zeros((2, 2), dtype=np.bool_)
    for t, tm in arms:
        need[t, tm] = True
    out = _count(
        _f64(a0),
        _f64(da),
        _f64(g0),
        _f64(g1),
        _f64(m0),
        _f64(dm),
        _f64(disp),
        negbin,
        COUNT_TAIL,
        K_TABLE,
        LINKS[link],
        need,
    )
    return {(t, tm): out[t, tm] for t, tm in arms}


def count_mean(
    alpha, gamma, eta_m, *, family: str, dispersion=None, link: str = "logit"
) -> np.ndarray:
    """Per draw, mean over rows of ``E[h(α + γ·log1p(M))]`` for a count mediator.

    ``M ~ Poisson(exp(η_m))`` or ``NegativeBinomial(mu=exp(η_m), alpha=dispersion)`` (PyMC's
    parameterisation), summed exactly over its support.
    """
    zero = np.zeros_like(np.asarray(alpha, dtype=np.float64))
    return count_arms(
        alpha,
        zero,
        gamma,
        gamma,
        eta_m,
        zero,
        [(0, 0)],
        family=family,
        dispersion=dispersion,
        link=link,
    )[0, 0]
