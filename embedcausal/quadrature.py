r"""Integrating a mediator's noise out of ``P(Y = 1)``: compiled kernels for g-computation.

For each posterior draw *s* and row *i* the outcome's linear predictor is ``α + γ·g(M)`` with
``g(M)`` the mediator as it enters the outcome (itself, or ``log1p`` for counts). The kernels
return, per draw, the mean over rows of ``E[h(α_i + γ_i·g(M_i))]`` with ``h`` the outcome's
inverse link (:data:`LINKS`): ``expit`` (logit, the default), ``Φ`` (probit) or the identity
(a Gaussian outcome, on its standardised scale). Below, ``expit`` stands for ``h``:

* :func:`gaussian_mean` — ``g(M) = c + s·(η_m + σ·ε)``, ``ε ~ N(0, 1)``: the logistic-normal
  integral ``F(A, B) = E[expit(A + B·ε)]``. When ``B`` is the same for every row of a draw
  (no varying slope on the mediator), ``F(·, B)`` is tabulated once per draw on a grid of
  ``A`` (spacing :data:`GRID_STEP`) with :func:`nodes` and read back by cubic (Catmull–Rom)
  interpolation: about one table entry per 50 rows instead of dozens of ``expit`` per row.
  Otherwise each row is integrated directly.
* :func:`count_mean` — Poisson or negative-binomial ``M``: the exact sum over the support,
  stopped when the remaining probability is below :data:`COUNT_TAIL`; with one slope per draw
  ``expit(a + γ·log1p(k)) = 1/(1 + e^{-a}·(1+k)^{-γ})`` and the powers are tabulated, so a
  term costs a multiply-add and a division, not an exponential.
  :func:`count_arms` takes the counterfactual arms ``(t, t')`` of g-computation at once: each
  row's pmf under ``t'`` is computed once and serves every outcome arm that uses it.
* :func:`ordered_mean` — an ordered-logit ``M`` on ``0..K-1``: the exact sum over categories.
* :func:`bernoulli_mean` and :func:`plain_mean` — exact.

Accuracy (``tests/test_effects.py``): below 1e-7 on the probability scale against direct
high-order quadrature. The kernels run draws in parallel threads (numba ``prange``): the
sampler has finished, so every core is free.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: inverse links by name -> the code the kernels take
LINKS = {"logit": 0, "probit": 1, "identity": 2}
GRID_STEP = 0.05
COUNT_TAIL = 1e-9
#: counts whose (1 + k)^(-γ) is tabulated per draw (larger counts are computed directly)
K_TABLE = 2048
_EPS_RANGE = 8.5


def nodes(max_b: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights for ``E[f(ε)]``, ``ε ~ N(0, 1)``, good for ``|B| <= max_b``.

    Gauss–Hermite for small ``B`` (fast convergence), the trapezoid rule on ±8.5 SD with a
    step ``min(0.5, 1/|B|)`` for large ``B``: for an integrand ``expit(A + B·ε)`` whose poles lie
    ``π/|B|`` from the real axis, both errors are below 1e-9.
    """
    b = abs(float(max_b))
    if b <= 1.0:
        x, w = np.polynomial.hermite_e.hermegauss(24)
        return x, w / w.sum()
    step = min(0.5, 1.0 / b)
    x = np.arange(-_EPS_RANGE, _EPS_RANGE + step / 2, step)
    w = np.exp(-0.5 * x * x)
    return x, w / w.sum()


@numba.njit(cache=True)
def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@numba.njit(cache=True)
def _inv_link(x: float, link: int) -> float:
    if link == 0:
        return _expit(x)
    if link == 1:
        return 0.5 * math.erfc(-x / math.sqrt(2.0))
    return x


@numba.njit(cache=True, parallel=True)
def _gaussian(alpha, gamma, eta_m, center, scale, sigma, x, w, step, link):  # pragma: no cover
    n_draw, n_row = alpha.shape
    out = np.empty(n_draw)
    k = x.shape[0]
    for s in numba.prange(n_draw):
        constant_b = True
        g0 = gamma[s, 0]
        tol = 1e-9 * (1.0 + abs(g0))
        for i in range(n_row):
            if abs(gamma[s, i] - g0) > tol:  # equal up to rounding: one table serves the draw
                constant_b = False
                break
        total = 0.0
        if constant_b:
            b = g0 * scale * sigma[s]
            lo = np.inf
            hi = -np.inf
            for i in range(n_row):
                a = alpha[s, i] + g0 * (center + scale * eta_m[s, i])
                lo = min(lo, a)
                hi = max(hi, a)
            lo -= 2 * step
            n_grid = int((hi - lo) / step) + 4
            table = np.empty(n_grid)
            for j in range(n_grid):
                a = lo + j * step
                acc = 0.0
                for q in range(k):
                    acc += w[q] * _inv_link(a + b * x[q], link)
                table[j] = acc
            for i in range(n_row):
                a = alpha[s, i] + g0 * (center + scale * eta_m[s, i])
                pos = (a - lo) / step
                j = int(pos)
                t = pos - j
                p0, p1, p2, p3 = table[j - 1], table[j], table[j + 1], table[j + 2]
                total += p1 + 0.5 * t * (
                    p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0))
                )
        else:
            for i in range(n_row):
                a = alpha[s, i] + gamma[s, i] * (center + scale * eta_m[s, i])
                b = gamma[s, i] * scale * sigma[s]
                acc = 0.0
                for q in range(k):
                    acc += w[q] * _inv_link(a + b * x[q], link)
                total += acc
        out[s] = total / n_row
    return out


def gaussian_mean(alpha, gamma, eta_m, center, scale, sigma, link: str = "logit") -> np.ndarray:
    """Per draw, mean over rows of ``E[h(α + γ·(c + s·(η_m + σ·ε)))]`` (arrays draws × rows)."""
    b = np.abs(np.asarray(gamma)).max(initial=0.0) * abs(scale) * np.max(np.abs(sigma), initial=0.0)
    x, w = nodes(b)
    return _gaussian(
        np.ascontiguousarray(alpha, dtype=np.float64),
        np.ascontiguousarray(gamma, dtype=np.float64),
        np.ascontiguousarray(eta_m, dtype=np.float64),
        float(center),
        float(scale),
        np.ascontiguousarray(sigma, dtype=np.float64),
        x,
        w,
        GRID_STEP,
        LINKS[link],
    )


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


@numba.njit(cache=True, parallel=True)
def _plain(eta, link):  # pragma: no cover
    n_draw, n_row = eta.shape
    out = np.empty(n_draw)
    for s in numba.prange(n_draw):
        acc = 0.0
        for i in range(n_row):
            acc += _inv_link(eta[s, i], link)
        out[s] = acc / n_row
    return out


def plain_mean(eta, link: str = "logit") -> np.ndarray:
    """Per draw, the mean over rows of ``h(η)``."""
    return _plain(np.ascontiguousarray(eta, dtype=np.float64), LINKS[link])


@numba.njit(cache=True, parallel=True)
def _bernoulli(alpha, gamma, eta_m, link):  # pragma: no cover
    n_draw, n_row = alpha.shape
    out = np.empty(n_draw)
    for s in numba.prange(n_draw):
        acc = 0.0
        for i in range(n_row):
            p = _expit(eta_m[s, i])
            acc += (1.0 - p) * _inv_link(alpha[s, i], link) + p * _inv_link(
                alpha[s, i] + gamma[s, i], link
            )
        out[s] = acc / n_row
    return out


def bernoulli_mean(alpha, gamma, eta_m, link: str = "logit") -> np.ndarray:
    """Per draw, mean over rows of ``E[h(α + γ·M)]`` with ``M ~ Bernoulli(expit(η_m))``."""
    arrays = (np.ascontiguousarray(v, dtype=np.float64) for v in (alpha, gamma, eta_m))
    return _bernoulli(*arrays, LINKS[link])


@numba.njit(cache=True, parallel=True)
def _ordered(alpha, gamma, eta_m, cut, link):  # pragma: no cover
    n_draw, n_row = alpha.shape
    n_cut = cut.shape[1]
    out = np.empty(n_draw)
    for s in numba.prange(n_draw):
        acc = 0.0
        for i in range(n_row):
            upper = 1.0  # P(M >= k) = expit(η − c_{k−1}); P(M >= 0) = 1
            for k in range(n_cut + 1):
                lower = _expit(eta_m[s, i] - cut[s, k]) if k < n_cut else 0.0
                acc += (upper - lower) * _inv_link(alpha[s, i] + gamma[s, i] * k, link)
                upper = lower
        out[s] = acc / n_row
    return out


def ordered_mean(alpha, gamma, eta_m, cutpoints, link: str = "logit") -> np.ndarray:
    """Per draw, mean over rows of ``E[h(α + γ·M)]`` with ``M`` ordered-logit on ``0..K-1``.

    ``P(M = k) = expit(η_m − c_{k−1}) − expit(η_m − c_k)`` (PyMC's ``OrderedLogistic``;
    ``cutpoints`` is draws × (K − 1)), summed exactly.
    """
    arrays = (np.ascontiguousarray(v, dtype=np.float64) for v in (alpha, gamma, eta_m))
    cut = np.ascontiguousarray(np.atleast_2d(cutpoints), dtype=np.float64)
    return _ordered(*arrays, cut, LINKS[link])
