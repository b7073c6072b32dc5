"""Varying intercepts redrawn from their conditional after NUTS (embedcausal.refresh): the
kernel's sums against SciPy's densities, the Metropolis–Hastings step against the exact
conditional, which levels are refreshed, and fits whose refreshed draws are consistent with
the model's graph and mix better than NUTS's own."""

from __future__ import annotations

import numpy as np
import pytest
from _specs import sim_spec
from scipy import special, stats

import embedcausal as ec
from embedcausal import fitting
from embedcausal.geometry import GroupPlan
from embedcausal.mixing import rhat_ess
from embedcausal.models import build_model, vectorized_function
from embedcausal.refresh import (
    FAMILIES,
    _level_sums,
    conjugate_coefficients,
    mh_step,
    refreshable,
    target,
)
from embedcausal.simulation import simulate

PARAM = {"logit": 1.0, "gaussian": 0.7, "poisson": 1.0, "negbinomial": 2.5}


def _rows(family: str, rng, n: int = 60, levels: int = 4):
    code = rng.integers(0, levels, n)
    eta = rng.normal(0.2, 0.8, n)
    if family == "logit":
        y = (rng.uniform(size=n) < special.expit(eta)).astype(float)
    elif family == "gaussian":
        y = eta + PARAM[family] * rng.normal(size=n)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return code, eta, y


def _scipy_loglik(family: str, y, eta):
    q = PARAM[family]
    if family == "logit":
        return stats.bernoulli.logpmf(y, special.expit(eta))
    if family == "gaussian":
        return stats.norm.logpdf(y, eta, q)
    if family == "poisson":
        return stats.poisson.logpmf(y, np.exp(eta))
    mu = np.exp(eta)
    return stats.nbinom.logpmf(y, q, q / (q + mu))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_level_sums_are_the_rows_loglik_and_its_derivatives(family):
    rng = np.random.default_rng(0)
    code, eta, y = _rows(family, rng)
    levels = 4
    base = rng.normal(0, 0.3, (1, levels))
    eta2 = (eta + base[0, code])[None, :]  # eta holds the deviations ``base``
    q = np.array([PARAM[family]])

    def sums(dev):
        return _level_sums(eta2, base, dev, code, y, FAMILIES[family], q)

    dev0, dev1 = rng.normal(0, 0.3, (1, levels)), rng.normal(0, 0.3, (1, levels))
    want = [
        np.bincount(code, _scipy_loglik(family, y, eta + d[0, code]), minlength=levels)
        for d in (dev0, dev1)
    ]
    # the log-likelihood up to a constant per level: its differences are SciPy's
    np.testing.assert_allclose(sums(dev1)[0] - sums(dev0)[0], [want[1] - want[0]], rtol=1e-9)
    h = 1e-5
    up, down = sums(dev0 + h), sums(dev0 - h)
    np.testing.assert_allclose(sums(dev0)[1], (up[0] - down[0]) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sums(dev0)[2], -(up[1] - down[1]) / (2 * h), rtol=1e-6, atol=1e-8)


def _grid_draws(logf, lo, hi, n, rng):
    """Exact draws from a 1-D density on a fine grid (inverse CDF), and its CDF."""
    x = np.linspace(lo, hi, 400_001)
    lp = logf(x)
    w = np.exp(lp - lp.max())
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return np.interp(rng.uniform(size=n), cdf, x), lambda v: np.interp(v, x, cdf)


def test_one_step_keeps_a_skewed_conditional():
    # four rows of 1s under a wide prior: a conditional far from Gaussian, where the Newton
    # proposal is wrong and only the Hastings correction keeps the distribution exact
    rng = np.random.default_rng(3)
    n, sigma = 20_000, 3.0
    y = np.ones(4)
    code = np.zeros(4, dtype=np.int64)
    rest = np.array([-1.0, 0.5, -0.2, 0.0])

    def logf(d):
        eta = rest[None, :] + d[:, None]
        return -np.log1p(np.exp(-eta)).sum(axis=1) - 0.5 * (d / sigma) ** 2

    start, cdf = _grid_draws(logf, -15.0, 25.0, n, rng)
    dev = start[:, None]
    eta = rest[None, :] + dev  # each draw's predictor holds its deviation
    out, share = mh_step(
        eta,
        dev,
        code,
        y,
        "logit",
        np.ones(n),
        np.full((n, 1), sigma**2),
        np.array([True]),
        np.random.default_rng(4),
    )
    assert 0.5 < share < 0.99  # a real Metropolis step here, not an exact draw
    assert stats.kstest(out[:, 0], cdf).pvalue > 0.01


def test_gaussian_rows_are_drawn_exactly_from_any_start():
    # Gaussian rows: the Newton proposal is the conditional itself, so every step is accepted
    rng = np.random.default_rng(5)
    n, sigma, sd = 20_000, 0.8, 0.6
    y = np.array([0.3, -0.4, 1.1])
    code = np.zeros(3, dtype=np.int64)
    rest = np.array([0.1, 0.0, 0.4])
    dev = rng.normal(5.0, 2.0, (n, 1))  # far from the conditional
    out, share = mh_step(
        rest[None, :] + dev,
        dev,
        code,
        y,
        "gaussian",
        np.full(n, sd),
        np.full((n, 1), sigma**2),
        np.array([True]),
        rng,
    )
    prec = 3 / sd**2 + 1 / sigma**2
    mean = ((y - rest).sum() / sd**2) / prec
    assert share == 1.0
    assert stats.kstest(out[:, 0], stats.norm(mean, prec**-0.5).cdf).pvalue > 0.01


def test_gaussian_coefficients_are_drawn_from_their_exact_conditional():
    # y = c + X b + e, prior Normal(mu0, s0): draws against the closed-form mean and covariance,
    # whatever the coefficients the draws start from (they cancel out of the residual)
    rng = np.random.default_rng(6)
    n, k, sd, mu0, s0 = 30, 3, 0.7, 1.0, 0.5
    X = rng.normal(size=(n, k))
    c = rng.normal(size=n)  # the rest of the predictor
    y = c + X @ np.array([0.5, -1.0, 0.0]) + sd * rng.normal(size=n)
    draws = 40_000
    b = rng.normal(3.0, 2.0, (draws, k))  # arbitrary starts
    eta = c[None, :] + b @ X.T
    out = conjugate_coefficients(eta, b, X, y, np.full(draws, sd), mu0, s0, rng)
    prec = X.T @ X / sd**2 + np.eye(k) / s0**2
    cov = np.linalg.inv(prec)
    mean = cov @ (X.T @ (y - c) / sd**2 + mu0 / s0**2)
    assert np.all(np.abs(out.mean(axis=0) - mean) < 4 * np.sqrt(np.diag(cov) / draws))
    np.testing.assert_allclose(np.cov(out, rowvar=False), cov, atol=0.03 * np.abs(cov).max())


def _group(centered, zero_sum):
    n = len(centered)
    return GroupPlan("g", None, tuple(centered), (1.0,) * n, (), False, zero_sum)


def test_which_levels_are_refreshed():
    # independent priors only: not a sum-to-zero set, not a non-centred-throughout grouping
    assert refreshable(_group([True] * 3, False)).all()
    assert not refreshable(_group([True] * 3, True)).any()
    assert not refreshable(_group([False] * 3, False)).any()
    assert list(refreshable(_group([True, True, False], True))) == [False, False, True]
    assert refreshable(_group([True, False, False], True)).all()  # one centred: plain Normal


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    sim = simulate("personal", seed=7, n_countries=40, n_missions=15)
    path = tmp_path_factory.mktemp("refresh") / "personal.csv"
    sim.save(path)
    spec = sim_spec(path, draws=400, tune=400, chains=2, seed=9)
    model = dict(spec.model)
    model["parameterization"] = {"mission": "centered", "country": "centered"}
    return ec.design(spec.replace(model=model))


def test_what_each_model_lets_be_refreshed(panel):
    fitted = dict(fitting.part_models(panel))
    out = target(panel, fitted["outcome"], "outcome")
    med = target(panel, fitted["mediator"], "mediator")
    assert out.family == "logit" and [g.name for g, _ in out.groups] == ["mission", "country"]
    # the mediator's missions are integrated out (drawn back exactly): not refreshed again
    assert med.family == "gaussian" and med.integrated == "mission"
    assert [g.name for g, _ in med.groups] == ["country"]
    assert target(panel, build_model(panel, confounder=True), "joint") is None
    probit = panel.spec.replace(model={**dict(panel.spec.model), "link": "probit"})
    d = ec.design(probit, panel.data.frame)
    assert target(d, build_model(d, parts=("outcome",)), "outcome") is None


def _folded_ess(post, name):
    x = post[name].values
    x = np.abs(x - np.median(x, axis=(0, 1)))  # folded: the spread about the median
    return np.median(rhat_ess(np.moveaxis(x, -1, 0))[1])


def test_a_fit_refreshes_its_effects_consistently_and_they_mix_better(panel, monkeypatch):
    # as users call it, twice: the second call must give the same draws (same seed)
    run = ec.fit(panel, compute_effects=False)
    again = ec.fit(panel, compute_effects=False)
    post = run.idata["posterior"].to_dataset()
    np.testing.assert_array_equal(post["y_country"], again.idata["posterior"]["y_country"])
    # every deviation is what the full model's graph makes of the refreshed free variables
    # (the sampled models integrate the regions out; they are drawn back first)
    # (and the Gaussian mediator's coefficients, redrawn too, agree with its intercept)
    for part in ("outcome", "mediator"):
        p = {"outcome": "y", "mediator": "m"}[part]
        model = build_model(panel, parts=(part,))
        outputs = [f"{p}_country", f"{p}_intercept", f"{p}_beta"]
        names, fn = vectorized_function(model, [model[n] for n in outputs])
        flat = {k: post[k].values.reshape(-1, *post[k].shape[2:]) for k in names}
        for name, got in zip(outputs, fn(*(flat[k] for k in names)), strict=True):
            want = post[name].values.reshape(got.shape)
            np.testing.assert_allclose(got, want, atol=1e-9, err_msg=name)
    # the same NUTS draws without the refresh: hyperparameters identical, effects the same
    # within Monte Carlo error, their spread's ESS (behind R-hat of scale) clearly higher
    monkeypatch.setattr(fitting, "refresh_effects", lambda trace, *a, **k: (trace, {}))
    raw = ec.fit(panel, compute_effects=False).idata["posterior"].to_dataset()
    np.testing.assert_array_equal(post["y_sigma_country"], raw["y_sigma_country"])
    x, r = post["y_country"].values, raw["y_country"].values
    se = np.sqrt((x.var(axis=(0, 1)) + r.var(axis=(0, 1))) / 200)  # ESS taken as 1/4 of draws
    assert np.all(np.abs(x.mean(axis=(0, 1)) - r.mean(axis=(0, 1))) < 4.5 * se)
    for name in ("y_country", "y_mission", "m_country", "m_beta_row"):
        assert _folded_ess(post, name) > 1.4 * _folded_ess(raw, name), name
    np.testing.assert_array_equal(post["y_beta_row"], raw["y_beta_row"])  # Bernoulli: NUTS's
