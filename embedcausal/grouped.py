"""Each grouping's varying intercepts as PyMC variables, and a parent integrated out.

:func:`group_effects` builds one grouping's effects as :func:`embedcausal.geometry.plan_part`
planned them: centred or non-centred level by level, summing to zero where the plan says so.

A parent grouping's effects integrated out of its children's prior, and drawn back:

With ``varying = ["region/country"]`` each country's effect has its region's in its mean:
``a_c ~ Normal(μ_c + r_k(c), σ_c)`` and ``r ~ Normal(0, σ_r² P)`` (``P = I``, or the
sum-to-zero projector for effects that sum to zero). A handful of regions inform ``σ_r``
weakly, and neither parameterisation of ``r`` samples well over the whole of its posterior:
on the held-out 9k side-payment panel's mediator, centred regions gave 31–139 divergences
per fit (the funnel at small ``σ_r``), non-centred ones 0–7, at the upper tail of ``σ_r``
where the countries pin each region (``docs/performance.md``).

When the children are all centred (their effects are parameters), the parent enters the
model only through their prior, so it can be integrated out of it exactly: the children of
one parent are jointly Normal around their means with the compound-symmetric covariance
``σ_c² I + σ_r² 11'`` (plus the sum-to-zero term), which is the density
:func:`embedcausal.marginal.marginal_logp` computes, with children for rows and parents for
levels. NUTS then samples ``σ_r`` through that density, with no ``r`` to funnel with.

After sampling (:func:`draw_back_parents`), as for a Gaussian mediator's integrated grouping:
each draw's ``σ_r`` is redrawn from its one-dimensional conditional given the children's
deviations (:func:`embedcausal.marginal.refresh_scale`), ``r`` is drawn from its exact
conditional (:func:`embedcausal.marginal.conditional_effects`), and the children's deviations
(sampled as deviations from a mean without ``r``) have it subtracted. The posterior then has
every variable of the full model (``{p}_{parent}``, its free variable, the children's
deviations from their full mean) with the full model's distribution, so everything downstream
(effects, ``pm.do``, the log-likelihood, posterior predictive checks) builds the full model.

Which parent: :func:`integrated_parent`. Only the models that :func:`embedcausal.fit` samples
(``build_model(..., marginal=True)``) integrate it, never one with the latent confounder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc.distributions.transforms import ZeroSumTransform

from embedcausal.batched import flat_draws
from embedcausal.geometry import GroupPlan, LevelRotation, PartPlan, _first_rows
from embedcausal.marginal import marginal_logp, redraw_grouping

if TYPE_CHECKING:
    from embedcausal.plan import Design


def _zero_sum_normal_logp(value, mu, sigma):
    """Normal(mu, sigma) on the vectors summing to zero (``mu`` sums to zero)."""
    n = value.shape[-1].astype("float64")
    dens = -0.5 * ((value - mu) / sigma) ** 2 - (0.5 * np.log(2 * np.pi) + pt.log(sigma)) * (
        (n - 1) / n
    )
    return dens.sum(-1)


def _zero_sum_normal_dist(mu, sigma, size):
    return pm.ZeroSumNormal.dist(sigma=sigma, shape=(mu.shape[-1],)) + mu


def group_effects(p: str, g: GroupPlan, mu, sigma, levels: np.ndarray):
    """Effects ``a`` of one grouping and their deviations from the mean, per the plan."""
    model = pm.modelcontext(None)
    cen = np.asarray(g.centered, dtype=bool)
    if cen.all() and g.zero_sum:
        # no intercept in its mean, whose terms are centred: the effects sum to zero, so the
        # grouping's level cannot drift against the intercept; ``a`` itself is sampled, so the
        # coefficients of its mean stay apart from it (hierarchical centring)
        mu = mu + pt.zeros(len(levels))
        a = pm.CustomDist(
            f"{p}_a_{g.name}",
            mu - mu.mean(),
            sigma,
            dist=_zero_sum_normal_dist,
            logp=_zero_sum_normal_logp,
            signature="(n),()->(n)",
            transform=ZeroSumTransform([-1]),
            dims=g.name,
        )
        a = a + mu.mean()
        return a, a - mu
    if cen.all():
        a = pm.Normal(f"{p}_a_{g.name}", mu=mu, sigma=sigma, dims=g.name, transform=LevelRotation())
        return a, a - mu
    if not cen.any():
        z = pm.ZeroSumNormal(f"{p}_z_{g.name}", sigma=1.0, dims=g.name)
        return mu + sigma * z, sigma * z
    C, N = np.flatnonzero(cen), np.flatnonzero(~cen)
    model.add_coord(f"{p}_{g.name}_centred", levels[C])
    model.add_coord(f"{p}_{g.name}_noncentred", levels[N])
    mu = mu + pt.zeros(len(levels))
    if g.zero_sum and len(C) > 1:  # as above, for the centred levels (one alone would be 0)
        a_c = pm.CustomDist(
            f"{p}_a_{g.name}",
            mu[C] - mu[C].mean(),
            sigma,
            dist=_zero_sum_normal_dist,
            logp=_zero_sum_normal_logp,
            signature="(n),()->(n)",
            transform=ZeroSumTransform([-1]),
            dims=f"{p}_{g.name}_centred",
        )
        a_c = a_c + mu[C].mean()
    else:
        a_c = pm.Normal(
            f"{p}_a_{g.name}",
            mu=mu[C],
            sigma=sigma,
            dims=f"{p}_{g.name}_centred",
            **({"transform": LevelRotation()} if len(C) > 1 else {}),  # one: nothing to rotate
        )
    z = pm.Normal(f"{p}_z_{g.name}", 0.0, 1.0, dims=f"{p}_{g.name}_noncentred")
    a = pt.set_subtensor(pt.zeros(len(levels))[C], a_c)
    a = pt.set_subtensor(a[N], mu[N] + sigma * z)
    return a, a - mu


def integrated_parent(plan: PartPlan) -> tuple[GroupPlan, GroupPlan] | None:
    """The (parent, child) pair of a part whose parent is integrated out, if any.

    Eligible: a parent with no parent of its own, mean 0 (no intercept or predictors), no
    varying slope, one child, parameterised all centred or all non-centred (a mix has no
    single prior to integrate); the child centred throughout, without a sum-to-zero
    constraint (its effects are then plain Normal parameters).
    """
    children: dict[str, list[GroupPlan]] = {}
    for g in plan.groups:
        if g.parent is not None:
            children.setdefault(g.parent, []).append(g)
    sloped = {g for _, g in plan.slopes}
    for parent in plan.groups:
        kids = children.get(parent.name, [])
        cen = np.asarray(parent.centered, dtype=bool)
        if (
            len(kids) != 1
            or parent.parent is not None
            or parent.intercept
            or parent.predictors
            or parent.name in sloped
            or len(cen) < 2
            or (cen.any() and not cen.all())
        ):
            continue
        child = kids[0]
        if all(child.centered) and not child.zero_sum:
            return parent, child
    return None


def parent_zero_sum(parent: GroupPlan) -> bool:
    """Whether the full model's effects of ``parent`` sum to zero (``group_effects``)."""
    return not any(parent.centered) or parent.zero_sum


def parent_codes(design: Design, child: str, parent: str) -> np.ndarray:
    """Each level of ``child``'s parent level (codes of ``parent``)."""
    d = design.data
    codes = d.group_codes[child]
    return np.asarray(d.group_codes[parent][_first_rows(codes, len(d.coords[child]))])


def child_effects(prefix: str, design: Design, pair: tuple[GroupPlan, GroupPlan], mu, sigma, tau):
    """The child's effects with the parent's integrated out of their prior: ``(a, a - mu)``.

    ``mu`` is the child's mean without the parent's effect, ``sigma`` its scale, ``tau`` the
    parent's. The second value is the deviation from that mean; :func:`draw_back_parents`
    subtracts the parent's effect after sampling.
    """
    parent, child = pair
    code = parent_codes(design, child.name, parent.name)
    n_parent = len(design.data.coords[parent.name])
    counts = np.bincount(code, minlength=n_parent)
    zero_sum = parent_zero_sum(parent)

    def logp(value, mu, sigma, tau):
        return marginal_logp(value - mu, code, counts, sigma, tau, zero_sum=zero_sum)

    def dist(mu, sigma, tau, size):
        if zero_sum:
            r = pm.ZeroSumNormal.dist(sigma=tau, shape=(n_parent,))
        else:
            r = pm.Normal.dist(0.0, tau, shape=(n_parent,))
        return mu + r[code] + pm.Normal.dist(0.0, sigma, shape=(len(code),))

    a = pm.CustomDist(
        f"{prefix}_a_{child.name}",
        mu + pt.zeros(len(code)),
        sigma,
        tau,
        dist=dist,
        logp=logp,
        signature="(n),(),()->(n)",
        transform=LevelRotation(),
        dims=child.name,
    )
    return a, a - mu


def draw_back_parents(
    trace: xr.DataTree, model, design: Design, rng: np.random.Generator
) -> xr.DataTree:
    """Add each integrated parent's effects to a trace, as the full model names them.

    For every ``(prefix, parent, child)`` in ``model.parents``: the parent's scale redrawn
    from its conditional, its effects drawn from theirs, the child's deviations made
    deviations from its full mean (see the module docstring).
    """
    post = trace["posterior"].to_dataset()
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    total = nchain * ndraw
    added = {}
    for p, parent, child in getattr(model, "parents", ()):
        code = parent_codes(design, child.name, parent.name)
        n_parent = len(design.data.coords[parent.name])
        counts = np.bincount(code, minlength=n_parent).astype(float)
        dev_name = f"{p}_{child.name}"
        dev = flat_draws(post, [dev_name])[dev_name]
        S = np.stack([np.bincount(code, row, minlength=n_parent) for row in dev])
        sigma = np.asarray(post[f"{p}_sigma_{child.name}"].values).reshape(total)
        labels = design.data.coords[parent.name]
        zs = parent_zero_sum(parent)
        here, r = redraw_grouping(
            post, model, p, parent, S, counts, sigma, labels, rng, zero_sum=zs
        )
        added.update(here)
        added[dev_name] = post[dev_name].copy(data=(dev - r[:, code]).reshape(nchain, ndraw, -1))
    if not added:
        return trace
    out = trace.copy()
    out["posterior"] = xr.DataTree(post.assign(added))
    return out
