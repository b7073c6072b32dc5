"""The latent confounder of the sensitivity analysis, inside the joint model.

:func:`latent_confounder` adds ``U`` (one value per level of ``model.within_group``),
:func:`treatment_model` the treatment's regression that informs it; their strengths are the
``pm.Data`` named in :data:`CONFOUNDER_PARAMS`, so a sensitivity grid swaps them without
recompiling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from embedcausal.geometry import level_means

if TYPE_CHECKING:
    from embedcausal.plan import Design

CONFOUNDER_PARAMS = ("conf_on_treatment", "conf_on_mediator", "conf_on_outcome")


def latent_confounder(design: Design, wg: str):
    """``U`` per level of ``wg``: standard normal, orthogonal to the observed confounders.

    A sensitivity analysis asks about a confounder *beyond* the observed ones, so ``U`` is
    taken to be independent of them (as in Imbens 2003 and Cinelli–Hazlett): it lives in the
    space orthogonal to the constant and to the level means of the adjustment set. That also
    fixes what the intercepts and coefficients would otherwise trade against ``U`` (a ridge
    per coefficient). ``U = Q·v`` with ``Q`` an orthonormal basis of that space and
    ``v ~ Normal(0, 1)``, so each ``U_j`` has variance ``(n - k - 1)/n`` ≈ 1.
    """
    d = design.data
    codes, n = d.group_codes[wg], len(d.coords[wg])
    covs = [p for p in d.y_predictors if p.node not in (d.treatment, d.mediator)]
    X = np.column_stack([d.column(p) for p in covs]) if covs else np.zeros((d.n_obs, 0))
    A = np.column_stack([np.ones(n), level_means(X, codes, n)])
    q, _ = np.linalg.qr(A, mode="complete")
    rank = int(np.linalg.matrix_rank(A))
    basis = q[:, rank:]
    model = pm.modelcontext(None)
    model.add_coord("U_basis", np.arange(basis.shape[1]))
    v = pm.Normal("U_raw", 0.0, 1.0, dims="U_basis")
    return pm.Deterministic(
        "U", pt.dot(pm.Data("U__basis", basis, dims=(wg, "U_basis")), v), dims=wg
    )


def treatment_model(design: Design, u) -> None:
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
