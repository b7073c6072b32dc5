"""The observed variables' likelihoods: the outcome's and the mediator's.

* :func:`bernoulli_logit` — a Bernoulli-logit observed variable with a cheap gradient (one
  softplus per row; it samples like ``pm.Bernoulli(logit_p=eta)``);
* :func:`mediator_likelihood` — the mediator in data units: Gaussian (standardised inside the
  model, :func:`mediator_scale`), Poisson, negative-binomial or Bernoulli-logit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

if TYPE_CHECKING:
    from embedcausal.plan import Design

__all__ = ["bernoulli_logit", "bernoulli_logit_logp", "mediator_likelihood", "mediator_scale"]


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
    if fam == "poisson":
        return pm.Poisson(name, mu=pt.exp(eta), observed=observed, dims="obs")
    if fam == "negbinomial":
        alpha = priors["mediator_alpha"].to_pymc("m_alpha")
        return pm.NegativeBinomial(name, mu=pt.exp(eta), alpha=alpha, observed=observed, dims="obs")
    return bernoulli_logit(name, eta, observed=observed)
