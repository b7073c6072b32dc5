r"""Mechanism effects by g-computation over the posterior, from the model's own graph.

For the contrast ``t0 → t1`` of the treatment, each posterior draw gives, averaged over the
observed rows *i* on the outcome's scale (a probability for a Bernoulli outcome),

.. math::

    E(t, t') = \frac1n \sum_i \mathbb E\left[Y_i \mid T = t, M = M_i(t')\right]
             = \frac1n \sum_i \mathbb E\left[h(α_i(t) + γ_i(t)·g(M_i(t')))\right]

with ``h`` the outcome's inverse link (``expit``, ``Φ`` for ``model.link = "probit"``, the
identity for a Gaussian outcome, whose standardised scale is mapped back to data units)

where ``M_i(t')`` is row *i*'s mediator under treatment ``t'`` and the expectation is over its
noise; then ``total = E(t1,t1) − E(t0,t0)``, ``nde = E(t1,t0) − E(t0,t0)`` and
``nie = E(t1,t1) − E(t1,t0)`` (so total = NDE + NIE), ``prop_mediated = nie / total`` and the
indicator ``nie > nde`` (their reference levels: :mod:`embedcausal.estimands`). Everything
else in a row (groupings, covariates, the group means of
within/between terms) keeps its observed value; setting the treatment changes its
within-group deviation only, so with a within/between split the effect is the within effect.

How it is computed (:class:`Counterfactual`): the linear predictors ``y_eta`` and ``m_eta`` are
taken from the PyMC model of the design (:func:`embedcausal.build_model`); the treatment's
``pm.Data`` and the (transformed) mediator are replaced by inputs, the graph is vectorised over
posterior draws (:func:`pytensor.graph.vectorize_graph`) and compiled once. The outcome's
linear predictor is affine in the transformed mediator ``g(M)``, so for each ``t`` it is
``α(t) + γ(t)·g(M)`` and the mediator's noise is integrated exactly: Gauss–Hermite quadrature
for a Gaussian mediator (nodes chosen from the largest ``|γ·σ|`` so that the error is below
1e-9), exactly for a Bernoulli one, and for counts by exact sums over the support, one
kernel call for all the arms so that each row's mediator pmf is computed once per treatment
level (:func:`embedcausal.counts.count_arms`).
``tests/test_effects.py`` checks the result against ``pm.do`` + posterior predictive sampling
on the same model, and ``bench/overhead.py --part gcomp`` measures its share of a fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from embedcausal.batched import flat_draws
from embedcausal.estimands import effects_table

if TYPE_CHECKING:
    from embedcausal.plan import Design

__all__ = ["CHUNK_VALUES", "Counterfactual", "effects_table", "gcomp", "stacked_posterior"]

COUNT_FAMILIES = ("poisson", "negbinomial")
EFFECT_NAMES = ("total", "nde", "nie", "prop_mediated", "p_nie_gt_nde")
#: values per chunk of draws × rows: about 14 float64 arrays of this size are alive at once
#: (the counterfactual predictors, their sums and contiguous copies), so 250,000 bounds the
#: g-computation's working memory at ~30 MB; 2,000,000 made it the peak of a whole fit
#: (+216 MB on the canonical 9k panel, docs/performance.md). Smaller chunks cost nothing
#: measurable: the quadrature dominates.
CHUNK_VALUES = 250_000


@dataclass
class Counterfactual:
    """Compiled counterfactual linear predictors of a design's model (see module docstring).

    :meth:`eta` maps a chunk of posterior draws to the outcome's log-odds ``α`` at ``t0`` (with
    the transformed mediator at 0) and its change at ``t1``, its slope ``γ`` in the mediator at
    ``t0`` and at ``t1``, and the mediator's linear predictor ``η_m`` at ``t0`` and its change
    at ``t1``. Both linear predictors are affine in the treatment (it enters row by row,
    standardised) and the outcome's in the mediator, so these differences are exact.
    """

    design: Design
    inputs: list[str]
    fn: object
    has_mediator: bool

    @classmethod
    def compile(cls, design: Design, model=None) -> Counterfactual:
        """Build the vectorised function from ``model`` (default: the design's joint model)."""
        import pytensor.tensor as pt
        from pytensor.graph.replace import graph_replace
        from pytensor.graph.traversal import ancestors

        from embedcausal.batched import linear_predictor, vectorized_function
        from embedcausal.models import build_model

        if model is None:
            model = build_model(design)
        d = design.data
        t0, t1 = d.contrast
        eta_y = linear_predictor(model, "y")
        has_m = d.mediator is not None
        t_var = model[d.treatment]
        t_in = pt.vector("t", dtype=t_var.dtype)
        g_in = pt.vector("g", dtype="float64")
        replace = {t_var: t_in}
        if has_m:
            g_var = next(
                (v for v in ancestors([eta_y]) if getattr(v, "name", None) == "m_transformed"),
                model[d.mediator],
            )
            replace[g_var] = g_in.astype(g_var.dtype)
        y = graph_replace(eta_y, replace, strict=False)
        # both predictors are affine in t and in g: differences are exact slopes (and, unlike
        # pytensor.grad through the design's Join, cost no more than one evaluation)
        y_t1 = graph_replace(y, {t_in: t_in + (t1 - t0)}, strict=False)
        outputs = [y, y_t1 - y]
        if has_m:
            y_g1 = graph_replace(y, {g_in: g_in + 1.0}, strict=False)
            y_t1g1 = graph_replace(y_t1, {g_in: g_in + 1.0}, strict=False)
            eta_m = graph_replace(linear_predictor(model, "m"), {t_var: t_in}, strict=False)
            eta_m1 = graph_replace(eta_m, {t_in: t_in + (t1 - t0)}, strict=False)
            outputs += [y_g1 - y, y_t1g1 - y_t1, eta_m, eta_m1 - eta_m]
        names, fn = vectorized_function(model, outputs, inputs=[t_in, g_in])
        return cls(design=design, inputs=names, fn=fn, has_mediator=has_m)

    def eta(self, params: dict[str, np.ndarray]) -> list[np.ndarray]:
        """``[α(t0), α(t1) - α(t0)]`` (+ ``[γ(t0), γ(t1), η_m(t0), η_m(t1) - η_m(t0)]``)."""
        n = self.design.data.n_obs
        t = np.full(n, self.design.data.contrast[0])
        outs = self.fn(*(np.asarray(params[k]) for k in self.inputs), t, np.zeros(n))
        return [np.broadcast_to(o, outs[0].shape) for o in outs]


def stacked_posterior(idata: xr.DataTree) -> xr.Dataset:
    """The posterior with ``chain`` and ``draw`` stacked into ``sample`` (first dim)."""
    post = idata["posterior"].to_dataset()
    return post.stack(sample=("chain", "draw")).transpose("sample", ...)


def outcome_link(design: Design) -> str:
    """The outcome's inverse link as :mod:`embedcausal.quadrature` names it."""
    m = design.spec.model
    return "identity" if m.family == "gaussian" else m.link


def _expected(design: Design, alpha, gamma, eta_m, params) -> np.ndarray:
    """Mean over rows of E[Y | T=t, M(t')] per draw (outcome's scale), M's noise integrated out."""
    from embedcausal import counts, quadrature
    from embedcausal.likelihoods import outcome_scale

    fam = design.data.mediator_family
    link = outcome_link(design)
    if fam == "gaussian":
        from embedcausal.models import mediator_scale

        center, scale = mediator_scale(design)
        mean = quadrature.gaussian_mean(
            alpha, gamma, eta_m, center, scale, params["m_sigma"], link=link
        )
    elif fam == "bernoulli":
        mean = quadrature.bernoulli_mean(alpha, gamma, eta_m, link=link)
    elif fam == "ordered":
        mean = quadrature.ordered_mean(alpha, gamma, eta_m, params["m_cutpoints"], link=link)
    else:
        mean = counts.count_mean(
            alpha, gamma, eta_m, family=fam, dispersion=params.get("m_alpha"), link=link
        )
    y_center, y_scale = outcome_scale(design)
    return y_center + y_scale * mean


def gcomp(
    idata: xr.DataTree,
    design: Design,
    *,
    counterfactual: Counterfactual | None = None,
    both_levels: bool | None = None,
) -> xr.Dataset:
    """Effect draws (dims ``chain``, ``draw``) by g-computation; see the module docstring.

    Parameters
    ----------
    idata : xarray.DataTree
        A posterior of the design's model (from :func:`embedcausal.fit`, or a fake one with
        the same variables).
    design : Design
        The design the model was built from.
    counterfactual : Counterfactual, optional
        A compiled counterfactual function (default: compiled from the design's joint model;
        pass one to reuse it, e.g. with the latent confounder's model in a sensitivity grid).
    both_levels : bool, optional
        Also compute ``nde_treated`` and ``nie_control`` (the other reference levels); default:
        with ``model.interaction`` only.

    Returns
    -------
    xarray.Dataset
        ``total`` and, with a mediator, ``nde``, ``nie``, ``prop_mediated`` and ``nie_gt_nde``
        (0/1), with ``model.interaction`` also ``nde_treated`` and ``nie_control`` (the other
        reference levels, :mod:`embedcausal.estimands`), with ``estimand.four_way`` also
        VanderWeele's four-way decomposition ``total = cde + int_ref + int_med + pie``, dims
        ``chain``, ``draw``; attrs give the contrast, the scale and the method.

    See Also
    --------
    effects_table : summarise the draws.
    """
    from embedcausal import counts, quadrature
    from embedcausal.likelihoods import outcome_scale
    from embedcausal.threads import single_threaded_blas

    d = design.data
    cf = counterfactual or Counterfactual.compile(design)
    post = idata["posterior"]
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    flat = flat_draws(post, {*cf.inputs, "m_sigma", "m_alpha", "m_cutpoints"})
    n = nchain * ndraw
    step = max(1, CHUNK_VALUES // max(d.n_obs, 1))
    if both_levels is None:
        both_levels = design.spec.model.interaction
    m_star = design.spec.estimand.four_way if cf.has_mediator else None
    both = (both_levels or m_star is not None) and cf.has_mediator
    out: dict[str, list[np.ndarray]] = {"total": [], "nde": [], "nie": []}
    if both:
        out.update({"nde_treated": [], "nie_control": []})
    if m_star is not None:
        out["cde"] = []
        g_star = float(d.transformed(d.mediator, np.array([m_star]))[0])
        y_scale, link = outcome_scale(design)[1], outcome_link(design)
    # one BLAS thread: the linear predictors' small matrix products (draws x predictors x rows)
    # are not worth a second thread; on a busy 2-core machine a two-thread OpenBLAS product
    # took ~24 ms against 0.2 ms with one, waiting for its second thread (docs/performance.md)
    with single_threaded_blas():
        for start in range(0, n, step):
            params = {k: v[start : start + step] for k, v in flat.items()}
            res = cf.eta(params)
            a0 = res[0]
            a1 = a0 + res[1]
            if not cf.has_mediator:
                link = outcome_link(design)
                scale = outcome_scale(design)[1]
                diff = quadrature.plain_mean(a1, link) - quadrature.plain_mean(a0, link)
                out["total"].append(scale * diff)
                continue
            g0, g1, m0 = res[2], res[3], res[4]
            arms = [(0, 0), (1, 0), (1, 1), *([(0, 1)] if both else [])]
            if d.mediator_family in COUNT_FAMILIES:  # one kernel call, each pmf computed once
                e = counts.count_arms(
                    a0, res[1], g0, g1, m0, res[5], arms,
                    family=d.mediator_family, dispersion=params.get("m_alpha"),
                    link=outcome_link(design),
                )  # fmt: skip
                y_center, y_scale_ = outcome_scale(design)
                e = {arm: y_center + y_scale_ * v for arm, v in e.items()}
            else:
                m1 = m0 + res[5]
                e = {
                    (t, tm): _expected(design, (a0, a1)[t], (g0, g1)[t], (m0, m1)[tm], params)
                    for t, tm in arms
                }
            out["total"].append(e[1, 1] - e[0, 0])
            out["nde"].append(e[1, 0] - e[0, 0])
            out["nie"].append(e[1, 1] - e[1, 0])
            if both:
                out["nde_treated"].append(e[1, 1] - e[0, 1])
                out["nie_control"].append(e[0, 1] - e[0, 0])
            if m_star is not None:  # the mediator set to m* for everyone: the controlled effect
                cde = quadrature.plain_mean(a1 + g1 * g_star, link)
                out["cde"].append(y_scale * (cde - quadrature.plain_mean(a0 + g0 * g_star, link)))
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    data = {
        k: (("chain", "draw"), np.concatenate(v).reshape(nchain, ndraw))
        for k, v in out.items()
        if v
    }
    if cf.has_mediator:
        total, nde, nie = data["total"][1], data["nde"][1], data["nie"][1]
        with np.errstate(divide="ignore", invalid="ignore"):
            data["prop_mediated"] = (("chain", "draw"), nie / total)
        data["nie_gt_nde"] = (("chain", "draw"), (nie > nde).astype(float))
    if "cde" in data:  # VanderWeele's (2014) four-way decomposition of the total effect
        cde, nie_c = data["cde"][1], data["nie_control"][1]
        data["int_ref"] = (("chain", "draw"), data["nde"][1] - cde)
        data["int_med"] = (("chain", "draw"), data["nie"][1] - nie_c)
        data["pie"] = (("chain", "draw"), nie_c)
    t0, t1 = d.contrast
    attrs = {
        "treatment": d.treatment,
        "outcome": d.outcome,
        "mediator": d.mediator or "",
        "contrast_from": float(t0),
        "contrast_to": float(t1),
        "scale": "outcome units" if design.spec.model.family == "gaussian" else "probability",
        "link": outcome_link(design),
        "method": "g-computation over the posterior, averaged over observed rows",
    }
    if d.contrast_labels is not None:  # a categorical treatment: its level names
        attrs["contrast_from_label"], attrs["contrast_to_label"] = d.contrast_labels
    if m_star is not None:
        attrs["four_way_at"] = float(m_star)
    if design.spec.estimand.rope is not None:
        attrs["rope"] = float(design.spec.estimand.rope)
    return xr.Dataset(data, coords=coords, attrs=attrs)
