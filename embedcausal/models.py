"""PyMC model builders: pure functions from a :class:`~embedcausal.plan.Design` to a model.

The joint model has up to three parts with the same hierarchy:

* **outcome** (prefix ``y``): ``participation ~ Bernoulli(logit⁻¹(η_y))``, or with
  ``model.link = "probit"`` ``Bernoulli(Φ(η_y))``, or with ``model.family = "gaussian"``
  ``Normal(c + s·η_y, s·σ_y)`` (:mod:`embedcausal.likelihoods`);
* **mediator** (prefix ``m``), when the estimand names one: Gaussian, Poisson,
  negative-binomial or Bernoulli, with linear predictor ``η_m``;
* **treatment** (prefix ``t``), only with the latent confounder of the sensitivity analysis.

Every DAG node is a named ``pm.Data`` container **in data units** (the mediator is the observed
random variable itself), so ``pm.do(model, {"inst_ties": x})`` intervenes on the treatment and
the outcome sees the mediator's counterfactual through the graph. Predictors are centred (and
continuous ones scaled) inside the model (:mod:`embedcausal.prepared`).

Geometry
--------
How each part's varying intercepts are parameterised — centred or not, level by level, and
which terms enter a grouping's mean — is planned by :func:`embedcausal.geometry.plan_part`
(see that module for the rules and ``docs/performance.md`` for the measurements).

Named quantities (prefix ``y`` or ``m``): ``{p}_beta`` (dims ``{p}_term``: every predictor, on
the standardised scale), ``{p}_intercept`` (on the data's scale: predictors at 0, group
effects at 0), ``{p}_sigma_{g}``, and ``{p}_{g}`` (dims ``g``: each group's effect as a deviation
on the linear-predictor scale).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from embedcausal.batched import linear_predictor, vectorized_function
from embedcausal.confounder import (
    CONFOUNDER_PARAMS,
    IntegratedConfounder,
    integrable,
    latent_confounder,
    treatment_model,
)
from embedcausal.correlated import correlated_outcome
from embedcausal.errors import EmbedcausalError
from embedcausal.geometry import (
    PREFIX,
    Part,
    PartPlan,
    _first_rows,
    level_means,
    plan_part,
)
from embedcausal.grouped import child_effects, group_effects, integrated_parent
from embedcausal.likelihoods import (
    bernoulli_logit,
    bernoulli_logit_logp,
    mediator_likelihood,
    mediator_scale,
    outcome_likelihood,
)
from embedcausal.marginal import marginal_grouping, marginal_mediator
from embedcausal.prepared import COUNT_FAMILIES, mediator_transform

if TYPE_CHECKING:
    from embedcausal.plan import Design

__all__ = [
    "CONFOUNDER_PARAMS",
    "bernoulli_logit",
    "bernoulli_logit_logp",
    "build_model",
    "linear_predictor",
    "mediator_scale",
    "plan_part",
    "vectorized_function",
]


# --------------------------------------------------------------------------- building
def _columns(design: Design, plan: PartPlan, nodes: dict) -> dict[str, object]:
    """Standardised symbolic columns of a part's predictors, from the named node variables.

    ``(x - center) / scale`` with the centers and scales as ``pm.Data`` (``{p}_center``,
    ``{p}_scale``), so a compiled model can take another data set of the same shape.
    """
    p = plan.prefix
    preds = plan.predictors
    center = pm.Data(f"{p}_center", np.array([q.center for q in preds]), dims=f"{p}_term")
    scale = pm.Data(f"{p}_scale", np.array([q.scale for q in preds]), dims=f"{p}_term")
    out = {}
    for j, q in enumerate(preds):
        x = nodes[f"{q.node}__transformed"]
        if q.part == "interaction":
            out[q.name] = (x * nodes[f"{q.other}__transformed"] - center[j]) / scale[j]
        elif q.part == "level":
            out[q.name] = (pt.eq(x, float(q.other)) - center[j]) / scale[j]
        elif q.part == "within":
            out[q.name] = (x - nodes[f"{q.node}__group_mean"]) / scale[j]
        elif q.part == "between":
            out[q.name] = (nodes[f"{q.node}__group_mean"] - center[j]) / scale[j]
        else:
            out[q.name] = (x - center[j]) / scale[j]
    return out


def _linear(
    design: Design, plan: PartPlan, nodes: dict, latent=None, skip: str | None = None, nest=False
):
    """Build one part's parameters and return its linear predictor.

    ``latent`` is ``(grouping, values per level)``: a group-level term (the sensitivity
    analysis' latent confounder times its strength), or ``(grouping, IntegratedConfounder)``
    when ``U`` is integrated out (:mod:`embedcausal.confounder`: it builds the grouping's
    effects). In the mean of that grouping's effects
    when the part has the grouping — the data pin the sum of the two, so sampling them apart
    would leave a ridge per level — otherwise on the rows.

    ``skip`` names a grouping whose effects are integrated out (:mod:`embedcausal.marginal`):
    its scale is a parameter, its effects are not, and they do not enter the rows. ``nest``:
    integrate a parent grouping out of its children's prior (:mod:`embedcausal.grouped`).
    """
    d = design.data
    priors = design.spec.priors
    model = pm.modelcontext(None)
    p = plan.prefix
    names = [q.name for q in plan.predictors]
    model.add_coord(f"{p}_term", names)
    cols = _columns(design, plan, nodes)
    alpha = priors["intercept"].to_pymc(f"{p}_b0")
    betas: dict[str, object] = {}
    split = len(plan.row) != len(names)
    terms = []  # (row columns, their coefficients)
    if plan.row:
        if split:
            model.add_coord(f"{p}_row_term", list(plan.row))
            b = priors["beta"].to_pymc(f"{p}_beta_row", dims=f"{p}_row_term")
        else:
            b = priors["beta"].to_pymc(f"{p}_beta", dims=f"{p}_term")
        betas.update({n: b[i] for i, n in enumerate(plan.row)})
        terms.append(([cols[n] for n in plan.row], b))
    level = 0.0 if any(g.intercept for g in plan.groups) else alpha
    effects: dict[str, object] = {}
    pair = integrated_parent(plan) if nest and latent is None else None
    if pair is not None:  # (parent, child): the parent is drawn back after sampling
        model.parents = [*getattr(model, "parents", []), (p, *pair)]
    for g in plan.groups:
        sigma = priors["sigma"].to_pymc(f"{p}_sigma_{g.name}")
        if g.name == skip or (pair is not None and g.name == pair[0].name):
            continue
        mu = alpha if g.intercept else 0.0
        if g.predictors:
            # β·x̄_g in the grouping's mean, β·(x − x̄_g) on the rows: one coefficient
            model.add_coord(f"{p}_{g.name}_term", list(g.predictors))
            bg = priors["beta"].to_pymc(f"{p}_beta_{g.name}", dims=f"{p}_{g.name}_term")
            betas.update({n: bg[i] for i, n in enumerate(g.predictors)})
            X = np.column_stack([d.column(q) for q in plan.predictors if q.name in g.predictors])
            lm = level_means(X, d.group_codes[g.name], len(d.coords[g.name]))
            if g.zero_sum:
                lm = lm - lm.mean(axis=0)  # its effects sum to zero: so does its mean
            means = pm.Data(f"{p}_{g.name}__means", lm, dims=(g.name, f"{p}_{g.name}_term"))
            mu = mu + pt.dot(means, bg)
            code = nodes[f"{g.name}__code"]
            terms.append(([cols[n] - means[code, i] for i, n in enumerate(g.predictors)], bg))
        if g.parent is not None and (pair is None or g.parent != pair[0].name):
            mu = mu + effects[g.parent][nodes[f"{g.name}__parent"]]
        here = latent[1] if latent is not None and latent[0] == g.name else None
        if pair is not None and g.name == pair[1].name:
            a, dev = child_effects(p, design, pair, mu, sigma, model[f"{p}_sigma_{g.parent}"])
        elif isinstance(here, IntegratedConfounder):  # U integrated out with these effects
            a, dev = here.effects(p, g, mu, sigma)
        else:
            a, dev = group_effects(p, g, mu if here is None else mu + here, sigma, d.coords[g.name])
        pm.Deterministic(f"{p}_{g.name}", dev, dims=g.name)
        effects[g.name] = a
    eta = level + sum(pt.dot(pt.stack(c, axis=1), b) for c, b in terms) if terms else level
    if not terms:
        eta = eta + pt.zeros_like(nodes[f"{plan.groups[0].name}__code"], dtype="float64")
    for g in plan.leaves:
        if g != skip:
            eta = eta + effects[g][nodes[f"{g}__code"]]
    if latent is not None and latent[0] not in {g.name for g in plan.groups}:
        eta = eta + latent[1][nodes[f"{latent[0]}__code"]]
    for pname, g in plan.slopes:
        sigma = priors["sigma"].to_pymc(f"{p}_slope_sigma_{g}")
        z = pm.Normal(f"{p}_slope_z_{g}", 0.0, 1.0, dims=g)
        eta = eta + sigma * z[nodes[f"{g}__code"]] * cols[pname]
    if split:
        pm.Deterministic(f"{p}_beta", pt.stack([betas[n] for n in names]), dims=f"{p}_term")
    center, scale = model[f"{p}_center"], model[f"{p}_scale"]
    shift = sum((betas[q.name] * center[j] / scale[j] for j, q in enumerate(plan.predictors)), 0.0)
    pm.Deterministic(f"{p}_intercept", alpha - shift)
    return eta


def build_model(
    design: Design,
    *,
    parts: tuple[Part, ...] | None = None,
    confounder: bool | Literal["explicit"] = False,
    rho: bool = False,
    marginal: bool = False,
) -> pm.Model:
    """Build the joint outcome (+ mediator) model of a design.

    Parameters
    ----------
    design : Design
        From :func:`embedcausal.design`.
    parts : tuple of {"outcome", "mediator"}, optional
        Build only these parts (default: all). Without ``"mediator"``, the mediator enters the
        outcome as data; the parts share no parameter, so :func:`embedcausal.fit` samples them
        separately, each with its own step size and mass matrix.
    confounder : bool or "explicit"
        Add a latent confounder ``U`` (standard normal, orthogonal to the observed
        confounders: one value per ``model.within_group`` level) with fixed strengths
        ``conf_on_treatment``, ``conf_on_mediator`` and ``conf_on_outcome`` (``pm.Data``, so a
        sensitivity grid swaps them without recompiling) and a treatment model that informs
        ``U``. When the parts have that grouping, ``U`` is integrated out
        (:class:`embedcausal.confounder.IntegratedConfounder`, ``model.confounder``; the fit
        draws it back); ``"explicit"`` samples it instead.
    rho : bool
        Correlate the outcome's error with the Gaussian mediator's by ``rho_m_y`` (``pm.Data``,
        0 until set; :mod:`embedcausal.correlated`): one joint model.
    marginal : bool
        For sampling: integrate out what can be drawn back exactly afterwards, so the
        posterior is the full model's. A parent grouping out of its children's prior
        (:func:`embedcausal.grouped.integrated_parent`; ``model.parents``), and, for a Gaussian
        mediator's part on its own, one grouping's effects out of its likelihood
        (:func:`embedcausal.marginal.marginal_grouping`; the mediator is then data and
        ``model.marginal`` holds ``(grouping plan, residual)``).

    Returns
    -------
    pymc.Model
        Dims ``obs`` (labelled ``country|mission``), every grouping, ``y_term``, ``m_term``.

    See Also
    --------
    plan_part : how the varying intercepts are parameterised.
    embedcausal.fit : sample the model.

    Examples
    --------
    >>> import embedcausal as ec, numpy as np, pymc as pm       # doctest: +SKIP
    >>> d = ec.design("models/personal.toml")                   # doctest: +SKIP
    >>> model = ec.build_model(d)                               # doctest: +SKIP
    >>> do_model = pm.do(model, {"inst_ties": np.full(d.n_obs, 40.0)})   # doctest: +SKIP
    """
    d = design.data
    spec = design.spec
    e = spec.estimand
    if parts is None:
        parts = ("outcome", "mediator") if d.mediator else ("outcome",)
    if confounder or rho:
        parts = ("outcome", "mediator") if d.mediator else ("outcome",)
    for part in parts:
        if part not in PREFIX or (part == "mediator" and not d.mediator):
            raise ValueError(f"unknown part {part!r} for this design; expected {tuple(PREFIX)}")
    if confounder not in (True, False, "explicit"):
        raise ValueError(f"confounder={confounder!r}; expected True, False or 'explicit'")
    wg = spec.model.within_group
    coords = {k: list(v) for k, v in d.coords.items()}
    with pm.Model(coords=coords) as model:
        nodes: dict[str, object] = {}
        for node, values in d.values.items():
            if node == d.mediator and "mediator" in parts:
                continue
            nodes[node] = pm.Data(node, values, dims="obs")
        for node, gm in d.group_means.items():
            nodes[f"{node}__group_mean"] = pm.Data(f"{node}__group_mean", gm, dims="obs")
        for g, codes in d.group_codes.items():
            nodes[f"{g}__code"] = pm.Data(f"{g}__code", codes, dims="obs")
        for inner, outer in d.nested.items():
            parent = d.group_codes[outer][_first_rows(d.group_codes[inner], len(d.coords[inner]))]
            nodes[f"{inner}__parent"] = pm.Data(f"{inner}__parent", parent, dims=inner)
        u = ic = None
        if confounder:
            for name in CONFOUNDER_PARAMS:
                pm.Data(name, 0.0)
            if wg not in d.group_codes:
                raise EmbedcausalError(
                    f"{spec.source}: model.within_group {wg!r} is not a data column; the latent "
                    "confounder needs it (one value per group)"
                )
            if integrable(design) and confounder != "explicit":
                ic = IntegratedConfounder(design, wg)
            else:
                u = latent_confounder(design, wg)

        def transformed(node):
            x = nodes[node]
            if node == d.mediator and d.mediator_family in COUNT_FAMILIES:
                x = mediator_transform(x, d.mediator_family)
                x.name = "m_transformed"
            return x

        def latent(strength: str):  # U's channel into a part: integrated, explicit or none
            if ic is not None:
                return (wg, ic)
            return (wg, model[strength] * u) if u is not None else None

        hold = wg if ic is not None else None  # U's grouping takes the between terms
        if "mediator" in parts:
            mplan = plan_part(design, "mediator", hold=hold)
            for node in {q.node for q in mplan.predictors}:
                nodes[f"{node}__transformed"] = transformed(node)
            mg = None
            if marginal and parts == ("mediator",):
                mg = marginal_grouping(design, mplan)
            skip = mg.name if mg else None
            eta_m = _linear(design, mplan, nodes, latent("conf_on_mediator"), skip, marginal)
            eta_m.name = "m_eta"
            if mg is None:
                nodes[d.mediator] = mediator_likelihood(design, eta_m)
            else:
                nodes[d.mediator] = marginal_mediator(design, eta_m, mg, nodes, model)
        if "outcome" in parts:
            yplan = plan_part(design, "outcome", hold=hold)
            for node in {q.node for q in yplan.predictors}:
                nodes[f"{node}__transformed"] = transformed(node)
            eta_y = _linear(design, yplan, nodes, latent("conf_on_outcome"), nest=marginal)
            eta_y.name = "y_eta"
            y = pm.Data(f"{e.outcome}__observed", d.y, dims="obs")
            if rho:
                correlated_outcome(design, eta_y, y, nodes[d.mediator], eta_m)
            else:
                outcome_likelihood(design, eta_y, y)
        if ic is not None:
            ic.finish()
        elif confounder:
            treatment_model(design, u[nodes[f"{wg}__code"]])
    return model
