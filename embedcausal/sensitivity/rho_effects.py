r"""The mediation effects of the ρ-model, and where they cross zero.

:func:`rho_gcomp` is :func:`embedcausal.gcomp` for the model whose outcome error is
correlated ρ with the Gaussian mediator's (:mod:`embedcausal.correlated`). The structural
equations are

.. math::

    M(t') = c + s\,(η_m(t') + σ ε_M), \qquad
    Y(t, m) = 1[α(t) + γ(t)\,m + ε_Y > 0], \qquad \operatorname{corr}(ε_M, ε_Y) = ρ,

with the unit's own errors in every counterfactual. Writing ``A = α(t) + γ(t)(c + s η_m(t'))``
and ``B = γ(t) s σ``, the latent index ``A + B ε_M + ε_Y`` is normal with variance
``1 + B² + 2ρB``, so

.. math::

    E[Y(t, M(t'))] = \frac1n \sum_i Φ\!\left(A_i / \sqrt{1 + B_i^2 + 2ρ B_i}\right)

exactly (no quadrature); at ρ = 0 this is the ordinary fit's ``E[Φ(A + Bε)]``. For a Gaussian
outcome ``E[Y(t, M(t'))] = c_y + s_y·mean(A)``: ρ changes the effects only through the
posterior. Then ``total``, ``nde``, ``nie`` and ``prop_mediated`` as in :mod:`embedcausal.effects`.

:func:`crossings` reads a ρ table like ``mediation::medsens``: the ρ at which an effect's
posterior mean is 0, and the range of ρ around it in which its interval includes 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from embedcausal.batched import flat_draws
from embedcausal.effects import CHUNK_VALUES, Counterfactual
from embedcausal.plots.sensitivity import zero_crossings

if TYPE_CHECKING:
    from embedcausal.plan import Design

__all__ = ["CROSSING_COLUMNS", "crossings", "rho_gcomp"]

#: columns of :func:`crossings`
CROSSING_COLUMNS = ("effect", "rho_at_zero", "interval_from", "interval_to")


def _mean_outcome(design: Design, A: np.ndarray, B: np.ndarray, rho: float) -> np.ndarray:
    """Per draw, the mean over rows of ``E[Y(t, M(t'))]`` (see the module docstring)."""
    from scipy.special import ndtr

    from embedcausal.likelihoods import outcome_scale

    if design.spec.model.family == "gaussian":
        center, scale = outcome_scale(design)
        return center + scale * A.mean(axis=1)
    return ndtr(A / np.sqrt(1.0 + B * B + 2.0 * rho * B)).mean(axis=1)


def rho_gcomp(
    idata: xr.DataTree, design: Design, rho: float, *, counterfactual: Counterfactual
) -> xr.Dataset:
    """Effect draws of the ρ-model (dims ``chain``, ``draw``) by g-computation.

    Parameters
    ----------
    idata : xarray.DataTree
        A posterior of ``build_model(design, rho=True)`` sampled at this ``rho``.
    design : Design
        A design with a Gaussian mediator and a probit or Gaussian outcome.
    rho : float
        The error correlation the posterior was sampled at (``|rho| < 1``).
    counterfactual : Counterfactual
        Compiled from the ρ-model (:meth:`Counterfactual.compile`).

    Returns
    -------
    xarray.Dataset
        ``total``, ``nde``, ``nie``, ``prop_mediated``, ``nie_gt_nde`` with the attributes of
        :func:`embedcausal.gcomp` and ``rho``.

    See Also
    --------
    embedcausal.gcomp : the same effects with independent errors.

    Examples
    --------
    >>> from embedcausal.sensitivity.rho_effects import rho_gcomp     # doctest: +SKIP
    >>> rho_gcomp(idata, d, 0.3, counterfactual=cf)["nie"].mean()    # doctest: +SKIP
    """
    from embedcausal.effects import outcome_link
    from embedcausal.likelihoods import mediator_scale

    d = design.data
    post = idata["posterior"]
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    flat = flat_draws(post, {*counterfactual.inputs, "m_sigma"})
    c, s = mediator_scale(design)
    n = nchain * ndraw
    step = max(1, CHUNK_VALUES // max(d.n_obs, 1))
    out: dict[str, list[np.ndarray]] = {"total": [], "nde": [], "nie": []}
    for start in range(0, n, step):
        params = {k: v[start : start + step] for k, v in flat.items()}
        a0, da, g0, g1, m0, dm = counterfactual.eta(params)
        sigma = params["m_sigma"].reshape(-1, 1)
        e00 = _mean_outcome(design, a0 + g0 * (c + s * m0), g0 * s * sigma, rho)
        e10 = _mean_outcome(design, a0 + da + g1 * (c + s * m0), g1 * s * sigma, rho)
        e11 = _mean_outcome(design, a0 + da + g1 * (c + s * (m0 + dm)), g1 * s * sigma, rho)
        out["total"].append(e11 - e00)
        out["nde"].append(e10 - e00)
        out["nie"].append(e11 - e10)
    data = {
        k: (("chain", "draw"), np.concatenate(v).reshape(nchain, ndraw)) for k, v in out.items()
    }
    total, nde, nie = data["total"][1], data["nde"][1], data["nie"][1]
    with np.errstate(divide="ignore", invalid="ignore"):
        data["prop_mediated"] = (("chain", "draw"), nie / total)
    data["nie_gt_nde"] = (("chain", "draw"), (nie > nde).astype(float))
    t0, t1 = d.contrast
    attrs = {
        "treatment": d.treatment,
        "outcome": d.outcome,
        "mediator": d.mediator,
        "contrast_from": float(t0),
        "contrast_to": float(t1),
        "scale": "outcome units" if design.spec.model.family == "gaussian" else "probability",
        "link": outcome_link(design),
        "rho": float(rho),
        "method": "g-computation over the posterior with corr(ε_M, ε_Y) = rho",
    }
    if design.spec.estimand.rope is not None:
        attrs["rope"] = float(design.spec.estimand.rope)
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _around(r: float, bounds: list[float], x: np.ndarray) -> tuple[float, float]:
    """The nearest bounds below and above ``r`` (the grid's ends when there are none)."""
    below = [b for b in bounds if b <= r]
    above = [b for b in bounds if b >= r]
    return (below[-1] if below else float(x[0]), above[0] if above else float(x[-1]))


def crossings(table: pd.DataFrame, effects: tuple[str, ...] = ("nie", "nde", "total")):
    """Where each effect's posterior mean crosses 0 as ρ varies, and its interval around it.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``rho, effect, mean, hdi_low, hdi_high`` (:attr:`RhoResult.table`).
    effects : tuple of str
        The effects to read.

    Returns
    -------
    pandas.DataFrame
        :data:`CROSSING_COLUMNS`: one row per crossing of the mean (linear interpolation
        between grid points); ``interval_from``, ``interval_to``: the range of ρ around it in
        which the interval includes 0 (where ``hdi_low`` or ``hdi_high`` crosses 0, or the end
        of the grid). An effect whose mean never crosses 0 on the grid has one row with
        ``rho_at_zero`` NaN, and as its interval the first range of ρ in which the interval
        includes 0 (NaN when it never does).

    Examples
    --------
    >>> t = pd.DataFrame({"rho": [0.0, 0.5], "effect": "nie", "mean": [0.1, -0.1],
    ...                   "hdi_low": [0.05, -0.2], "hdi_high": [0.2, -0.05]})
    >>> crossings(t, ("nie",)).round(3).to_dict("records")
    [{'effect': 'nie', 'rho_at_zero': 0.25, 'interval_from': 0.1, 'interval_to': 0.4}]
    """
    rows = []
    for e in effects:
        g = table[table["effect"] == e].sort_values("rho")
        if g.empty:
            continue
        x = g["rho"].to_numpy(float)
        bounds = sorted(
            zero_crossings(x, g["hdi_low"].to_numpy(float))
            + zero_crossings(x, g["hdi_high"].to_numpy(float))
        )
        found = zero_crossings(x, g["mean"].to_numpy(float))
        for r in found:
            rows.append(dict(zip(CROSSING_COLUMNS, (e, r, *_around(r, bounds, x)), strict=True)))
        if not found:
            inside = x[(g["hdi_low"].to_numpy(float) <= 0) & (g["hdi_high"].to_numpy(float) >= 0)]
            span = _around(float(inside[0]), bounds, x) if len(inside) else (np.nan, np.nan)
            rows.append(dict(zip(CROSSING_COLUMNS, (e, np.nan, *span), strict=True)))
    return pd.DataFrame(rows, columns=list(CROSSING_COLUMNS))
