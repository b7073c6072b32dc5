"""A Gaussian mediator's grouping integrated out (embedcausal.marginal): the algebra against
dense linear algebra, the scale's redraw against its exact conditional, which grouping is
chosen, and a fit against the full model's posterior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from embedcausal.fitting import sample
from embedcausal.geometry import plan_part
from embedcausal.marginal import (
    SCALE_SWEEPS,
    conditional_effects,
    marginal_grouping,
    marginal_logp,
    refresh_scale,
    scale_loglik,
    slice_sample,
)
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


@pytest.mark.parametrize("zero_sum", [True, False])
def test_scale_loglik_is_the_marginal_density_up_to_what_does_not_depend_on_tau(zero_sum):
    rng = np.random.default_rng(3)
    levels = 6
    code = np.array([0, 0, 1, 1, 1, 2, 3, 3, 3, 3, 5, 5, 5])  # level 4 has no rows
    counts = np.bincount(code, minlength=levels).astype(float)
    r = rng.normal(size=len(code))
    S = np.bincount(code, weights=r, minlength=levels)
    sigma, taus = 0.9, np.array([1e-3, 0.2, 0.7, 2.5])
    full = [marginal_logp(r, code, counts, sigma, t, zero_sum=zero_sum).eval() for t in taus]
    part = scale_loglik(
        taus, np.tile(S, (len(taus), 1)), counts, np.full(len(taus), sigma), zero_sum=zero_sum
    )
    np.testing.assert_allclose(np.diff(part), np.diff(full), rtol=1e-10, atol=1e-12)


def _conditional_on_grid(S, counts, sigma, zero_sum):
    """τ's conditional (HalfNormal(1) prior) on a fine grid: points and CDF."""
    grid = np.linspace(1e-6, 4.0, 400_001)
    logf = stats.halfnorm.logpdf(grid) + scale_loglik(
        grid, np.tile(S, (len(grid), 1)), counts, np.full(len(grid), sigma), zero_sum=zero_sum
    )
    w = np.exp(logf - logf.max())
    cdf = np.cumsum(w)
    return grid, cdf / cdf[-1]


@pytest.mark.parametrize("zero_sum", [True, False])
def test_refreshed_scale_keeps_its_exact_conditional_and_forgets_its_start(zero_sum):
    # the redraw of τ given a draw's S and σ: 20,000 draws of the same (S, σ) started at the
    # exact conditional (as NUTS's draws are, given the rest) stay at it (Kolmogorov-Smirnov
    # against the conditional on a grid) and are nearly uncorrelated with where they started
    rng = np.random.default_rng(4)
    levels = 8
    counts = rng.integers(5, 40, size=levels).astype(float)
    u = rng.normal(scale=0.3, size=levels)
    S = counts * u + rng.normal(size=levels) * np.sqrt(counts) * 0.8
    sigma, n = 0.8, 20_000
    grid, cdf = _conditional_on_grid(S, counts, sigma, zero_sum)
    start = np.interp(rng.uniform(size=n), cdf, grid)
    tau = refresh_scale(
        np.tile(S, (n, 1)),
        counts,
        np.full(n, sigma),
        start,
        stats.halfnorm.logpdf,
        rng,
        zero_sum=zero_sum,
    )
    assert stats.kstest(tau, lambda t: np.interp(t, grid, cdf)).pvalue > 0.01
    assert abs(np.corrcoef(start, tau)[0, 1]) < 0.1


def test_slice_sampling_keeps_its_target_and_leaves_non_finite_starts_alone():
    rng = np.random.default_rng(7)
    x = rng.normal(size=50_000)
    x[:3] = np.nan
    y = slice_sample(lambda v: -0.5 * v**2, x, rng, sweeps=SCALE_SWEEPS)
    assert np.isnan(y[:3]).all()
    assert stats.kstest(y[3:], "norm").pvalue > 0.01
    assert abs(np.corrcoef(x[3:], y[3:])[0, 1]) < 0.1


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
