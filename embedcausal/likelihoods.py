"""The observed variables' likelihoods: the outcome's and the mediator's.

* :func:`outcome_likelihood` — the outcome (``model.family``, ``model.link``): Bernoulli-logit
  (:func:`bernoulli_logit`, a cheap gradient: one softplus per row; it samples like
  ``pm.Bernoulli(logit_p=eta)``), Bernoulli-probit (``P(Y = 1) = Φ(η)``) or Gaussian
  (standardised inside the model like a Gaussian mediator: ``Y ~ Normal(c + s·η, s·σ_y)``,
  :func:`outcome_scale`); :func:`outcome_logp` is its pointwise log-likelihood;
* :func:`mediator_likelihood` — the mediator in data units: Gaussian (standardised inside the
  model, :func:`mediator_scale`), Poisson, negative-binomial, Bernoulli-logit or ordered-logit
  (categories ``0..K-1``, cutpoints ``m_cutpoints`` summing to zero, prior ``Normal(0, 2.5)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

if TYPE_CHECKING:
    from embedcausal.plan import Design

__all__ = [
    "bernoulli_logit",
    "bernoulli_logit_logp",
    "bernoulli_probit_logp",
    "mediator_likelihood",
    "mediator_scale",
    "outcome_likelihood",
    "outcome_logp",
    "outcome_scale",
]


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


def bernoulli_probit_logp(value, eta):
    """``log P(value | Φ(eta))`` = ``log Φ((2·value − 1)·eta)``, stable in the tails."""
    from pymc.distributions.dist_math import normal_lcdf

    return normal_lcdf(0.0, 1.0, (2 * value - 1) * eta)


def _bernoulli_probit_dist(eta, size):
    return pm.Bernoulli.dist(p=0.5 * pt.erfc(-eta / np.sqrt(2.0)), size=size)


def outcome_scale(design: Design) -> tuple[float, float]:
    """(center, scale) of a Gaussian outcome (its model is standardised); (0, 1) otherwise."""
    if design.spec.model.family != "gaussian":
        return 0.0, 1.0
    y = np.asarray(design.data.y, dtype=float)
    sd = float(np.std(y))
    return float(np.mean(y)), sd if sd > 0 else 1.0


def outcome_likelihood(design: Design, eta, observed):
    """The outcome's observed variable (named after the outcome node) given its predictor."""
    name = design.data.outcome
    m = design.spec.model
    if m.family == "gaussian":
        center, scale = outcome_scale(design)
        center, scale = pm.Data("y__center", center), pm.Data("y__scale", scale)
        sigma = design.spec.priors["outcome_sigma"].to_pymc("y_sigma")
        return pm.Normal(
            name, mu=center + scale * eta, sigma=scale * sigma, observed=observed, dims="obs"
        )
    if m.link == "probit":
        return pm.CustomDist(
            name,
            eta,
            dist=_bernoulli_probit_dist,
            logp=bernoulli_probit_logp,
            observed=observed,
            dims="obs",
        )
    return bernoulli_logit(name, eta, observed=observed)


def outcome_logp(design: Design, model: pm.Model, value, eta):
    """The outcome's pointwise log-likelihood as a graph of ``value``, ``eta`` (and ``y_sigma``)."""
    m = design.spec.model
    if m.family == "gaussian":
        center, scale = model["y__center"], model["y__scale"]
        sigma = scale * model["y_sigma"]
        z = (value - center - scale * eta) / sigma
        return -0.5 * z * z - pt.log(sigma) - 0.5 * np.log(2 * np.pi)
    if m.link == "probit":
        return bernoulli_probit_logp(value, eta)
    return bernoulli_logit_logp(value, eta)


def mediator_scale(design: Design) -> tuple[float, float]:
    """(center, scale) of a Gaussian mediator: its model is standardised internally."""
    m = np.asarray(design.data.m, dtype=float)
    sd = float(np.std(m))
    return float(np.mean(m)), sd if sd > 0 else 1.0


def mediator_likelihood(design: Design, eta):
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
    if fam == "ordered":  # cutpoints sum to zero: the intercept in eta sets the location
        k = int(d.m.max()) + 1
        raw = pm.Normal(
            "m_cutpoints_raw",
            0.0,
            2.5,
            shape=k - 1,
            transform=pm.distributions.transforms.ordered,
            initval=np.linspace(-1.0, 1.0, k - 1),
        )
        cut = pm.Deterministic("m_cutpoints", raw - raw.mean())
        # compute_p=False: PyMC would otherwise keep every row's category probabilities as a
        # Deterministic (rows x K per draw) that the diagnostics then judge as parameters
        return pm.OrderedLogistic(
            name, eta=eta, cutpoints=cut, observed=observed, dims="obs", compute_p=False
        )
    if fam == "poisson":
        return pm.Poisson(name, mu=pt.exp(eta), observed=observed, dims="obs")
    if fam == "negbinomial":
        alpha = priors["mediator_alpha"].to_pymc("m_alpha")
        return pm.NegativeBinomial(name, mu=pt.exp(eta), alpha=alpha, observed=observed, dims="obs")
    return bernoulli_logit(name, eta, observed=observed)
