"""A Gaussian mediator's grouping integrated out (embedcausal.marginal): the algebra against
dense linear algebra, which grouping is chosen, and a fit against the full model's posterior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from embedcausal.fitting import sample
from embedcausal.geometry import plan_part
from embedcausal.marginal import conditional_effects, marginal_grouping, marginal_logp
from embedcausal.models import build_model
from embedcausal.plan import design
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"


def _dense_cov(code, levels, sigma, tau, zero_sum):
    Z = np.eye(levels)[code]
    P = np.eye(levels) - (np.ones((levels, levels)) / levels if zero_sum else 0.0)
    return Z, P, sigma**2 * np.eye(len(code)) + tau**2 * Z @ P @ Z.T


@pytest.mark.parametrize("zero_sum", [True, False])
def test_marginal_logp_is_the_dense_gaussian_density(zero_sum):
    rng = np.random.default_rng(0)
    levels = 5
    code = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 4, 4, 0])  # level 3 has no rows
    r = rng.normal(size=len(code))
    for sigma, tau in [(0.7, 0.4), (1.3, 2.0), (0.5, 1e-3)]:
        _, _, cov = _dense_cov(code, levels, sigma, tau, zero_sum)
        want = stats.multivariate_normal(np.zeros(len(code)), cov).logpdf(r)
        counts = np.bincount(code, minlength=levels)
        got = marginal_logp(r, code, counts, sigma, tau, zero_sum=zero_sum).eval()
        np.testing.assert_allclose(got, want, rtol=1e-8)


@pytest.mark.parametrize("zero_sum", [True, False])
def test_conditional_effects_are_the_exact_gaussian_conditional(zero_sum):
    # u ~ N(0, τ² P), r = Z u + e: the drawn effects' mean and covariance against the dense
    # conditional τ² P Z' Σ⁻¹ r and τ² P − τ⁴ P Z' Σ⁻¹ Z P (Monte Carlo, 200,000 draws)
    rng = np.random.default_rng(1)
    levels, sigma, tau = 4, 0.8, 0.6
    code = np.array([0, 0, 1, 1, 1, 2, 3, 3, 3, 3])
    r = rng.normal(size=len(code))
    Z, P, cov = _dense_cov(code, levels, sigma, tau, zero_sum)
    gain = tau**2 * P @ Z.T @ np.linalg.inv(cov)
    mean, var = gain @ r, tau**2 * P - gain @ Z @ P * tau**2
    n = 200_000
    S = np.tile(Z.T @ r, (n, 1))
    u = conditional_effects(
        S,
        np.bincount(code, minlength=levels).astype(float),
        np.full(n, sigma),
        np.full(n, tau),
        np.random.default_rng(2),
        zero_sum=zero_sum,
    )
    np.testing.assert_allclose(u.mean(axis=0), mean, atol=4e-3)
    np.testing.assert_allclose(np.cov(u, rowvar=False), var, atol=4e-3)
    if zero_sum:
        np.testing.assert_allclose(u.sum(axis=1), 0.0, atol=1e-10)


def _design(**model):
    frame = pd.read_csv(HERE / "tiny.csv")
    spec = load_spec(HERE / "valid.toml")
    if model:
        spec = spec.replace(model=model)
    return design(spec, frame)


def test_which_grouping_is_integrated_out():
    # varying = ["mission", "region/country"]: region has a child, country a parent; mission
    # is the one grouping whose effects have mean 0 and nothing nested in them
    d = _design()
    assert marginal_grouping(d, plan_part(d, "mediator")).name == "mission"
    assert marginal_grouping(d, plan_part(d, "outcome")) is None  # a Bernoulli outcome: never
    nested = _design(varying=["region/country"])  # a parent and its child: neither
    assert marginal_grouping(nested, plan_part(nested, "mediator")) is None
    model = build_model(d, parts=("mediator",), marginal=True)
    assert "m_z_mission" not in model.named_vars and "m_a_mission" not in model.named_vars
    assert "m_sigma_mission" in model.named_vars and model.marginal[0].name == "mission"
    full = build_model(d, parts=("mediator",))
    assert not hasattr(full, "marginal")


@pytest.mark.parametrize("how", ["noncentered", "centered"])
def test_marginal_fit_has_the_full_models_posterior(how):
    # the same posterior whether the mission effects are sampled or integrated out and drawn
    # back: means of the scales and of every mission effect within 4.5 Monte Carlo SEs
    d = _design(parameterization={"mission": how, "country": "noncentered"})
    d = d.with_sampler(draws=1000, tune=500, chains=2, seed=3)
    marg = sample(d, models=[("mediator", build_model(d, parts=("mediator",), marginal=True))])
    full = sample(d, models=[("mediator", build_model(d, parts=("mediator",)))])
    a, b = marg["posterior"], full["posterior"]
    free = "m_z_mission" if how == "noncentered" else "m_a_mission"
    assert free in a and a[free].dims == b[free].dims and a["m_mission"].dims == b["m_mission"].dims
    for name in ("m_sigma_mission", "m_sigma", "m_mission", "m_sigma_country"):
        x = a[name].values.reshape(-1, *a[name].shape[2:])
        y = b[name].values.reshape(-1, *b[name].shape[2:])
        se = np.sqrt(x.var(axis=0) / 500 + y.var(axis=0) / 500)  # ESS taken as 1/4 of draws
        assert np.all(np.abs(x.mean(axis=0) - y.mean(axis=0)) < 4.5 * se), name
