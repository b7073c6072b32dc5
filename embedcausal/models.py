"""PyMC model builders: pure functions from a spec and a prepared panel to a ``pm.Model``.

The joint model has up to three parts, all with the same hierarchy:

* **outcome** (prefix ``y``): ``participation ~ Bernoulli(logit⁻¹(η_y))`` with
  ``η_y = intercept + X_y·β + Σ_g σ_g z_g[g(i)] (+ varying slopes)``;
* **mediator** (prefix ``m``), when the estimand names one: Gaussian (on the standardised
  scale), Poisson, negative-binomial or Bernoulli, with ``η_m = intercept + X_m·β + …``;
* **treatment** (prefix ``t``), only for the latent-confounder sensitivity analysis.

Varying intercepts are non-centred (``σ_g · z_g`` with ``z_g ~ Normal(0, 1)``), one per grouping
listed in ``model.varying``; a nesting ``region/country`` gives a region intercept plus a
country intercept (each country inside one region). ``model.varying_slopes`` lets the
treatment's coefficient in the outcome model vary by a grouping. Predictors are standardised;
variables listed in ``model.within_between`` enter as a within-group deviation and a group mean
(Mundlak), so a time-invariant group-level confounder is absorbed by the group-mean term.

The numpy twin :func:`eta_draws` recomputes a linear predictor from posterior draws for any
design matrix; the g-computation in :mod:`embedcausal.effects` uses it, and the tests check it
against the PyTensor graph built here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from embedcausal.data import PreparedData
from embedcausal.errors import EmbedcausalError
from embedcausal.spec import ModelSpec

CONFOUNDER_PARAMS = ("conf_on_treatment", "conf_on_mediator", "conf_on_outcome")


@dataclass(frozen=True)
class Structure:
    """Which terms each linear predictor has (shared by the builder and :func:`eta_draws`)."""

    intercepts: tuple[str, ...]  # groupings with a varying intercept
    slopes: tuple[tuple[str, str], ...]  # (predictor name, grouping) in the outcome model
    confounder: bool


def structure(spec: ModelSpec, prepared: PreparedData, *, confounder: bool = False) -> Structure:
    """The term structure implied by a spec and its prepared data."""
    groups: list[str] = []
    for item in spec.model.varying:
        groups.extend(item.split("/"))
    slopes = []
    for node, g in spec.model.varying_slopes.items():
        for p in prepared.y_predictors:
            if p.node == node and p.part in ("value", "within"):
                slopes.append((p.name, g))
    return Structure(tuple(dict.fromkeys(groups)), tuple(slopes), confounder)


def build_model(
    spec: ModelSpec,
    prepared: PreparedData,
    *,
    confounder: bool = False,
    store_eta: bool = False,
) -> pm.Model:
    """Build the joint outcome (+ mediator) model.

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
        From :func:`embedcausal.data.prepare`.
    confounder : bool
        Add a latent confounder ``U`` (one per ``model.within_group`` level, standard normal)
        with fixed strengths ``conf_on_treatment``, ``conf_on_mediator`` and
        ``conf_on_outcome``. They are ``pm.Data`` containers, so a sensitivity grid changes them
        without recompiling; a treatment model is added so that ``U`` is informed by the
        treatment.
    store_eta : bool
        Keep the linear predictors as deterministics (``y_eta``, ``m_eta``); for tests.

    Returns
    -------
    pymc.Model
        Dims: ``obs``, each grouping (``country``, ``mission``, ...), ``y_term``, ``m_term``.
    """
    st = structure(spec, prepared, confounder=confounder)
    e = spec.estimand
    coords = {k: v for k, v in prepared.coords.items()}
    coords["y_term"] = [p.name for p in prepared.y_predictors]
    if e.mediator:
        coords["m_term"] = [p.name for p in prepared.m_predictors]
    priors = spec.priors
    codes = prepared.group_codes
    wg = spec.model.within_group
    with pm.Model(coords=coords) as model:
        X_y = pm.Data("X_y", prepared.X_y, dims=("obs", "y_term"))
        u = None
        if confounder:
            for name in CONFOUNDER_PARAMS:
                pm.Data(name, 0.0)
            if wg not in codes:
                raise EmbedcausalError(
                    f"{spec.source}: model.within_group {wg!r} is not a data column; the latent "
                    "confounder needs it (one value per group)"
                )
            u = pm.Normal("U", 0.0, 1.0, dims=wg)[codes[wg]]

        def linear(prefix: str, X, terms: str, slopes=(), centered=False) -> object:
            b0 = priors["intercept"].to_pymc(f"{prefix}_intercept")
            beta = priors["beta"].to_pymc(f"{prefix}_beta", dims=terms)
            eta = b0 + pm.math.dot(X, beta)
            for g in st.intercepts:
                sigma = priors["sigma"].to_pymc(f"{prefix}_sigma_{g}")
                if centered:
                    # sum-to-zero, so the intercept alone carries the mean (no ridge between them)
                    a = pm.ZeroSumNormal(f"{prefix}_a_{g}", sigma=sigma, dims=g)
                    eta = eta + a[codes[g]]
                else:
                    z = pm.Normal(f"{prefix}_z_{g}", 0.0, 1.0, dims=g)
                    eta = eta + sigma * z[codes[g]]
            for pname, g in slopes:
                j = coords[terms].index(pname)
                sigma = priors["sigma"].to_pymc(f"{prefix}_slope_sigma_{g}")
                z = pm.Normal(f"{prefix}_slope_z_{g}", 0.0, 1.0, dims=g)
                eta = eta + sigma * z[codes[g]] * X[:, j]
            return eta

        eta_y = linear("y", X_y, "y_term", st.slopes)
        if u is not None:
            eta_y = eta_y + model["conf_on_outcome"] * u
        if store_eta:
            pm.Deterministic("y_eta", eta_y, dims="obs")
        pm.Bernoulli(e.outcome, logit_p=eta_y, observed=prepared.y, dims="obs")

        if e.mediator:
            X_m = pm.Data("X_m", prepared.X_m, dims=("obs", "m_term"))
            eta_m = linear("m", X_m, "m_term", centered=spec.model.mediator_centered)
            if u is not None:
                eta_m = eta_m + model["conf_on_mediator"] * u
            if store_eta:
                pm.Deterministic("m_eta", eta_m, dims="obs")
            _mediator_likelihood(spec, prepared, eta_m, priors)

        if confounder:
            _treatment_model(spec, prepared, u, priors)
    return model


def mediator_scale(prepared: PreparedData) -> tuple[float, float]:
    """(center, scale) of a Gaussian mediator, which is modelled on the standardised scale."""
    m = np.asarray(prepared.m, dtype=float)
    sd = float(np.std(m))
    return float(np.mean(m)), sd if sd > 0 else 1.0


def _mediator_likelihood(spec: ModelSpec, prepared: PreparedData, eta, priors) -> None:
    fam = spec.model.mediator_family
    name = spec.estimand.mediator
    if fam == "gaussian":
        center, scale = mediator_scale(prepared)
        sigma = priors["mediator_sigma"].to_pymc("m_sigma")
        pm.Normal(name, mu=eta, sigma=sigma, observed=(prepared.m - center) / scale, dims="obs")
    elif fam == "poisson":
        pm.Poisson(name, mu=pm.math.exp(eta), observed=prepared.m, dims="obs")
    elif fam == "negbinomial":
        alpha = priors["mediator_alpha"].to_pymc("m_alpha")
        pm.NegativeBinomial(name, mu=pm.math.exp(eta), alpha=alpha, observed=prepared.m, dims="obs")
    else:
        pm.Bernoulli(name, logit_p=eta, observed=prepared.m, dims="obs")


def _treatment_model(spec: ModelSpec, prepared: PreparedData, u, priors) -> None:
    """Standardised treatment ~ Normal(a + covariates·b + conf_on_treatment·U, σ_t)."""
    e = spec.estimand
    t = prepared.frame[spec.column(e.treatment)].to_numpy(dtype=float)
    tz = (t - t.mean()) / (t.std() or 1.0)
    covs = [
        j for j, p in enumerate(prepared.y_predictors) if p.node not in (e.treatment, e.mediator)
    ]
    b0 = priors["intercept"].to_pymc("t_intercept")
    eta = b0 + pm.modelcontext(None)["conf_on_treatment"] * u
    if covs:
        pm.modelcontext(None).add_coord("t_term", [prepared.y_predictors[j].name for j in covs])
        beta = priors["beta"].to_pymc("t_beta", dims="t_term")
        eta = eta + pm.math.dot(prepared.X_y[:, covs], beta)
    sigma = priors["mediator_sigma"].to_pymc("t_sigma")
    pm.Normal(f"{e.treatment}__treatment_model", mu=eta, sigma=sigma, observed=tz, dims="obs")


def eta_draws(
    posterior: xr.Dataset,
    prepared: PreparedData,
    prefix: str,
    X: np.ndarray,
    st: Structure,
    *,
    draws: slice | np.ndarray = slice(None),
    confounder_strength: float = 0.0,
) -> np.ndarray:
    """Linear predictor of part ``prefix`` (``"y"`` or ``"m"``) for design ``X``, per draw.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior with ``chain``/``draw`` stacked into ``sample`` (see
        :func:`embedcausal.effects.stacked_posterior`).
    X : numpy.ndarray
        Design matrix (rows x terms), standardised like ``prepared.X_y`` / ``prepared.X_m``.
    draws : slice or array of int
        Which stacked samples to use.
    confounder_strength : float
        The fixed strength of the latent confounder ``U`` on this part (sensitivity grids).

    Returns
    -------
    numpy.ndarray
        Array of shape (samples, rows).
    """

    def var(name: str) -> np.ndarray:
        return np.asarray(posterior[name].isel(sample=draws).values)

    codes = prepared.group_codes
    eta = var(f"{prefix}_intercept")[:, None] + var(f"{prefix}_beta") @ X.T
    for g in st.intercepts:
        if f"{prefix}_a_{g}" in posterior:  # centred parameterisation
            eta = eta + var(f"{prefix}_a_{g}")[:, codes[g]]
        else:
            eta = eta + var(f"{prefix}_sigma_{g}")[:, None] * var(f"{prefix}_z_{g}")[:, codes[g]]
    if prefix == "y":
        terms = [p.name for p in prepared.y_predictors]
        for pname, g in st.slopes:
            j = terms.index(pname)
            slope = var(f"y_slope_sigma_{g}")[:, None] * var(f"y_slope_z_{g}")[:, codes[g]]
            eta = eta + slope * X[:, j][None, :]
    if st.confounder and confounder_strength:
        c = codes[prepared.spec.model.within_group]
        eta = eta + confounder_strength * var("U")[:, c]
    return eta
