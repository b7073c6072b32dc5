r"""The outcome's likelihood when its latent error is correlated ρ with the mediator's error.

The ρ-sensitivity analysis (Imai, Keele & Yamamoto 2010; :mod:`embedcausal.sensitivity.rho`)
asks how the mediation effects change when sequential ignorability fails in the one way a
single number can describe: the mediator's error ``ε_M`` and the outcome's latent error
``ε_Y`` are correlated, ``ρ = corr(ε_M, ε_Y)``, both standard normal. With the Gaussian
mediator ``M = c + s·(η_m + σ·ε_M)`` (standardised inside the model,
:func:`~embedcausal.likelihoods.mediator_scale`), ``ε_M`` is the mediator's standardised
residual ``z = (M − c − s·η_m) / (s·σ)``, and given it ``ε_Y ~ Normal(ρ·z, 1 − ρ²)``:

* probit outcome, ``Y = 1[η_y + ε_Y > 0]``:
  ``P(Y = 1 | T, M, X) = Φ((η_y + ρ·z) / √(1 − ρ²))``;
* Gaussian outcome, ``Y = c_y + s_y·(η_y + σ_y·ε_Y)``:
  ``Y | T, M, X ~ Normal(c_y + s_y·(η_y + σ_y·ρ·z), s_y·σ_y·√(1 − ρ²))``.

``η_y`` is the outcome's *structural* linear predictor (``y_eta``, the one the counterfactuals
use); ``ρ`` is the ``pm.Data`` :data:`RHO_PARAM`, so a grid swaps it without recompiling. At
``ρ = 0`` both are the ordinary likelihoods. A logit outcome has no normal latent error and
is refused by the model file's check (``sensitivity.rho``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from embedcausal.likelihoods import bernoulli_probit_logp, outcome_scale

if TYPE_CHECKING:
    from embedcausal.plan import Design

__all__ = ["RHO_PARAM", "correlated_outcome"]

#: the name of the ``pm.Data`` holding ρ
RHO_PARAM = "rho_m_y"


def _probit_dist(eta, size):
    return pm.Bernoulli.dist(p=0.5 * pt.erfc(-eta / np.sqrt(2.0)), size=size)


def correlated_outcome(design: Design, eta_y, observed, mediator, eta_m):
    """The outcome's observed variable with its error correlated ρ with the mediator's.

    Parameters
    ----------
    design : Design
        A design with a Gaussian mediator and a probit or Gaussian outcome.
    eta_y, eta_m : TensorVariable
        The outcome's structural and the mediator's linear predictors.
    observed : TensorVariable
        The outcome's data.
    mediator : TensorVariable
        The mediator's observed variable (data units).

    Returns
    -------
    TensorVariable
        The outcome's observed variable (named after the outcome node). The ``pm.Data``
        :data:`RHO_PARAM` (0 until set) is added to the model.

    See Also
    --------
    embedcausal.build_model : ``build_model(design, rho=True)`` uses it.
    """
    model = pm.modelcontext(None)
    rho = pm.Data(RHO_PARAM, 0.0)
    root = pt.sqrt(1.0 - rho * rho)
    z = (mediator - model["m__center"] - model["m__scale"] * eta_m) / (
        model["m__scale"] * model["m_sigma"]
    )
    name = design.data.outcome
    if design.spec.model.family == "gaussian":
        center, scale = outcome_scale(design)
        center, scale = pm.Data("y__center", center), pm.Data("y__scale", scale)
        sigma = design.spec.priors["outcome_sigma"].to_pymc("y_sigma")
        return pm.Normal(
            name,
            mu=center + scale * (eta_y + sigma * rho * z),
            sigma=scale * sigma * root,
            observed=observed,
            dims="obs",
        )
    return pm.CustomDist(
        name,
        (eta_y + rho * z) / root,
        dist=_probit_dist,
        logp=bernoulli_probit_logp,
        observed=observed,
        dims="obs",
    )
