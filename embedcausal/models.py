"""PyMC model builders: pure functions from a :class:`~embedcausal.plan.Design` to a model.

The joint model has up to three parts with the same hierarchy:

* **outcome** (prefix ``y``): ``participation ~ Bernoulli(logit⁻¹(η_y))``;
* **mediator** (prefix ``m``), when the estimand names one: Gaussian, Poisson,
  negative-binomial or Bernoulli, with linear predictor ``η_m``;
* **treatment** (prefix ``t``), only with the latent confounder of the sensitivity analysis.

Every DAG node is a named ``pm.Data`` container **in data units** (the mediator is the observed
random variable itself), so ``pm.do(model, {"inst_ties": x})`` intervenes on the treatment and
the outcome sees the mediator's counterfactual through the graph. Predictors are centred (and
continuous ones scaled) inside the model (:mod:`embedcausal.prepared`).

Geometry
--------
How each part's varying intercepts are parameterised is planned per part and grouping
(:func:`plan_part`), because it decides how well NUTS mixes (``docs/performance.md``):

* **centred** (``a_g ~ Normal(μ_g, σ_g)``) when the data inform each group's effect more than
  its prior does — the *information ratio* ``n̄·σ̂²_between / σ̂²_within`` of the part's OLS
  residuals exceeds 1 — otherwise **non-centred** with a sum-to-zero ``z`` (``a_g = μ_g +
  σ_g·z_g``), so the intercept does not trade off against the mean of the effects;
* **hierarchical centring**: a predictor that is constant within a centred grouping (a
  country-level covariate, the between part of a within/between split) enters that grouping's
  mean ``μ_g`` instead of every row, and the intercept enters the mean of the centred grouping
  with the fewest levels; a nested grouping's mean holds its parent's effect.

``model.parameterization`` in the model file overrides the choice per grouping.

Named quantities (prefix ``y`` or ``m``): ``{p}_beta`` (dims ``{p}_term``: every predictor, on
the standardised scale), ``{p}_intercept`` (on the data's scale: predictors at 0, group
effects at 0), ``{p}_sigma_{g}``, and ``{p}_{g}`` (dims ``g``: each group's effect as a deviation
on the linear-predictor scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import Transform

from embedcausal.errors import EmbedcausalError
from embedcausal.prepared import COUNT_FAMILIES, Predictor, mediator_transform

if TYPE_CHECKING:
    from embedcausal.plan import Design

CONFOUNDER_PARAMS = ("conf_on_treatment", "conf_on_mediator", "conf_on_outcome")
#: information ratio above which a grouping is centred (``model.parameterization = "auto"``)
CENTER_ABOVE = 1.0
Part = Literal["outcome", "mediator"]
PREFIX = {"outcome": "y", "mediator": "m"}


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class GroupPlan:
    """How one grouping's effects are parameterised in one part."""

    name: str
    centered: bool
    parent: str | None
    predictors: tuple[str, ...]
    intercept: bool
    info: float


@dataclass(frozen=True)
class PartPlan:
    """The terms of one part's linear predictor (see the module docstring)."""

    prefix: str
    predictors: tuple[Predictor, ...]
    row: tuple[str, ...]
    groups: tuple[GroupPlan, ...]
    slopes: tuple[tuple[str, str], ...]

    @property
    def leaves(self) -> tuple[str, ...]:
        """Groupings whose effects enter the rows (a parent enters through its children)."""
        parents = {g.parent for g in self.groups}
        return tuple(g.name for g in self.groups if g.name not in parents)

    def describe(self) -> str:
        """One line per grouping: parameterisation, information ratio, group-level terms."""
        out = []
        for g in self.groups:
            how = "centred" if g.centered else "non-centred (sum-to-zero)"
            extra = [*(["intercept"] if g.intercept else []), *g.predictors]
            terms = f"; mean holds {', '.join(extra)}" if extra else ""
            out.append(f"{self.prefix}: {g.name}: {how}, information ratio {g.info:.2f}{terms}")
        return "\n".join(out)


def _groupings(varying: list[str]) -> list[tuple[str, str | None]]:
    """(grouping, parent) in order, parents first: ``["region/country"]`` -> region, country."""
    out: dict[str, str | None] = {}
    for item in varying:
        parts = item.split("/")
        if len(parts) == 2:
            out.setdefault(parts[0], None)
            out[parts[1]] = parts[0]
        else:
            out.setdefault(parts[0], None)
    return list(out.items())


def _constant_within(x: np.ndarray, codes: np.ndarray, n: int) -> bool:
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, codes, x)
    np.maximum.at(hi, codes, x)
    return bool(np.all(hi - lo <= 1e-9 * (1.0 + np.abs(hi))))


def information_ratio(resid: np.ndarray, codes: np.ndarray, n_levels: int) -> float:
    """``n̄·σ̂²_b / σ̂²_w``: how much more the data say about a group's effect than its prior.

    ``σ̂²_b`` is the method-of-moments between-group variance of ``resid`` (variance of the
    group means less the sampling noise of a mean), ``σ̂²_w`` the pooled within-group variance
    and ``n̄`` the mean group size.
    """
    counts = np.bincount(codes, minlength=n_levels).astype(float)
    keep = counts > 0
    sums = np.bincount(codes, weights=resid, minlength=n_levels)
    means = np.where(keep, sums / np.maximum(counts, 1), 0.0)
    within = float(np.sum((resid - means[codes]) ** 2)) / max(len(resid) - keep.sum(), 1)
    if within <= 0:
        return np.inf
    between = float(np.var(means[keep])) - within * float(np.mean(1.0 / counts[keep]))
    return max(between, 0.0) * float(np.mean(counts[keep])) / within


def _residuals(target: np.ndarray, X: np.ndarray) -> np.ndarray:
    A = np.column_stack([np.ones(len(target)), X]) if X.size else np.ones((len(target), 1))
    coef, *_ = np.linalg.lstsq(A, target, rcond=None)
    return target - A @ coef


def _choice(design: Design, part: Part, grouping: str) -> str:
    m = design.spec.model
    if part == "mediator" and m.mediator_centered:
        return "centered"
    p = m.parameterization
    return p if isinstance(p, str) else p.get(grouping, "auto")


def plan_part(design: Design, part: Part) -> PartPlan:
    """Plan a part's terms and the parameterisation of its varying intercepts.

    Parameters
    ----------
    design : Design
    part : {"outcome", "mediator"}

    Returns
    -------
    PartPlan
    """
    d = design.data
    spec = design.spec
    prefix = PREFIX[part]
    preds = tuple(d.y_predictors if part == "outcome" else d.m_predictors)
    X = np.column_stack([d.column(p) for p in preds]) if preds else np.zeros((d.n_obs, 0))
    if part == "outcome":
        target = d.y.astype(float)
    else:
        target = np.asarray(d.transformed(d.mediator), dtype=float)
    resid = _residuals(target, X)
    groups = _groupings(spec.model.varying)
    centered: dict[str, bool] = {}
    info: dict[str, float] = {}
    for g, parent in groups:
        r = resid
        if parent is not None:  # the child's ratio is about deviations from its parent
            n_p = len(d.coords[parent])
            means = np.bincount(d.group_codes[parent], weights=resid, minlength=n_p)
            means /= np.maximum(np.bincount(d.group_codes[parent], minlength=n_p), 1)
            r = resid - means[d.group_codes[parent]]
        info[g] = information_ratio(r, d.group_codes[g], len(d.coords[g]))
        how = _choice(design, part, g)
        centered[g] = info[g] > CENTER_ABOVE if how == "auto" else how == "centered"
    # hierarchical centring: a predictor constant within a centred grouping moves to its mean
    home: dict[str, str] = {}
    by_size = sorted((g for g, _ in groups if centered[g]), key=lambda g: len(d.coords[g]))
    for j, p in enumerate(preds):
        if p.node in (d.treatment, d.mediator) and p.part != "between":
            continue  # intervened on row by row: stays a row-level term
        for g in by_size:
            if _constant_within(X[:, j], d.group_codes[g], len(d.coords[g])):
                home[p.name] = g
                break
    slopes = []
    if part == "outcome":
        for node, g in spec.model.varying_slopes.items():
            slopes += [(p.name, g) for p in preds if p.node == node and p.part != "between"]
    slope_names = {s for s, _ in slopes}
    for s in slope_names:
        home.pop(s, None)
    intercept = by_size[0] if by_size else None
    plans = tuple(
        GroupPlan(
            name=g,
            centered=centered[g],
            parent=parent,
            predictors=tuple(p.name for p in preds if home.get(p.name) == g),
            intercept=g == intercept,
            info=info[g],
        )
        for g, parent in groups
    )
    row = tuple(p.name for p in preds if p.name not in home)
    return PartPlan(prefix, preds, row, plans, tuple(slopes))


# --------------------------------------------------------------------------- geometry
class LevelRotation(Transform):
    """An orthogonal change of coordinates of a vector that gives its level its own axis.

    The sampler sees ``u = P·a`` with ``P`` the Householder reflection that maps the first
    axis onto ``1/√n``: ``u[0] = √n·mean(a)`` and the other coordinates are contrasts. In a
    crossed model the data pin the *sum* of a grouping's common level and the others' (and the
    intercept), not each level, so the levels drift together: with the level on one axis a
    diagonal mass matrix can give it its own scale, instead of every element carrying the
    drift. ``P`` is its own inverse and ``|det P| = 1``, so the prior is unchanged.
    """

    name = "level_rotation"
    ndim_supp = 1
    __props__ = ()

    @staticmethod
    def _reflect(value):
        n = value.shape[-1].astype("float64")
        w = pt.zeros_like(value[..., :1]) - 1.0 / pt.sqrt(n) + pt.zeros_like(value)
        w = pt.set_subtensor(w[..., 0], w[..., 0] + 1.0)
        w = w / pt.sqrt((w * w).sum(-1, keepdims=True))
        return value - 2.0 * w * (w * value).sum(-1, keepdims=True)

    def forward(self, value, *inputs):
        return self._reflect(value)

    def backward(self, value, *inputs):
        return self._reflect(value)

    def log_jac_det(self, value, *inputs):
        return pt.zeros_like(value.sum(-1))


# --------------------------------------------------------------------------- likelihoods
def bernoulli_logit_logp(value, eta):
    """``log P(value | logit⁻¹(eta))``, one softplus per row (PyMC's form computes two)."""
    z = (1 - 2 * value) * eta
    return -(pt.maximum(z, 0.0) + pt.log1p(pt.exp(-pt.abs(z))))


def _bernoulli_logit_dist(eta, size):
    return pm.Bernoulli.dist(logit_p=eta, size=size)


def bernoulli_logit(name: str, eta, *, observed, dims="obs"):
    """A Bernoulli-logit observed variable whose log-density is cheap to differentiate.

    It samples like ``pm.Bernoulli(logit_p=eta)`` (posterior predictive, ``pm.do``) and has the
    same log-likelihood; its gradient costs about half as much (``docs/performance.md``).
    """
    return pm.CustomDist(
        name,
        eta,
        dist=_bernoulli_logit_dist,
        logp=bernoulli_logit_logp,
        observed=observed,
        dims=dims,
    )


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
        if q.part == "within":
            out[q.name] = (x - nodes[f"{q.node}__group_mean"]) / scale[j]
        elif q.part == "between":
            out[q.name] = (nodes[f"{q.node}__group_mean"] - center[j]) / scale[j]
        else:
            out[q.name] = (x - center[j]) / scale[j]
    return out


def _first_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """Index of the first row of each of ``n`` levels."""
    first = np.zeros(n, dtype=np.int64)
    order = np.arange(len(codes))[::-1]
    first[codes[order]] = order
    return first


def _linear(design: Design, plan: PartPlan, nodes: dict):
    """Build one part's parameters and return its linear predictor."""
    priors = design.spec.priors
    model = pm.modelcontext(None)
    p = plan.prefix
    names = [q.name for q in plan.predictors]
    model.add_coord(f"{p}_term", names)
    cols = _columns(design, plan, nodes)
    alpha = priors["intercept"].to_pymc(f"{p}_b0")
    betas: dict[str, object] = {}
    split = len(plan.row) != len(names)
    if plan.row:
        if split:
            model.add_coord(f"{p}_row_term", list(plan.row))
            b = priors["beta"].to_pymc(f"{p}_beta_row", dims=f"{p}_row_term")
        else:
            b = priors["beta"].to_pymc(f"{p}_beta", dims=f"{p}_term")
        betas.update({n: b[i] for i, n in enumerate(plan.row)})
        eta = pt.dot(pt.stack([cols[n] for n in plan.row], axis=1), b)
    else:
        eta = pt.zeros_like(nodes[f"{plan.groups[0].name}__code"], dtype="float64")
    if not any(g.intercept for g in plan.groups):
        eta = eta + alpha
    effects: dict[str, object] = {}
    for g in plan.groups:
        sigma = priors["sigma"].to_pymc(f"{p}_sigma_{g.name}")
        mu = alpha if g.intercept else 0.0
        if g.predictors:
            model.add_coord(f"{p}_{g.name}_term", list(g.predictors))
            bg = priors["beta"].to_pymc(f"{p}_beta_{g.name}", dims=f"{p}_{g.name}_term")
            betas.update({n: bg[i] for i, n in enumerate(g.predictors)})
            first = nodes[f"{g.name}__first"]
            mu = mu + pt.dot(pt.stack([cols[n][first] for n in g.predictors], axis=1), bg)
        if g.parent is not None:
            mu = mu + effects[g.parent][nodes[f"{g.name}__parent"]]
        if g.centered:
            a = pm.Normal(
                f"{p}_a_{g.name}", mu=mu, sigma=sigma, dims=g.name, transform=LevelRotation()
            )
            dev = a - mu
        else:
            z = pm.ZeroSumNormal(f"{p}_z_{g.name}", sigma=1.0, dims=g.name)
            dev = sigma * z
            a = mu + dev
        pm.Deterministic(f"{p}_{g.name}", dev, dims=g.name)
        effects[g.name] = a
    for g in plan.leaves:
        eta = eta + effects[g][nodes[f"{g}__code"]]
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
    confounder: bool = False,
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
    confounder : bool
        Add a latent confounder ``U`` (standard normal, one per ``model.within_group`` level)
        with fixed strengths ``conf_on_treatment``, ``conf_on_mediator`` and
        ``conf_on_outcome`` (``pm.Data``, so a sensitivity grid swaps them without
        recompiling) and a treatment model that informs ``U``.

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
    >>> import embedcausal as ec, pymc as pm                   # doctest: +SKIP
    >>> model = ec.build_model(ec.design("models/personal.toml"))   # doctest: +SKIP
    >>> do_model = pm.do(model, {"inst_ties": model["inst_ties"] + 1})   # doctest: +SKIP
    """
    d = design.data
    spec = design.spec
    e = spec.estimand
    if parts is None:
        parts = ("outcome", "mediator") if d.mediator else ("outcome",)
    if confounder:
        parts = ("outcome", "mediator") if d.mediator else ("outcome",)
    for part in parts:
        if part not in PREFIX or (part == "mediator" and not d.mediator):
            raise ValueError(f"unknown part {part!r} for this design; expected {tuple(PREFIX)}")
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
            n_g = len(d.coords[g])
            nodes[f"{g}__code"] = pm.Data(f"{g}__code", codes, dims="obs")
            nodes[f"{g}__first"] = pm.Data(f"{g}__first", _first_rows(codes, n_g), dims=g)
        for inner, outer in d.nested.items():
            parent = d.group_codes[outer][_first_rows(d.group_codes[inner], len(d.coords[inner]))]
            nodes[f"{inner}__parent"] = pm.Data(f"{inner}__parent", parent, dims=inner)
        u = None
        if confounder:
            for name in CONFOUNDER_PARAMS:
                pm.Data(name, 0.0)
            if wg not in d.group_codes:
                raise EmbedcausalError(
                    f"{spec.source}: model.within_group {wg!r} is not a data column; the latent "
                    "confounder needs it (one value per group)"
                )
            u = pm.Normal("U", 0.0, 1.0, dims=wg)[nodes[f"{wg}__code"]]

        def transformed(node):
            x = nodes[node]
            if node == d.mediator and d.mediator_family in COUNT_FAMILIES:
                x = mediator_transform(x, d.mediator_family)
                x.name = "m_transformed"
            return x

        if "mediator" in parts:
            mplan = plan_part(design, "mediator")
            for node in {q.node for q in mplan.predictors}:
                nodes[f"{node}__transformed"] = transformed(node)
            eta_m = _linear(design, mplan, nodes)
            if u is not None:
                eta_m = eta_m + model["conf_on_mediator"] * u
            eta_m.name = "m_eta"
            nodes[d.mediator] = _mediator_likelihood(design, eta_m)
        if "outcome" in parts:
            yplan = plan_part(design, "outcome")
            for node in {q.node for q in yplan.predictors}:
                nodes[f"{node}__transformed"] = transformed(node)
            eta_y = _linear(design, yplan, nodes)
            if u is not None:
                eta_y = eta_y + model["conf_on_outcome"] * u
            eta_y.name = "y_eta"
            y = pm.Data(f"{e.outcome}__observed", d.y, dims="obs")
            bernoulli_logit(e.outcome, eta_y, observed=y)
        if confounder:
            _treatment_model(design, u)
    return model


def mediator_scale(design: Design) -> tuple[float, float]:
    """(center, scale) of a Gaussian mediator: its model is standardised internally."""
    m = np.asarray(design.data.m, dtype=float)
    sd = float(np.std(m))
    return float(np.mean(m)), sd if sd > 0 else 1.0


def _mediator_likelihood(design: Design, eta):
    """The mediator's observed variable, in data units (its data live in ``{name}__observed``)."""
    d = design.data
    fam = d.mediator_family
    priors = design.spec.priors
    name = d.mediator
    counts = fam != "gaussian"
    observed = pm.Data(f"{name}__observed", d.m.astype(np.int64) if counts else d.m, dims="obs")
    if fam == "gaussian":
        center, scale = mediator_scale(design)
        center, scale = pm.Data("m__center", center), pm.Data("m__scale", scale)
        sigma = priors["mediator_sigma"].to_pymc("m_sigma")
        return pm.Normal(
            name, mu=center + scale * eta, sigma=scale * sigma, observed=observed, dims="obs"
        )
    if fam == "poisson":
        return pm.Poisson(name, mu=pt.exp(eta), observed=observed, dims="obs")
    if fam == "negbinomial":
        alpha = priors["mediator_alpha"].to_pymc("m_alpha")
        return pm.NegativeBinomial(name, mu=pt.exp(eta), alpha=alpha, observed=observed, dims="obs")
    return bernoulli_logit(name, eta, observed=observed)


def _treatment_model(design: Design, u) -> None:
    """Standardised treatment ~ Normal(a + covariates·b + conf_on_treatment·U, σ_t)."""
    d = design.data
    priors = design.spec.priors
    t = d.values[d.treatment]
    tz = pm.Data("t__observed", (t - t.mean()) / (t.std() or 1.0), dims="obs")
    covs = [p for p in d.y_predictors if p.node not in (d.treatment, d.mediator)]
    model = pm.modelcontext(None)
    eta = priors["intercept"].to_pymc("t_intercept") + model["conf_on_treatment"] * u
    if covs:
        model.add_coord("t_term", [p.name for p in covs])
        X = pm.Data("t__X", np.column_stack([d.column(p) for p in covs]), dims=("obs", "t_term"))
        beta = priors["beta"].to_pymc("t_beta", dims="t_term")
        eta = eta + pt.dot(X, beta)
    sigma = priors["mediator_sigma"].to_pymc("t_sigma")
    pm.Normal(f"{d.treatment}__treatment_model", mu=eta, sigma=sigma, observed=tz, dims="obs")


def linear_predictor(model: pm.Model, prefix: str):
    """The named linear predictor ``{prefix}_eta`` of a model built by :func:`build_model`."""
    from pytensor.graph.traversal import ancestors

    for var in ancestors(model.observed_RVs):
        if getattr(var, "name", None) == f"{prefix}_eta":
            return var
    raise KeyError(f"{prefix}_eta")


def vectorized_function(
    model: pm.Model, outputs: list, replace: dict | None = None, inputs=(), mode=None
):
    """Compile ``outputs`` of a model's graph as a function of a batch of posterior draws.

    Every free random variable the outputs depend on becomes an input with a leading draw
    dimension (:func:`pytensor.graph.vectorize_graph`); ``replace`` substitutes other graph
    variables first (e.g. a ``pm.Data`` by an intervention value); ``inputs`` are extra
    symbolic inputs appended after the draws.

    Returns
    -------
    (names, function)
        The free variables' names in input order, and the compiled function
        ``f(*draws_by_name, *inputs) -> list of arrays`` (leading dim: draws).
    """
    import pytensor
    from pytensor.graph.replace import graph_replace, vectorize_graph
    from pytensor.graph.traversal import ancestors

    if replace:
        outputs = [graph_replace(o, replace, strict=False) for o in outputs]
    free = set(model.free_RVs)
    needed = {v.name: v for v in ancestors(outputs) if v in free}
    names = sorted(needed)
    batched = {
        needed[n]: pytensor.tensor.tensor(
            dtype=needed[n].dtype, shape=(None, *needed[n].type.shape), name=n
        )
        for n in names
    }
    vec = vectorize_graph(outputs, replace=batched)
    fn = pytensor.function([*batched.values(), *inputs], vec, on_unused_input="ignore", mode=mode)
    return names, fn
