"""Outcome families: probit and Gaussian outcomes, from the kernels to recovered effects.

The data are simulated here with numpy: ``x ~ N(0, 1)``, a binary treatment ``t``, a Gaussian
mediator ``m = a_m + b_t·t + b_x·x + σ_m·ε`` and an outcome whose linear predictor is
``lin = α + β_t·t + (β_m + β_tm·t)·m + β_x·x`` (probit: ``P(y = 1) = Φ(lin)``; Gaussian:
``y = lin + σ_y·ε``; ``β_tm ≠ 0`` with ``model.interaction``). The true effects are then
closed-form: ``E(t, t') = mean_i Φ(lin_i(t, μ_m(t', x_i)) / sqrt(1 + (β_m + β_tm·t)²σ_m²))``
for the probit, ``mean_i lin_i(t, μ_m(t', x_i))`` for the Gaussian.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from embedcausal import counts, quadrature
from embedcausal.effects import gcomp
from embedcausal.errors import DataError, SpecError
from embedcausal.estimands import effects_table
from embedcausal.fitting import fit
from embedcausal.likelihoods import outcome_scale
from embedcausal.models import build_model, mediator_scale
from embedcausal.plan import design
from embedcausal.spec import ModelSpec

#: the simulation's parameters
A_M, B_T, B_X, S_M = 0.5, 0.8, 0.3, 1.0
ALPHA, BETA_T, BETA_M, BETA_X, S_Y = -0.3, 0.4, 0.5, 0.2, 0.7


def simulate(family: str, n: int, seed: int, tm: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, size=n).astype(float)
    m = A_M + B_T * t + B_X * x + S_M * rng.normal(size=n)
    lin = ALPHA + BETA_T * t + (BETA_M + tm * t) * m + BETA_X * x
    if family == "probit":
        y = (rng.uniform(size=n) < stats.norm.cdf(lin)).astype(int)
    else:
        y = lin + S_Y * rng.normal(size=n)
    return pd.DataFrame({"t": t, "m": m, "x": x, "y": y})


def truth(family: str, x: np.ndarray, tm: float = 0.0) -> dict[str, float]:
    """The sample-average natural effects of the simulation, given the rows' ``x``."""

    def e(t: float, t_m: float) -> float:
        slope = BETA_M + tm * t
        lin = ALPHA + BETA_T * t + slope * (A_M + B_T * t_m + B_X * x) + BETA_X * x
        if family == "probit":
            return float(stats.norm.cdf(lin / np.sqrt(1 + (slope * S_M) ** 2)).mean())
        return float(lin.mean())

    return {
        "total": e(1, 1) - e(0, 0),
        "nde": e(1, 0) - e(0, 0),
        "nie": e(1, 1) - e(1, 0),
        "nde_treated": e(1, 1) - e(0, 1),
        "nie_control": e(0, 1) - e(0, 0),
    }


def spec_for(
    family: str, path, interaction: bool = False, four_way: float | None = None, **sampler
) -> ModelSpec:
    model: dict = {"varying": [], "interaction": interaction}
    model.update({"link": "probit"} if family == "probit" else {"family": "gaussian"})
    raw = {
        "name": f"{family} outcome",
        "data": {"path": path.name},
        "dag": {"edges": ["t -> m", "m -> y", "t -> y", "x -> t", "x -> m", "x -> y"]},
        "estimand": {
            "treatment": "t",
            "mediator": "m",
            "outcome": "y",
            **({"four_way": four_way} if four_way is not None else {}),
        },
        "model": model,
        "sampler": {"draws": 200, "tune": 200, "chains": 2, "seed": 5, **sampler},
    }
    return ModelSpec.from_dict(raw, base_dir=path.parent)


def true_posterior(d, family: str, draws: int = 3, tm: float = 0.0) -> xr.DataTree:
    """A posterior whose every draw is the simulation's parameters, on the model's scales."""
    data = d.data
    y_c, y_s = outcome_scale(d)
    raw_y = {"t": BETA_T, "m": BETA_M, "x": BETA_X, "t:m": tm}
    beta_y = np.array([raw_y[p.name] * p.scale for p in data.y_predictors]) / y_s
    b0_y = (ALPHA + sum(raw_y[p.name] * p.center for p in data.y_predictors) - y_c) / y_s
    m_c, m_s = mediator_scale(d)
    raw_m = {"t": B_T, "x": B_X}
    beta_m = np.array([raw_m[p.node] * p.scale for p in data.m_predictors]) / m_s
    b0_m = (A_M + sum(raw_m[p.node] * p.center for p in data.m_predictors) - m_c) / m_s
    values = {
        "y_b0": b0_y,
        "y_beta": beta_y,
        "m_b0": b0_m,
        "m_beta": beta_m,
        "m_sigma": S_M / m_s,
        "y_sigma": S_Y / y_s,
    }
    post = {}
    for k, v in values.items():
        v = np.asarray(v, dtype=float)
        dims = ("chain", "draw", *(["y_term"] if k == "y_beta" else []))
        dims = (*dims, *(["m_term"] if k == "m_beta" else []))
        post[k] = (dims, np.broadcast_to(v, (1, draws, *v.shape)).copy())
    coords = {"chain": [0], "draw": np.arange(draws)}
    return xr.DataTree.from_dict({"posterior": xr.Dataset(post, coords=coords)})


@pytest.mark.parametrize("family", ["probit", "gaussian"])
def test_gcomp_at_the_true_parameters_is_the_true_effect(tmp_path, family):
    frame = simulate(family, 300, seed=1)
    frame.to_csv(tmp_path / "d.csv", index=False)
    d = design(spec_for(family, tmp_path / "d.csv"))
    want = truth(family, frame["x"].to_numpy())
    del want["nde_treated"], want["nie_control"]  # reported with model.interaction only
    assert d.contrast == (0.0, 1.0)  # a binary treatment
    free = {v.name for v in build_model(d).free_RVs}
    assert free == {"y_b0", "y_beta", "m_b0", "m_beta", "m_sigma"} | (
        {"y_sigma"} if family == "gaussian" else set()
    )
    eff = gcomp(true_posterior(d, family), d)
    assert "nde_treated" not in eff
    for name, value in want.items():
        np.testing.assert_allclose(eff[name].values, value, atol=1e-7, err_msg=name)
    assert eff.attrs["scale"] == ("probability" if family == "probit" else "outcome units")


@pytest.mark.parametrize("family", ["probit", "gaussian"])
def test_interaction_gives_both_reference_levels(tmp_path, family):
    tm = 0.6
    frame = simulate(family, 300, seed=4, tm=tm)
    frame.to_csv(tmp_path / "d.csv", index=False)
    d = design(spec_for(family, tmp_path / "d.csv", interaction=True))
    assert [p.name for p in d.data.y_predictors][-1] == "t:m"
    eff = gcomp(true_posterior(d, family, tm=tm), d)
    want = truth(family, frame["x"].to_numpy(), tm=tm)
    for name, value in want.items():
        np.testing.assert_allclose(eff[name].values, value, atol=1e-7, err_msg=name)
    # with the interaction the reference levels differ (ACME(treated) > ACME(control) here)
    assert want["nie"] - want["nie_control"] > 0.03
    np.testing.assert_allclose(eff["nde_treated"] + eff["nie_control"], eff["total"], atol=1e-12)
    table = effects_table(eff).set_index("effect")
    assert table.loc["nie_control", "reference"].startswith("ACME(control), pure NIE")
    assert table.loc["nde_treated", "reference"].startswith("ADE(treated), total NDE")


@pytest.mark.parametrize("family", ["probit", "gaussian"])
def test_four_way_decomposition(tmp_path, family):
    tm, m_star = 0.6, 1.5
    frame = simulate(family, 200, seed=6, tm=tm)
    frame.to_csv(tmp_path / "d.csv", index=False)
    d = design(spec_for(family, tmp_path / "d.csv", interaction=True, four_way=m_star))
    eff = gcomp(true_posterior(d, family, tm=tm), d)
    x = frame["x"].to_numpy()
    lin1 = ALPHA + BETA_T + (BETA_M + tm) * m_star + BETA_X * x
    lin0 = ALPHA + BETA_M * m_star + BETA_X * x
    h = stats.norm.cdf if family == "probit" else (lambda v: v)
    np.testing.assert_allclose(eff["cde"].values, np.mean(h(lin1) - h(lin0)), atol=1e-7)
    parts = eff["cde"] + eff["int_ref"] + eff["int_med"] + eff["pie"]
    np.testing.assert_allclose(parts.values, eff["total"].values, atol=1e-12)
    np.testing.assert_allclose(eff["pie"].values, eff["nie_control"].values)
    table = effects_table(eff).set_index("effect")
    assert "M set to m* = 1.5" in table.loc["cde", "reference"]


def test_interaction_needs_a_mediator(tmp_path):
    simulate("probit", 20, seed=0).to_csv(tmp_path / "d.csv", index=False)
    raw = spec_for("probit", tmp_path / "d.csv", interaction=True).raw
    raw["estimand"] = {"treatment": "t", "outcome": "y"}
    with pytest.raises(SpecError) as exc:
        ModelSpec.from_dict(raw, base_dir=tmp_path, check_files=False)
    assert "model.interaction" in str(exc.value) and "estimand.mediator" in str(exc.value)


@pytest.mark.parametrize("b", [0.0, 0.8, 2.5])
def test_probit_and_identity_kernels_are_exact(b):
    rng = np.random.default_rng(0)
    alpha = rng.normal(-0.5, 1.5, size=(2, 200))
    gamma = np.full_like(alpha, 1.0)
    eta_m = rng.normal(size=alpha.shape)
    sigma = np.full(2, b)
    a = alpha + eta_m
    # E[Φ(A + Bε)] = Φ(A / sqrt(1 + B²)); E[A + Bε] = A
    probit = quadrature.gaussian_mean(alpha, gamma, eta_m, 0.0, 1.0, sigma, link="probit")
    np.testing.assert_allclose(probit, stats.norm.cdf(a / np.sqrt(1 + b * b)).mean(1), atol=1e-7)
    ident = quadrature.gaussian_mean(alpha, gamma, eta_m, 0.0, 1.0, sigma, link="identity")
    np.testing.assert_allclose(ident, a.mean(1), atol=1e-9)
    np.testing.assert_allclose(
        quadrature.plain_mean(alpha, "probit"), stats.norm.cdf(alpha).mean(1), atol=1e-14
    )
    p = 1 / (1 + np.exp(-eta_m))
    ref = ((1 - p) * stats.norm.cdf(alpha) + p * stats.norm.cdf(alpha + gamma)).mean(1)
    got = quadrature.bernoulli_mean(alpha, gamma, eta_m, link="probit")
    np.testing.assert_allclose(got, ref, atol=1e-13)


def test_count_mediator_with_a_probit_outcome_sums_exactly():
    rng = np.random.default_rng(2)
    alpha = rng.normal(-1, 1, size=(2, 30))
    gamma = np.full_like(alpha, 0.6)
    eta_m = rng.normal(0.5, 0.8, size=alpha.shape)
    got = counts.count_mean(alpha, gamma, eta_m, family="poisson", link="probit")
    k = np.arange(0, 400)
    ref = [
        (
            stats.poisson.pmf(k[None, :], np.exp(eta_m[s])[:, None])
            * stats.norm.cdf(alpha[s][:, None] + gamma[s][:, None] * np.log1p(k[None, :]))
        )
        .sum(axis=1)
        .mean()
        for s in range(2)
    ]
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_gaussian_outcome_takes_continuous_values_and_probit_needs_bernoulli(tmp_path):
    frame = simulate("gaussian", 50, seed=3)
    frame.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match=r"must be 0/1.*model.family = 'gaussian'"):
        design(spec_for("probit", tmp_path / "d.csv"))
    raw = spec_for("gaussian", tmp_path / "d.csv").raw
    with pytest.raises(SpecError) as exc:
        ModelSpec.from_dict(
            {**raw, "model": {"family": "gaussian", "link": "probit"}}, base_dir=tmp_path
        )
    msg = str(exc.value)
    assert "model.link" in msg and "'probit'" in msg and "\n" not in msg


@pytest.mark.slow
@pytest.mark.parametrize("family", ["probit", "gaussian"])
def test_recovery_on_simulated_data(tmp_path, family):
    """Fitted effects within 3 posterior SDs (+0.01) of the sample-average truth, n = 800."""
    frame = simulate(family, 800, seed=0)
    frame.to_csv(tmp_path / "d.csv", index=False)
    d = design(spec_for(family, tmp_path / "d.csv"))
    start = time.perf_counter()
    run = fit(d, progress=False)
    assert time.perf_counter() - start < 600
    table = run.effects.set_index("effect")
    # without an interaction the run reports one reference level (nde = ADE(control),
    # nie = ACME(treated)); both levels: tests/test_published_framing.py (both_levels=True)
    assert {"total", "nde", "nie"} <= set(table.index)
    for name, value in truth(family, frame["x"].to_numpy()).items():
        if name not in table.index:
            continue
        est, sd = table.loc[name, "mean"], table.loc[name, "sd"]
        assert abs(est - value) < 3 * sd + 0.01, (name, est, sd, value)


#: true sum-zero cutpoints of the ordered mediator
CUTS = np.array([-1.0, 0.2, 0.8])


def simulate_ordered(n: int, seed: int) -> pd.DataFrame:
    """A binary treatment ``t``, an ordinal mediator ``m`` in 0..3 (ordered logit: latent
    ``A_M + B_T·t + B_X·x`` plus logistic noise, cut at :data:`CUTS`) and a Bernoulli-logit
    outcome ``P(y = 1) = logit⁻¹(ALPHA + BETA_T·t + BETA_M·m + BETA_X·x)``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, size=n).astype(float)
    latent = A_M + B_T * t + B_X * x + rng.logistic(size=n)
    m = (latent[:, None] > CUTS[None, :]).sum(axis=1).astype(float)
    lin = ALPHA + BETA_T * t + BETA_M * m + BETA_X * x
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-lin))).astype(int)
    return pd.DataFrame({"t": t, "m": m, "x": x, "y": y})


def ordered_mean(x: np.ndarray, tt: float, t_m: float) -> float:
    """``E(tt, t_m) = mean_i sum_k P(M = k | t_m, x_i) · logit⁻¹(lin_i(tt, k))``, exactly: the
    sum runs over the four categories of the ordered-logit mediator."""
    n = len(x)
    ge = 1 / (1 + np.exp(-((A_M + B_T * t_m + B_X * x)[:, None] - CUTS[None, :])))  # P(M > k)
    ge = np.column_stack([np.ones(n), ge, np.zeros(n)])
    p = ge[:, :-1] - ge[:, 1:]
    lin = ALPHA + BETA_T * tt + BETA_M * np.arange(4)[None, :] + BETA_X * x[:, None]
    return float((p / (1 + np.exp(-lin))).sum(axis=1).mean())


def ordered_truth(x: np.ndarray) -> dict[str, float]:
    """The sample-average natural effects of :func:`simulate_ordered`, given the rows' ``x``."""
    e = {(a, b): ordered_mean(x, a, b) for a in (0.0, 1.0) for b in (0.0, 1.0)}
    return {
        "total": e[1, 1] - e[0, 0],
        "nde": e[1, 0] - e[0, 0],
        "nie": e[1, 1] - e[1, 0],
    }


def test_ordered_mediator_kernel_sums_exactly():
    rng = np.random.default_rng(7)
    alpha, gamma, eta_m = (rng.normal(size=(2, 25)) for _ in range(3))
    cut = np.array([CUTS, CUTS + 0.3])
    got = quadrature.ordered_mean(alpha, gamma, eta_m, cut, link="probit")
    for s in range(2):
        upper = 1 / (1 + np.exp(-(eta_m[s][:, None] - cut[s][None, :])))  # P(M >= k + 1)
        ge = np.column_stack([np.ones(25), upper, np.zeros(25)])
        p = ge[:, :-1] - ge[:, 1:]
        f = stats.norm.cdf(alpha[s][:, None] + gamma[s][:, None] * np.arange(4)[None, :])
        np.testing.assert_allclose(got[s], (p * f).sum(axis=1).mean(), atol=1e-13)


def test_ordered_mediator_gcomp_at_the_true_parameters(tmp_path):
    frame = simulate_ordered(300, seed=8)
    frame.to_csv(tmp_path / "d.csv", index=False)
    raw = spec_for("probit", tmp_path / "d.csv").raw
    raw["model"] = {"varying": [], "mediator_family": "ordered"}
    d = design(ModelSpec.from_dict(raw, base_dir=tmp_path))
    assert "m_cutpoints_raw" in {v.name for v in build_model(d).free_RVs}
    data = d.data
    raw_y = {"t": BETA_T, "m": BETA_M, "x": BETA_X}
    raw_m = {"t": B_T, "x": B_X}
    post = {
        "y_b0": ALPHA + sum(raw_y[p.name] * p.center for p in data.y_predictors),
        "y_beta": np.array([raw_y[p.name] * p.scale for p in data.y_predictors]),
        "m_b0": A_M + sum(raw_m[p.name] * p.center for p in data.m_predictors),
        "m_beta": np.array([raw_m[p.name] * p.scale for p in data.m_predictors]),
        "m_cutpoints": CUTS,
    }
    dims = {"y_beta": ["y_term"], "m_beta": ["m_term"], "m_cutpoints": ["cut"]}
    ds = xr.Dataset(
        {
            k: (("chain", "draw", *dims.get(k, [])), np.broadcast_to(v, (1, 2, *np.shape(v))))
            for k, v in post.items()
        },
        coords={"chain": [0], "draw": [0, 1]},
    )
    eff = gcomp(xr.DataTree.from_dict({"posterior": ds}), d)
    true = ordered_truth(frame["x"].to_numpy())
    np.testing.assert_allclose(eff["nde"].values, true["nde"], atol=1e-10)
    np.testing.assert_allclose(eff["nie"].values, true["nie"], atol=1e-10)


#: seeds of the ordered mediator's recovery test, and the tolerance in posterior SDs
ORDERED_SEEDS, ORDERED_SDS = (0, 1, 2), 3.0


@pytest.mark.slow
def test_ordered_mediator_recovery(tmp_path):
    """An ordered-logit mediator fitted on 500 simulated rows (300 draws x 2 chains), three
    seeds: total, NDE and NIE within 3 posterior SDs of the exact sample-average truth
    (:func:`ordered_truth`), the cutpoints within 3 SDs of :data:`CUTS`, the NIE detected,
    the diagnostics passed."""
    for seed in ORDERED_SEEDS:
        frame = simulate_ordered(500, seed)
        frame.to_csv(tmp_path / "d.csv", index=False)
        raw = spec_for("probit", tmp_path / "d.csv", draws=300, tune=300, seed=seed).raw
        raw["model"] = {"varying": [], "mediator_family": "ordered"}  # a logit outcome
        run = fit(design(ModelSpec.from_dict(raw, base_dir=tmp_path)), progress=False)
        assert run.diagnostics.ok, (seed, run.diagnostics.problems)
        table = run.effects.set_index("effect")
        true = ordered_truth(frame["x"].to_numpy())
        for name, value in true.items():
            est, sd = table.loc[name, "mean"], table.loc[name, "sd"]
            assert abs(est - value) < ORDERED_SDS * sd, (seed, name, est, sd, value)
        assert table.loc["nie", "hdi_low"] > 0, (seed, table.loc["nie"].to_dict())
        cuts = run.idata["posterior"]["m_cutpoints"]
        mean, sd = cuts.mean(("chain", "draw")).values, cuts.std(("chain", "draw")).values
        assert (np.abs(mean - CUTS) < ORDERED_SDS * sd).all(), (seed, mean, sd)


def test_ordered_mediator_must_be_coded_from_zero(tmp_path):
    frame = simulate("probit", 40, seed=9)
    frame["m"] = np.where(frame["m"] > 0.5, 2.0, 1.0)  # categories 1, 2: not 0..K-1
    frame.to_csv(tmp_path / "d.csv", index=False)
    raw = spec_for("probit", tmp_path / "d.csv").raw
    raw["model"] = {"varying": [], "mediator_family": "ordered"}
    with pytest.raises(DataError, match=r"'m' must hold the categories 0, 1, …, K-1"):
        design(ModelSpec.from_dict(raw, base_dir=tmp_path))
