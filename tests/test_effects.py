"""Effects from the model's graph: pm.do agrees with g-computation; the quadrature is exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymc as pm
import pytest
from _specs import sim_spec
from scipy import stats
from scipy.special import expit

from embedcausal import counts, quadrature
from embedcausal.fitting import fit
from embedcausal.simulation import simulate


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "personal.csv"
    simulate("personal", seed=5, n_countries=30, n_missions=12).save(path)
    return fit(sim_spec(Path(path), within=False, disposition=False), draws=150, tune=200)


def mean_outcome(run, t: float, seed: int) -> np.ndarray:
    """Per posterior draw, the mean simulated participation under do(inst_ties = t)."""
    n = run.n_obs
    do_model = pm.do(run.model, {"inst_ties": np.full(n, t)})
    pp = pm.sample_posterior_predictive(
        run.idata,
        model=do_model,
        var_names=["personal_ties", "participation"],
        random_seed=seed,
        progressbar=False,
    )
    return pp["posterior_predictive"]["participation"].mean("obs").values.ravel()


def test_pm_do_reproduces_the_total_effect(run):
    t0, t1 = run.contrast
    diff = mean_outcome(run, t1, seed=1) - mean_outcome(run, t0, seed=2)
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    lib = float(run.idata["effects"]["total"].mean())
    assert abs(diff.mean() - lib) < 4 * se, (diff.mean(), lib, se)
    assert lib > 4 * se  # the effect exists, so agreeing is informative


def test_pm_do_sees_the_mediator_through_the_graph(run):
    # intervening on the treatment moves the mediator: its predictive mean shifts with t
    t0, t1 = run.contrast
    means = []
    for t in (t0, t1):
        do_model = pm.do(run.model, {"inst_ties": np.full(run.n_obs, t)})
        pp = pm.sample_posterior_predictive(
            run.idata,
            model=do_model,
            var_names=["personal_ties"],
            random_seed=3,
            progressbar=False,
        )
        means.append(float(pp["posterior_predictive"]["personal_ties"].mean()))
    assert means[1] > means[0]


@pytest.mark.parametrize("b", [0.0, 0.3, 0.9, 1.7, 3.5, 7.0])
def test_logistic_normal_integral_is_exact(b):
    rng = np.random.default_rng(0)
    alpha = rng.normal(-1, 2, size=(3, 400))
    gamma = np.full_like(alpha, 1.0)
    eta_m = rng.normal(0, 1, size=alpha.shape)
    sigma = np.full(3, b)
    got = quadrature.gaussian_mean(alpha, gamma, eta_m, 0.0, 1.0, sigma)
    x, w = np.polynomial.hermite_e.hermegauss(200)  # far more nodes than needed
    w = w / w.sum()
    a = alpha + eta_m
    ref = sum(wk * expit(a + b * xk) for xk, wk in zip(x, w, strict=True)).mean(axis=1)
    if b > 3:  # Gauss-Hermite converges slowly for wide integrands: integrate numerically
        from scipy.integrate import quad

        ref = np.array(
            [
                np.mean(
                    [
                        quad(lambda e, ai=ai: expit(ai + b * e) * stats.norm.pdf(e), -12, 12)[0]
                        for ai in row
                    ]
                )
                for row in a
            ]
        )
    np.testing.assert_allclose(got, ref, atol=1e-7)


def test_row_specific_slopes_are_integrated_row_by_row():
    rng = np.random.default_rng(1)
    alpha = rng.normal(size=(2, 50))
    gamma = rng.uniform(0.2, 2.0, size=alpha.shape)  # a varying slope: no shared table
    eta_m = rng.normal(size=alpha.shape)
    got = quadrature.gaussian_mean(alpha, gamma, eta_m, 0.5, 2.0, np.array([0.7, 0.7]))
    x, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    a = alpha + gamma * (0.5 + 2.0 * eta_m)
    b = gamma * 2.0 * 0.7
    ref = sum(wk * expit(a + b * xk) for xk, wk in zip(x, w, strict=True)).mean(axis=1)
    np.testing.assert_allclose(got, ref, atol=1e-8)


@pytest.mark.parametrize("family", ["poisson", "negbinomial"])
def test_count_mediator_sum_is_exact(family):
    rng = np.random.default_rng(2)
    alpha = rng.normal(-1, 1, size=(2, 30))
    gamma = np.full_like(alpha, 0.6)
    eta_m = rng.normal(0.5, 0.8, size=alpha.shape)
    disp = np.array([1.5, 4.0])
    got = counts.count_mean(alpha, gamma, eta_m, family=family, dispersion=disp)
    k = np.arange(0, 400)
    ref = np.zeros(2)
    for s in range(2):
        mu = np.exp(eta_m[s])[:, None]
        if family == "poisson":
            pmf = stats.poisson.pmf(k[None, :], mu)
        else:
            r = disp[s]
            pmf = stats.nbinom.pmf(k[None, :], r, r / (r + mu))
        f = expit(alpha[s][:, None] + gamma[s][:, None] * np.log1p(k[None, :]))
        ref[s] = (pmf * f).sum(axis=1).mean()
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_bernoulli_mediator_and_plain_means_are_exact():
    rng = np.random.default_rng(3)
    alpha, gamma, eta_m = (rng.normal(size=(2, 20)) for _ in range(3))
    p = expit(eta_m)
    ref = ((1 - p) * expit(alpha) + p * expit(alpha + gamma)).mean(axis=1)
    np.testing.assert_allclose(quadrature.bernoulli_mean(alpha, gamma, eta_m), ref, atol=1e-14)
    np.testing.assert_allclose(quadrature.plain_mean(alpha), expit(alpha).mean(axis=1), atol=1e-14)


def brute_count_mean(alpha, gamma, eta_m, family, disp, link, k_max):
    """Per draw, mean over rows of E[h(α + γ·log1p(M))] summed with scipy over 0..k_max."""
    h = expit if link == "logit" else stats.norm.cdf
    k = np.arange(k_max + 1, dtype=float)
    out = np.zeros(alpha.shape[0])
    for s in range(alpha.shape[0]):
        for i in range(alpha.shape[1]):
            mu = np.exp(eta_m[s, i])
            if family == "poisson":
                pmf = stats.poisson.pmf(k, mu)
            else:
                pmf = stats.nbinom.pmf(k, disp[s], disp[s] / (disp[s] + mu))
            assert 1.0 - pmf.sum() < 1e-13  # the reference's own support is wide enough
            out[s] += (pmf * h(alpha[s, i] + gamma[s, i] * np.log1p(k))).sum()
    return out / alpha.shape[1]


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("family", ["poisson", "negbinomial"])
@pytest.mark.parametrize("slopes", ["per_draw", "per_row"])
def test_count_arms_match_a_brute_force_sum(family, link, slopes):
    """All four arms of one kernel call against scipy's pmf summed to a huge support.

    Means from 0.01 to ~400 and dispersions down to 0.3 (a long negative-binomial tail:
    thousands of terms, past the kernel's table of K_TABLE powers). The kernel stops a row
    once less than COUNT_TAIL = 1e-9 of its mass is left, so it may differ by about that;
    the tolerance is 3e-9, and the same comparison fails with a tail bound of 1e-6.
    """
    rng = np.random.default_rng(7)
    n_draw, n_row = 3, 12
    a0 = rng.normal(-0.5, 1.5, size=(n_draw, n_row))
    da = rng.normal(0.4, 0.2, size=a0.shape)
    dm = rng.normal(0.3, 0.3, size=a0.shape)
    if slopes == "per_draw":  # the tabulated-powers path (logit only)
        g0 = np.repeat(rng.normal(0.0, 0.8, size=(n_draw, 1)), n_row, axis=1)
        g1 = g0 + 0.3
        # changes of the treatment shared by the rows of a draw but two (the kernel's
        # shortcut e^(-a0 - da) = e^(-a0)·e^(-da) and its exceptions)
        da[:] = da[:, :1]
        dm[:] = dm[:, :1]
        da[:, 3] += 0.1
        dm[:, 5] -= 0.2
    else:
        g0, g1 = rng.normal(0.0, 0.8, size=(2, n_draw, n_row))
    m0 = rng.uniform(np.log(0.01), np.log(400.0), size=a0.shape)
    disp = np.array([0.3, 1.5, 20.0])
    arms = [(0, 0), (1, 0), (1, 1), (0, 1)]
    got = counts.count_arms(a0, da, g0, g1, m0, dm, arms, family=family, dispersion=disp, link=link)
    for t, tm in arms:
        ref = brute_count_mean(
            a0 + t * da, (g0, g1)[t], m0 + tm * dm, family, disp, link, k_max=200_000
        )
        np.testing.assert_allclose(got[t, tm], ref, rtol=0, atol=3e-9)
        single = counts.count_mean(
            a0 + t * da, (g0, g1)[t], m0 + tm * dm, family=family, dispersion=disp, link=link
        )
        np.testing.assert_allclose(single, got[t, tm], rtol=0, atol=1e-14)
    # the comparison is sharp enough to see a looser truncation
    loose = counts._count(
        *(np.ascontiguousarray(v, dtype=float) for v in (a0, da, g0, g1, m0, dm, disp)),
        family == "negbinomial",
        1e-6,
        counts.K_TABLE,
        quadrature.LINKS[link],
        np.ones((2, 2), dtype=np.bool_),
    )
    ref = brute_count_mean(a0, g0, m0, family, disp, link, k_max=200_000)
    assert np.abs(loose[0, 0] - ref).max() > 3e-9
