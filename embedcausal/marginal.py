"""A Gaussian mediator's varying intercepts of one grouping, integrated out and drawn back.

For a Gaussian mediator the effects ``u`` of one grouping (say missions) can be integrated out
of the likelihood exactly. Writing ``r`` for the standardised mediator minus the rest of its
linear predictor, ``r = Z u + e`` with ``e ~ N(0, σ² I)`` and

* ``u ~ N(0, τ² I)`` (independent effects), or
* ``u ~ N(0, τ² P)``, ``P = I - 11'/L`` (effects that sum to zero, as the model's
  ``ZeroSumNormal`` ones do),

so ``r ~ N(0, σ² I + τ² Z P Z')``. Each level's rows form a compound-symmetric block; with
``n_l`` rows, sum ``S_l`` and ``D_l = σ² + n_l τ²`` (matrix determinant lemma and
Sherman–Morrison for the sum-to-zero rank-one term)::

    log p(r) = -½ [N log 2π + (N - L) log σ² + Σ log D_l + (Σ r² - τ² Σ S_l² / D_l) / σ²
                   + log k + (τ² / L) (Σ S_l / D_l)² / k],      k = 1 - (τ² / L) Σ n_l / D_l

(the last two terms only for sum-to-zero effects). NUTS then samples ``σ``, ``τ`` and the
rest without the grouping's ``L`` effects, so the funnel between ``τ`` near 0 and the effects
is gone: on the canonical 9k panel the mediator's mission scale, whose true value is 0, was
the fit's least-mixed parameter. After sampling, each draw's effects are drawn from their exact
conditional, ``u_l ~ N(τ² S_l / D_l, σ² τ² / D_l)`` independently, then (sum-to-zero) moved onto
``Σ u_l = 0`` by conditioning on that constraint: ``u ← u - v Σu / Σv`` with ``v_l`` the
conditional variances. The posterior is the same as the model's; only how it is sampled
changes, so everything downstream (effects, ``pm.do``, LOO) uses the unchanged model.

Which grouping: :func:`marginal_grouping`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from embedcausal.batched import flat_draws, vectorized_function
from embedcausal.geometry import GroupPlan, PartPlan
from embedcausal.likelihoods import mediator_scale

if TYPE_CHECKING:
    from embedcausal.plan import Design

#: residual values (draws × rows, 16 MB) computed at once when drawing the effects back
CHUNK_VALUES = 2_000_000


def zero_sum(g: GroupPlan) -> bool:
    """Whether the model's effects of ``g`` sum to zero (see ``models._group_effects``)."""
    return not any(g.centered) or g.zero_sum


def marginal_grouping(design: Design, plan: PartPlan) -> GroupPlan | None:
    """The grouping of a Gaussian mediator's part whose effects are integrated out, if any.

    Eligible: a grouping whose effects have mean 0 (no intercept, predictors, parent or latent
    term in it), that no other grouping nests in, with no varying slope, parameterised all
    centred or all non-centred (a mix has no single prior to integrate). Among those, the first
    non-centred one (a scale the data inform weakly: the funnel this removes), else the first.
    """
    if design.data.mediator_family != "gaussian" or plan.prefix != "m":
        return None
    parents = {g.parent for g in plan.groups}
    sloped = {g for _, g in plan.slopes}
    ok = [
        g
        for g in plan.groups
        if g.parent is None
        and g.name not in parents
        and g.name not in sloped
        and not g.intercept
        and not g.predictors
        and (all(g.centered) or not any(g.centered))
    ]
    if not ok:
        return None
    return next((g for g in ok if not any(g.centered)), ok[0])


def marginal_logp(r, code, counts: np.ndarray, sigma, tau, *, zero_sum: bool):
    """log N(r | 0, σ² I + τ² Z P Z') (``P = I`` unless ``zero_sum``), symbolic (PyTensor).

    ``r``: residuals (rows), ``code``: each row's level, ``counts``: rows per level.
    """
    n_rows = counts.sum()
    n_levels = len(counts)
    n = pt.as_tensor_variable(counts.astype("float64"))
    s2, t2 = sigma**2, tau**2
    S = pt.zeros(n_levels)[code].inc(r)
    D = s2 + n * t2
    logdet = (n_rows - n_levels) * pt.log(s2) + pt.log(D).sum()
    quad = ((r**2).sum() - t2 * (S**2 / D).sum()) / s2
    if zero_sum:
        k = 1.0 - t2 / n_levels * (n / D).sum()
        logdet = logdet + pt.log(k)
        quad = quad + t2 / n_levels * (S / D).sum() ** 2 / k
    return -0.5 * (n_rows * np.log(2 * np.pi) + logdet + quad)


def marginal_mediator(design: Design, eta, g, nodes: dict, model: pm.Model):
    """A Gaussian mediator's likelihood with the effects of grouping ``g`` integrated out."""
    d = design.data
    observed = pm.Data(f"{d.mediator}__observed", d.m, dims="obs")
    center, scale = mediator_scale(design)
    center, scale = pm.Data("m__center", center), pm.Data("m__scale", scale)
    sigma = design.spec.priors["mediator_sigma"].to_pymc("m_sigma")
    residual = (observed - center) / scale - eta
    counts = np.bincount(d.group_codes[g.name], minlength=len(d.coords[g.name]))
    logp = marginal_logp(
        residual,
        nodes[f"{g.name}__code"],
        counts,
        sigma,
        model[f"m_sigma_{g.name}"],
        zero_sum=zero_sum(g),
    )
    pm.Potential("m_marginal_loglik", logp - d.n_obs * pt.log(scale))
    model.marginal = (g, residual)
    return observed


def conditional_effects(
    S: np.ndarray,
    counts: np.ndarray,
    sigma: np.ndarray,
    tau: np.ndarray,
    rng: np.random.Generator,
    *,
    zero_sum: bool,
) -> np.ndarray:
    """Draws of the effects given each posterior draw: ``S`` (draws × levels) the residual sums.

    Exact: independent Gaussian conditionals, then, for sum-to-zero effects, conditioned on
    ``Σ u = 0`` (see the module docstring).
    """
    s2, t2 = sigma[:, None] ** 2, tau[:, None] ** 2
    D = s2 + counts[None, :] * t2
    mean = t2 * S / D
    var = s2 * t2 / D
    u = mean + np.sqrt(var) * rng.standard_normal(S.shape)
    if zero_sum:
        u = u - var * (u.sum(axis=1, keepdims=True) / var.sum(axis=1, keepdims=True))
    return u


def draw_back(
    trace: xr.DataTree, model, design: Design, g: GroupPlan, rng: np.random.Generator
) -> xr.DataTree:
    """Add the integrated-out effects of ``g`` to a mediator part's trace, as the model names them.

    ``model`` is the sampled (marginal) model: ``r`` comes from its graph, so it is the
    residual the sampler saw. Adds ``m_{g}`` (the deviations) and the model's free variable:
    ``m_z_{g}`` (non-centred, ``u / τ``) or ``m_a_{g}`` (centred, ``u``).
    """
    from scipy import sparse

    post = trace["posterior"].to_dataset()
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    d = design.data
    code = np.asarray(d.group_codes[g.name])
    levels = len(d.coords[g.name])
    counts = np.bincount(code, minlength=levels).astype(float)
    names, fn = vectorized_function(model, [model.marginal[1]])
    flat = flat_draws(post, names)
    indicator = sparse.csr_matrix(
        (np.ones(len(code)), (code, np.arange(len(code)))), shape=(levels, len(code))
    )
    total = nchain * ndraw
    S = np.empty((total, levels))
    step = max(1, CHUNK_VALUES // max(len(code), 1))
    for start in range(0, total, step):
        (r,) = fn(*(flat[k][start : start + step] for k in names))
        S[start : start + step] = (indicator @ np.asarray(r).T).T
    sigma = np.asarray(post["m_sigma"].values).reshape(total)
    tau = np.asarray(post[f"m_sigma_{g.name}"].values).reshape(total)
    u = conditional_effects(S, counts, sigma, tau, rng, zero_sum=zero_sum(g))
    u = u.reshape(nchain, ndraw, levels)
    dims = ("chain", "draw", g.name)
    coords = {"chain": post["chain"].values, "draw": post["draw"].values, g.name: d.coords[g.name]}
    free = f"m_z_{g.name}" if not any(g.centered) else f"m_a_{g.name}"
    tau3 = tau.reshape(nchain, ndraw, 1)
    added = {
        free: xr.DataArray(u / tau3 if free.startswith("m_z_") else u, dims=dims, coords=coords),
        f"m_{g.name}": xr.DataArray(u, dims=dims, coords=coords),
    }
    out = trace.copy()
    out["posterior"] = xr.DataTree(post.assign(added))
    return out
