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


def treatment_model(design: Design, u, wg: str) -> None:
    """Standardised treatment ~ Normal(a + covariates·b + conf_on_treatment·U, σ_t).

    ``u`` is the confounder per level of ``wg`` (``model.within_group``).
    The Gaussian likelihood is written through its sufficient statistics (Σ t², Zᵀt, ZᵀZ for
    ``Z = [1, covariates]``, and per level the row count, Σ t and Σ z), so a gradient costs
    O(levels × covariates) instead of O(rows): with
    ``r = t - Z·w - γ·U[level]`` (``w = (a, b)``)::

        Σ r² = Σ t² - 2 wᵀZᵀt + wᵀZᵀZ w - 2γ Uᵀ(T - G w) + γ² Σ_levels n_c U_c²

    with ``T_c = Σ_{rows of c} t``, ``G_c = Σ_{rows of c} z``. It is the same log-density as
    ``pm.Normal(..., observed=t)`` row by row (up to rounding; ``tests/test_sensitivity.py``
    compares them), and the sampled treatment equation's cost no longer grows with the panel.
    """
    d = design.data
    priors = design.spec.priors
    t = np.asarray(d.values[d.treatment], dtype=float)
    tz = (t - t.mean()) / (t.std() or 1.0)
    covs = [p for p in d.y_predictors if p.node not in (d.treatment, d.mediator)]
    model = pm.modelcontext(None)
    codes, n_levels = d.group_codes[wg], len(d.coords[wg])
    X = np.column_stack([d.column(p) for p in covs]) if covs else np.zeros((d.n_obs, 0))
    Z = np.column_stack([np.ones(d.n_obs), X])
    counts = np.bincount(codes, minlength=n_levels).astype(float)
    level_t = np.bincount(codes, weights=tz, minlength=n_levels)
    level_z = np.stack(
        [np.bincount(codes, weights=Z[:, j], minlength=n_levels) for j in range(Z.shape[1])],
        axis=1,
    )
    a = priors["intercept"].to_pymc("t_intercept")
    if covs:
        model.add_coord("t_term", [p.name for p in covs])
        beta = priors["beta"].to_pymc("t_beta", dims="t_term")
        w = pt.concatenate([pt.atleast_1d(a), beta])
    else:
        w = pt.atleast_1d(a)
    sigma = priors["mediator_sigma"].to_pymc("t_sigma")
    gamma = model["conf_on_treatment"]
    # einsum, not BLAS: a multithreaded BLAS may sum in another order from run to run, and
    # the same seed must give the same draws in any process (embedcausal.samplers)
    ztz = pt.as_tensor_variable(np.einsum("ij,ik->jk", Z, Z))
    zt = pt.as_tensor_variable(np.einsum("ij,i->j", Z, tz))
    ss = (
        float(np.einsum("i,i->", tz, tz))
        - 2.0 * pt.dot(w, zt)
        + pt.dot(w, pt.dot(ztz, w))
        - 2.0 * gamma * pt.dot(u, pt.as_tensor_variable(level_t) - pt.dot(level_z, w))
        + gamma**2 * pt.dot(pt.as_tensor_variable(counts), u**2)
    )
    n = float(d.n_obs)
    logp = -n * pt.log(sigma) - 0.5 * n * np.log(2 * np.pi) - 0.5 * ss / sigma**2
    pm.Potential(f"{d.treatment}__treatment_model", logp)
