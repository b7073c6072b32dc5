"""Rank-normalised split R-hat and bulk/tail ESS of many parameters at once.

The same estimators as ArviZ's ``az.rhat(method="rank")`` and ``az.ess(method="bulk" |
"tail")`` (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021; ArviZ-stats'
``_DiagnosticsBase``), written over an array ``(parameter, chain, draw)`` instead of one
parameter at a time. ArviZ loops over the ~900 elements of a 9k-panel posterior in Python
(2.0–2.5 s per fit); here each step is one NumPy/SciPy call over all of them. Elements the
vectorised path does not cover (non-finite or constant draws) are handed to ArviZ itself, so
the results are ArviZ's; ``tests/test_mixing.py`` checks the two agree to 1e-9.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, special

#: parameters handled at once (64 × 4 chains × 1000 draws: 2 MB per working array)
BLOCK = 64
#: ArviZ's default tail probabilities for ``ess(method="tail")``
TAIL_PROBS = (0.05, 0.95)


def _split(x: np.ndarray) -> np.ndarray:
    """(K, C, D) → (K, 2C, D // 2): each chain's first and last halves (the middle dropped)."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half :]], axis=1)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise each parameter's values (Blom's offset 3/8), shape kept."""
    k = x.shape[0]
    flat = x.reshape(k, -1)
    size = flat.shape[1]
    # average ranks (scipy's rankdata(method="average")) from one sort: tied values (a draw
    # repeated when NUTS stays put) share the mean of their positions
    order = np.argsort(flat, axis=1)
    ordered = np.take_along_axis(flat, order, axis=1)
    new = np.ones(ordered.shape, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], new.size) - 1
    mean_rank = (starts + ends) / 2.0 - (starts // size) * size + 1.0
    rank = np.empty_like(flat)
    np.put_along_axis(rank, order, mean_rank[np.cumsum(new) - 1].reshape(k, size), axis=1)
    return special.ndtri((rank - 3 / 8) / (size - 2 * 3 / 8 + 1)).reshape(x.shape)


def _rhat(x: np.ndarray) -> np.ndarray:
    """Gelman–Rubin R-hat of each parameter of (K, C, D)."""
    n = x.shape[2]
    between = n * np.var(x.mean(axis=2), axis=1, ddof=1)
    within = np.var(x, axis=2, ddof=1).mean(axis=1)
    return np.sqrt((between / within + n - 1) / n)


def _autocov(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    m = fft.next_fast_len(2 * n)
    centred = x - x.mean(axis=-1, keepdims=True)
    f = np.fft.rfft(centred, n=m, axis=-1)
    f *= np.conjugate(f)
    return np.fft.irfft(f, n=m, axis=-1)[..., :n] / n


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each parameter of (K, C, D): Geyer's initial positive and monotone sequences."""
    k, c, n = x.shape
    acov = _autocov(x)
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    # initial positive sequence: the loop over t = 1, 3, … (pairs t+1, t+2) runs while the
    # previous pair's sum is > 0 (1 + rho_1 before the first) and t < n - 3
    ts = np.arange(1, max(n - 3, 1), 2)
    r = np.zeros((k, n))
    r[:, 0] = 1.0
    r[:, 1] = rho[:, 1]
    if len(ts):
        pair = rho[:, ts + 1] + rho[:, ts + 2]
        previous = np.concatenate([(1.0 + rho[:, 1])[:, None], pair[:, :-1]], axis=1)
        ran = np.cumprod(previous > 0, axis=1).astype(bool)
        keep = ran & (pair >= 0)
        r[:, ts + 1] = np.where(keep, rho[:, ts + 1], 0.0)
        r[:, ts + 2] = np.where(keep, rho[:, ts + 2], 0.0)
        n_ran = ran.sum(axis=1)
    else:
        n_ran = np.zeros(k, dtype=int)
    max_t = 2 * n_ran - 1
    last_even = np.where(n_ran > 0, rho[np.arange(k), np.clip(max_t + 1, 0, n - 1)], 1.0)
    rows = np.flatnonzero((n_ran > 0) & (last_even > 0))
    r[rows, max_t[rows] + 1] = last_even[rows]
    # initial monotone sequence: pair sums P_j = r[2j] + r[2j+1] made non-increasing for the
    # pairs with 2j + 1 <= max_t (a running minimum; both members set to half of it)
    npair = n // 2
    j = np.arange(npair)
    sums = r[:, 0 : 2 * npair : 2] + r[:, 1 : 2 * npair : 2]
    runmin = np.minimum.accumulate(sums, axis=1)
    before = np.concatenate([sums[:, :1], runmin[:, :-1]], axis=1)
    lower = (j >= 1)[None, :] & ((2 * j + 1)[None, :] <= max_t[:, None]) & (sums > before)
    half = np.where(lower, before / 2.0, np.nan)
    for offset in (0, 1):
        block = r[:, offset : 2 * npair : 2]
        r[:, offset : 2 * npair : 2] = np.where(lower, half, block)
    idx = np.arange(n)[None, :]
    total = c * n
    tau = (
        -1.0
        + 2.0 * np.where(idx <= max_t[:, None], r, 0.0).sum(axis=1)
        + np.where(idx == (max_t + 1)[:, None], r, 0.0).sum(axis=1)
    )
    tau = np.maximum(tau, 1.0 / np.log10(total))
    ess = total / tau
    return np.where(np.isnan(r).any(axis=1), np.nan, ess)


def _regular(x: np.ndarray) -> np.ndarray:
    """Parameters the vectorised path covers: finite, not constant."""
    flat = x.reshape(x.shape[0], -1)
    finite = np.isfinite(flat).all(axis=1)
    spread = np.where(finite, np.ptp(np.where(finite[:, None], flat, 0.0), axis=1), 0.0)
    return finite & (spread >= np.finfo(float).resolution)


def _arviz(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from arviz_stats.base import array_stats

    kw = {"chain_axis": 1, "draw_axis": 2}
    return (
        np.asarray(array_stats.rhat(x, method="rank", **kw), dtype=float),
        np.asarray(array_stats.ess(x, method="bulk", **kw), dtype=float),
        np.asarray(array_stats.ess(x, method="tail", prob=TAIL_PROBS, **kw), dtype=float),
    )


def _vectorised(x: np.ndarray, ok: np.ndarray, rhat, bulk, tail) -> None:
    """Fill ``rhat``, ``bulk`` and ``tail`` at the parameters ``ok`` (see :func:`rhat_ess`)."""
    c = x.shape[1]
    xs = _split(x[ok])
    if c >= 2:
        folded = np.abs(xs - np.median(xs.reshape(xs.shape[0], -1), axis=1)[:, None, None])
        rhat[ok] = np.maximum(_rhat(_z_scale(xs)), _rhat(_z_scale(folded)))
    bulk[ok] = _ess(_z_scale(xs))
    flat = x[ok].reshape(int(ok.sum()), -1)
    tails = []
    for prob in TAIL_PROBS:
        q = np.quantile(flat, prob, axis=1)
        below = _split((x[ok] <= q[:, None, None]).astype(float))
        e = np.full(len(q), float(below[0].size))  # ArviZ: a constant's ESS is its size
        varying = np.ptp(below.reshape(len(q), -1), axis=1) >= np.finfo(float).resolution
        if varying.any():
            e[varying] = _ess(below[varying])
        tails.append(e)
    tail[ok] = np.minimum(*tails)


def rhat_ess(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat, bulk ESS and tail ESS of each parameter.

    Parameters
    ----------
    values : ndarray, shape (parameter, chain, draw)

    Returns
    -------
    (r_hat, ess_bulk, ess_tail) : three arrays of shape (parameter,)
        As ArviZ's ``rhat(method="rank")``, ``ess(method="bulk")`` and
        ``ess(method="tail")``; R-hat is NaN with fewer than 2 chains or 4 draws, as there.

    Examples
    --------
    >>> import numpy as np
    >>> r, b, t = rhat_ess(np.random.default_rng(0).normal(size=(3, 4, 500)))
    >>> bool((r < 1.01).all() and (b > 1000).all())
    True
    """
    x = np.asarray(values, dtype=float)
    k, _, d = x.shape
    rhat = np.full(k, np.nan)
    bulk = np.full(k, np.nan)
    tail = np.full(k, np.nan)
    if k == 0 or d < 4:
        return rhat, bulk, tail
    ok = _regular(x)
    # in blocks of parameters: the sorts' working arrays stay a few MB (all 900 elements of a
    # 9k-panel posterior at once took ~150 MB at the fit's peak)
    for start in range(0, k, BLOCK):
        part = slice(start, start + BLOCK)
        block = np.zeros(k, dtype=bool)
        block[part] = ok[part]
        if block.any():
            with np.errstate(invalid="ignore", divide="ignore"):  # a degenerate split: NaN
                _vectorised(x, block, rhat, bulk, tail)
    if (~ok).any():
        with np.errstate(invalid="ignore", divide="ignore"):  # a stuck chain: 0/0, NaN
            rhat[~ok], bulk[~ok], tail[~ok] = _arviz(x[~ok])
    return rhat, bulk, tail
