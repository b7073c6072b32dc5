"""R-hat and ESS for all parameters at once (embedcausal.mixing) against ArviZ's own estimators."""

from __future__ import annotations

import numpy as np
import pytest
from arviz_base import from_dict

from embedcausal.diagnostics import diagnose, funnel
from embedcausal.mixing import _arviz, rhat_ess


def _chains(rng, k: int, c: int, d: int) -> np.ndarray:
    """AR(1) chains of k parameters, autocorrelations from -0.6 to 0.99, some chains shifted."""
    phi = rng.uniform(-0.6, 0.99, size=(k, 1))
    e = rng.normal(size=(k, c, d))
    x = np.empty_like(e)
    x[..., 0] = e[..., 0]
    for t in range(1, d):
        x[..., t] = phi * x[..., t - 1] + e[..., t]
    x += rng.normal(size=(k, c, 1)) * (rng.uniform(size=(k, 1, 1)) < 0.3)  # chains disagree
    x[0] = np.round(x[0])  # ties in the ranks
    x[1] = np.exp(2 * x[1])  # skewed
    return x


@pytest.mark.parametrize("shape", [(150, 4, 400), (25, 2, 101), (12, 1, 200), (10, 4, 7)])
def test_rhat_and_ess_are_arviz_to_1e_9(shape):
    x = _chains(np.random.default_rng(sum(shape)), *shape)
    for got, want in zip(rhat_ess(x), _arviz(x), strict=True):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9)


def test_constant_and_non_finite_parameters_are_arviz_too():
    x = _chains(np.random.default_rng(5), 6, 4, 300)
    x[2] = 1.5  # a stuck parameter
    x[3, 1, 7] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):  # ArviZ's 0/0 on the stuck one
        want_all = _arviz(x)
    for got, want in zip(rhat_ess(x), want_all, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9)  # NaN where ArviZ gives NaN


def test_diagnose_names_the_same_elements_as_before():
    # a fake posterior with dims: the worst elements are named with their coordinates
    rng = np.random.default_rng(2)
    good = rng.normal(size=(4, 500, 3))
    bad = rng.normal(size=(4, 500)) + np.array([0.0, 0.0, 0.0, 3.0])[:, None]
    idata = from_dict(
        {"posterior": {"a": good, "b": bad}},
        dims={"a": ["country"]},
        coords={"country": ["USA", "GBR", "FRA"]},
    )
    diag = diagnose(idata)
    assert diag.worst["r_hat"][0].startswith("b (")
    shifted = good.copy()
    shifted[3, :, 1] += 3.0  # one chain of GBR elsewhere: named by its coordinate
    named = diagnose(
        from_dict(
            {"posterior": {"a": shifted}},
            dims={"a": ["country"]},
            coords={"country": ["USA", "GBR", "FRA"]},
        )
    )
    assert [w.split(" (")[0] for w in named.worst["r_hat"]] == ["a[GBR]"]
    assert diag.max_r_hat > 1.3 and diag.min_ess_bulk < 100
    clean = diagnose(
        from_dict(
            {"posterior": {"a": good}},
            dims={"a": ["country"]},
            coords={"country": ["USA", "GBR", "FRA"]},
        )
    )
    assert clean.ok and clean.max_r_hat < 1.01


def _scaled(factor: float) -> np.ndarray:
    """300 independent normals at 4 x 500 draws, two of them with one chain's spread off."""
    x = np.random.default_rng(0).normal(size=(300, 4, 500))
    x[0, 0] *= factor
    x[1, 1] *= factor
    return np.moveaxis(x, 0, -1)


def test_advice_says_when_rhat_is_only_just_above_and_more_draws_is_the_fix():
    # R-hat 1.016 on 2 of 300, every other check passing: the signature of NUTS's noise at few
    # draws (docs/performance.md, "The R-hat floor of NUTS"); the advice says so and asks for
    # draws, not for a new parameterisation of the grouping
    diag = diagnose(from_dict({"posterior": {"y_a_country": _scaled(1.35)}}))
    assert diag.failed_checks == ["r_hat"] and 1.01 < diag.max_r_hat <= 1.02
    assert len(diag.advice) == 1
    assert "only R-hat fails, and only just" in diag.advice[0]
    assert "on 2 of 300 parameters" in diag.advice[0]
    assert "[sampler] draws = 1000 (now 500)" in diag.advice[0]
    # the flagged values read above the threshold they failed (1.016, not 1.02 or 1.01)
    assert all(float(w.split(" (")[1][:-1]) > 1.01 for w in diag.worst["r_hat"])
    assert all(len(w.split(" (")[1][:-1].split(".")[1]) == 3 for w in diag.worst["r_hat"])
    # chains that really disagree get the other advice
    far = diagnose(from_dict({"posterior": {"y_a_country": _scaled(2.0)}}))
    assert far.max_r_hat > 1.02
    assert not any("only just" in a for a in far.advice)
    assert any("parameterisation" in a for a in far.advice)


def _divergent_at(scale: np.ndarray, where: np.ndarray) -> dict:
    """A fake fit: a grouping's scale, another one, and divergent transitions at ``where``."""
    rng = np.random.default_rng(3)
    other = rng.gamma(4.0, 0.1, size=scale.shape)
    return from_dict(
        {
            "posterior": {"y_sigma_mission": scale, "y_sigma_country": other},
            "sample_stats": {"diverging": where},
        }
    )


def test_divergences_at_a_groupings_smallest_scales_name_that_grouping():
    # the coverage study's side-payment panel (seed 1): 4 divergent transitions, all at
    # y_sigma_mission's lowest 0.1-5.3 %; non-centring the missions took it to 0
    scale = np.random.default_rng(2).gamma(2.0, 0.1, size=(4, 500))
    low = scale <= np.quantile(scale, 0.02)
    first = np.argwhere(low)[:4]
    where = np.zeros_like(low)
    where[tuple(first.T)] = True
    diag = diagnose(_divergent_at(scale, where))
    assert diag.divergences == 4 and diag.failed_checks == ["divergences"]
    (advice,) = diag.advice
    assert "all sit at the smallest values of y_sigma_mission" in advice
    assert "model.parameterization = { mission = 'noncentered' }" in advice
    # divergences spread over the scale's range, or too few to tell, name no grouping
    spread = np.zeros_like(low)
    spread[:, [10, 200, 400]] = True
    for w in (spread, where & (np.cumsum(where.ravel()).reshape(where.shape) <= 2)):
        (advice,) = diagnose(_divergent_at(scale, w)).advice
        assert "y_sigma" not in advice and "GROUP = 'noncentered'" in advice
    # sampler statistics that do not line up with the posterior's draws: no guess, no error
    short = from_dict(
        {"posterior": {"y_sigma_mission": scale}, "sample_stats": {"diverging": where[:, :400]}}
    )
    assert funnel(short) is None
