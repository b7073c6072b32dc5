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
the fit's least-mixed parameter. It still was afterwards (bulk ESS 1783 of 4000 draws), as
NUTS moves a scale that the data barely inform slowly. So after sampling, each draw's ``τ`` is
first redrawn from its exact conditional given the draw's other parameters: the density above
as a function of ``τ`` alone (:func:`scale_loglik`, through ``S_l`` and ``σ``) times its prior,
one-dimensional, sampled by :data:`SCALE_SWEEPS` sweeps of slice sampling (Neal 2003) on
``log τ`` that start at the NUTS draw (:func:`refresh_scale`). Each sweep leaves that
conditional invariant, so the draws keep the posterior, and they are nearly independent of
the NUTS draw of ``τ`` given the rest: a Gibbs step after NUTS. Then each draw's effects are
drawn from their exact conditional, ``u_l ~ N(τ² S_l / D_l, σ² τ² / D_l)`` independently,
then (sum-to-zero) moved onto ``Σ u_l = 0`` by conditioning on that constraint:
``u ← u - v Σu / Σv`` with ``v_l`` the conditional variances. The posterior is the same as
the model's; only how it is sampled changes, so everything downstream (effects, ``pm.do``,
LOO) uses the unchanged model.

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
#: sweeps of slice sampling that redraw the integrated grouping's scale (``refresh_scale``)
SCALE_SWEEPS = 4
#: how many times a slice may be stepped out (by 1 on ``log τ``), both sides together
MAX_STEPS = 50
#: shrinkage steps before a draw whose slice the interval has not met stays where it started
#: (only a density without mass around the start gets there: 200 halvings of the interval)
MAX_SHRINKS = 200


def zero_sum(g: GroupPlan) -> bool:
    """Whether the model's effects of ``g`` sum to zero (see ``grouped.group_effects``)."""
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


def scale_loglik(
    tau: np.ndarray, S: np.ndarray, counts: np.ndarray, sigma: np.ndarray, *, zero_sum: bool
) -> np.ndarray:
    """The part of :func:`marginal_logp` that depends on ``τ``, for each draw (NumPy).

    ``tau`` and ``sigma`` have one value per draw, ``S`` (draws × levels) the residual sums per
    level, ``counts`` the rows per level. Differences in ``τ`` equal those of the full density.
    """
    s2, t2 = sigma**2, tau**2
    D = s2[:, None] + counts[None, :] * t2[:, None]
    out = -0.5 * (np.log(D).sum(axis=1) - t2 * (S**2 / D).sum(axis=1) / s2)
    if zero_sum:
        n_levels = len(counts)
        k = 1.0 - t2 / n_levels * (counts[None, :] / D).sum(axis=1)
        out = out - 0.5 * (np.log(k) + t2 / n_levels * (S / D).sum(axis=1) ** 2 / k)
    return out


def slice_sample(logf, x: np.ndarray, rng: np.random.Generator, *, sweeps: int) -> np.ndarray:
    """``sweeps`` sweeps of univariate slice sampling (stepping out, shrinkage; Neal 2003).

    One independent chain per element of ``x``, all advanced at once; ``logf`` maps an array
    of points to their log densities (elementwise). The slice is stepped out by 1 at most
    :data:`MAX_STEPS` times in all, the limit split at random between the two sides (Neal's
    Fig. 3), so each sweep leaves ``logf``'s distribution invariant. An element whose density
    is not finite at its start is left where it is, as is one still outside its slice after
    :data:`MAX_SHRINKS` shrinkage steps.
    """
    x = np.array(x, dtype=float)
    for _ in range(sweeps):
        fx = logf(x)
        live = np.isfinite(fx)
        level = fx - rng.exponential(size=x.shape)
        left = x - rng.uniform(size=x.shape)
        right = left + 1.0
        n_left = np.floor(MAX_STEPS * rng.uniform(size=x.shape))
        n_right = MAX_STEPS - 1 - n_left
        out = live.copy()
        while out.any():
            out &= (n_left > 0) & (logf(left) > level)
            left = np.where(out, left - 1.0, left)
            n_left -= out
        out = live.copy()
        while out.any():
            out &= (n_right > 0) & (logf(right) > level)
            right = np.where(out, right + 1.0, right)
            n_right -= out
        todo = live.copy()
        for _ in range(MAX_SHRINKS):  # each step at least halves the interval on average
            if not todo.any():
                break
            prop = np.where(todo, left + rng.uniform(size=x.shape) * (right - left), x)
            ok = todo & (logf(prop) > level)
            x = np.where(ok, prop, x)
            todo &= ~ok
            # shrink towards the start, which is inside the slice: the loop ends
            left = np.where(todo & (prop < x), prop, left)
            right = np.where(todo & (prop >= x), prop, right)
    return x


def refresh_scale(
    S: np.ndarray,
    counts: np.ndarray,
    sigma: np.ndarray,
    tau: np.ndarray,
    prior_logp,
    rng: np.random.Generator,
    *,
    zero_sum: bool,
    sweeps: int | None = None,
) -> np.ndarray:
    """Each draw's ``τ`` redrawn from its conditional given the draw's ``S`` and ``σ``.

    The conditional is ``prior(τ) · exp(scale_loglik(τ))``; slice sampling on ``log τ`` (with
    its Jacobian) starts at the NUTS draw. ``prior_logp`` maps an array of ``τ`` to the prior's
    log density.
    """

    def logf(x: np.ndarray) -> np.ndarray:
        t = np.exp(x)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            v = prior_logp(t) + x + scale_loglik(t, S, counts, sigma, zero_sum=zero_sum)
        return np.where(np.isnan(v), -np.inf, v)

    n = SCALE_SWEEPS if sweeps is None else sweeps
    return np.exp(slice_sample(logf, np.log(tau), rng, sweeps=n))


def _prior_logp(model, name: str):
    """The prior log density of the scalar random variable ``name``, for an array of values."""
    import pytensor

    value = pt.dvector(f"{name}_values")
    return pytensor.function([value], pm.logp(model[name], value), mode="FAST_COMPILE")


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


def redraw_grouping(
    post: xr.Dataset,
    model,
    prefix: str,
    g: GroupPlan,
    S: np.ndarray,
    counts: np.ndarray,
    sigma: np.ndarray,
    labels,
    rng: np.random.Generator,
    *,
    zero_sum: bool,
) -> tuple[dict[str, xr.DataArray], np.ndarray]:
    """An integrated grouping back in a trace: its scale redrawn, then its effects drawn.

    ``S`` (draws × levels) holds each draw's residual sums per level, ``counts`` the rows per
    level and ``sigma`` the residuals' SD per draw. Returns the posterior variables to add, as
    the full model names them (the scale ``{prefix}_sigma_{g}``; the free variable,
    ``{prefix}_z_{g} = u / τ`` non-centred or ``{prefix}_a_{g} = u`` centred; the deviations
    ``{prefix}_{g} = u``), and the effects ``u`` (draws × levels).
    """
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    scale = f"{prefix}_sigma_{g.name}"
    tau = np.asarray(post[scale].values).reshape(nchain * ndraw)
    tau = refresh_scale(S, counts, sigma, tau, _prior_logp(model, scale), rng, zero_sum=zero_sum)
    u = conditional_effects(S, counts, sigma, tau, rng, zero_sum=zero_sum)
    free = f"{prefix}_z_{g.name}" if not any(g.centered) else f"{prefix}_a_{g.name}"
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    level = {**coords, g.name: labels}
    dims = ("chain", "draw", g.name)
    values = u / tau[:, None] if free.startswith(f"{prefix}_z_") else u
    added = {
        scale: xr.DataArray(tau.reshape(nchain, ndraw), dims=dims[:2], coords=coords),
        free: xr.DataArray(values.reshape(nchain, ndraw, -1), dims=dims, coords=level),
        f"{prefix}_{g.name}": xr.DataArray(u.reshape(nchain, ndraw, -1), dims=dims, coords=level),
    }
    return added, u


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
    added, _ = redraw_grouping(
        post, model, "m", g, S, counts, sigma, d.coords[g.name], rng, zero_sum=zero_sum(g)
    )
    out = trace.copy()
    out["posterior"] = xr.DataTree(post.assign(added))
    return out
