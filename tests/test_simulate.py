"""Tests of the structural simulators and their ground truth (embedcausal.simulate)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedcausal.errors import EmbedcausalError
from embedcausal.simulation import DEFAULTS, MECHANISMS, Simulation, mediation_truth, simulate

COLUMNS = [
    "country",
    "region",
    "mission",
    "mission_year",
    "mission_type",
    "era",
    "participation",
    "inst_ties",
    "personal_ties",
    "side_payment",
    "threat",
    "hierarchy",
    "alliance",
]
STRING_COLUMNS = ["country", "region", "mission", "mission_type", "era"]
INT_COLUMNS = ["mission_year", "participation", "inst_ties", "alliance"]
FLOAT_COLUMNS = ["personal_ties", "side_payment", "threat", "hierarchy"]

# which effects each mechanism has (True) or rules out (False)
HAS_EFFECT = {
    "institutional": {"total": True, "nde": True, "nie": False},
    "personal": {"total": True, "nde": False, "nie": True},
    "disposition": {"total": False, "nde": False, "nie": False},
    "side_payment": {"total": True, "nde": False, "nie": True},
}


@pytest.fixture(scope="module")
def sims() -> dict[str, Simulation]:
    return {m: simulate(m, seed=3) for m in MECHANISMS}


# -- determinism and shape ------------------------------------------------------------------------
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_same_seed_same_output_other_seed_differs(mechanism: str) -> None:
    a = simulate(mechanism, seed=11, n_countries=20, n_missions=6)
    b = simulate(mechanism, seed=11, n_countries=20, n_missions=6)
    c = simulate(mechanism, seed=12, n_countries=20, n_missions=6)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.truth == b.truth
    assert json.dumps(a.truth) == json.dumps(b.truth)
    assert not a.data["personal_ties"].equals(c.data["personal_ties"])


def test_columns_and_types(sims: dict[str, Simulation]) -> None:
    for mechanism, sim in sims.items():
        d = sim.data
        assert list(d.columns) == COLUMNS
        assert "disposition" not in d.columns
        assert len(d) == 80 * 30
        for col in STRING_COLUMNS:
            assert pd.api.types.is_string_dtype(d[col]), (mechanism, col)
        for col in INT_COLUMNS:
            assert pd.api.types.is_integer_dtype(d[col]), (mechanism, col)
        for col in FLOAT_COLUMNS:
            assert pd.api.types.is_float_dtype(d[col]), (mechanism, col)
        assert not d.isna().any().any()
        assert set(d["participation"].unique()) == {0, 1}
        assert set(d["alliance"].unique()) <= {0, 1}
        assert (d["inst_ties"] >= 0).all()
        assert set(d["mission_type"]) == {"un_pko", "us_war"}
        assert d["country"].iloc[0] == "C001" and d["mission"].iloc[0] == "M01"
        assert 0.15 <= d["participation"].mean() <= 0.45, mechanism
        assert d.duplicated(["country", "mission"]).sum() == 0


def test_panel_structure(sims: dict[str, Simulation]) -> None:
    d = sims["personal"].data
    # countries nested in regions; alliance constant within country
    assert (d.groupby("country")["region"].nunique() == 1).all()
    assert d["region"].nunique() == 5
    assert (d.groupby("country")["alliance"].nunique() == 1).all()
    # mission attributes constant within mission; years sorted by mission label
    per_mission = d.groupby("mission")[["mission_year", "mission_type", "era"]].nunique()
    assert (per_mission == 1).all().all()
    years = d.groupby("mission")["mission_year"].first().sort_index()
    assert years.is_monotonic_increasing
    assert years.between(1950, 2014).all()
    era = np.where(d["mission_year"] <= 1989, "cold_war", "post_cold_war")
    assert (d["era"] == era).all()


def test_inst_ties_vary_within_country(sims: dict[str, Simulation]) -> None:
    for sim in sims.values():
        d = sim.data
        within = d["inst_ties"] - d.groupby("country")["inst_ties"].transform("mean")
        assert within.std() > 0.3 * d["inst_ties"].std()
        # nearly every country has more than one tie count over its missions
        assert (d.groupby("country")["inst_ties"].nunique() > 1).mean() > 0.9


def test_latent_disposition_constant_within_country(sims: dict[str, Simulation]) -> None:
    for sim in sims.values():
        assert sim.latent is not None
        u = sim.latent["disposition"].groupby(sim.data["country"]).nunique()
        assert (u == 1).all()
        assert sim.truth["latent"] == {"disposition": "constant within country"}


# -- the truth ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("seed", [0, 1])
def test_truth_zeros_and_nonzeros(mechanism: str, seed: int) -> None:
    t = simulate(mechanism, seed=seed).truth
    for effect, present in HAS_EFFECT[mechanism].items():
        if present:
            assert abs(t[effect]) > 0.02, (mechanism, effect, t[effect])
            assert t[effect] > 0
        else:
            assert abs(t[effect]) < 1e-12, (mechanism, effect, t[effect])
    assert t["total"] == pytest.approx(t["nde"] + t["nie"], abs=1e-15)
    if mechanism == "disposition":
        assert t["prop_mediated"] is None
    else:
        assert t["prop_mediated"] == pytest.approx(t["nie"] / t["total"])


def test_truth_keys_and_contrast(sims: dict[str, Simulation]) -> None:
    for mechanism, sim in sims.items():
        t = sim.truth
        json.loads(json.dumps(t, allow_nan=False))
        assert t["mechanism"] == mechanism
        assert (t["treatment"], t["outcome"], t["scale"]) == (
            "inst_ties",
            "participation",
            "probability",
        )
        assert t["mediator"] == ("side_payment" if mechanism == "side_payment" else "personal_ties")
        assert (t["seed"], t["n_countries"], t["n_missions"]) == (3, 80, 30)
        ties = sim.data["inst_ties"]
        assert t["contrast"]["from"] == float(np.percentile(ties, 25))
        assert t["contrast"]["to"] == float(np.percentile(ties, 75))
        assert (t["contrast"]["from_quantile"], t["contrast"]["to_quantile"]) == (0.25, 0.75)
        assert t["contrast"]["to"] > t["contrast"]["from"]
        assert "Gauss-Hermite" in t["definition"]
        assert set(DEFAULTS[mechanism]) == set(t["parameters"])
        assert all(type(v) is float for v in t["parameters"].values())


def test_effect_scale_multiplies_treatment_edges() -> None:
    zero = simulate("personal", seed=4, effect_scale=0.0).truth
    assert zero["total"] == zero["nde"] == zero["nie"] == 0.0
    base = simulate("institutional", seed=4).truth
    double = simulate("institutional", seed=4, effect_scale=2.0).truth
    assert double["parameters"]["y_inst_ties"] == 2 * base["parameters"]["y_inst_ties"]
    assert double["total"] > base["total"] > 0
    neg = simulate("side_payment", seed=4, effect_scale=-1.0).truth
    assert neg["total"] < -0.02


def test_params_override_and_are_recorded() -> None:
    sim = simulate("personal", seed=2, y_personal_ties=1.0, personal_sd=0.5)
    assert sim.truth["parameters"]["y_personal_ties"] == 1.0
    assert sim.truth["parameters"]["personal_sd"] == 0.5
    assert sim.truth["nie"] > simulate("personal", seed=2).truth["nie"]


def _mc_truth(
    sim: Simulation, n_draws: int, rng: np.random.Generator, *, plug_in: bool = False
) -> dict[str, float]:
    """Brute-force truth from the documented structural equations, by Monte Carlo.

    ``plug_in=True`` sets the mediator noise to zero instead (the mean mediator).
    """
    d, lat, p = sim.data, sim.latent, sim.truth["parameters"]
    assert lat is not None
    u = lat["disposition"].to_numpy()
    eta_rest = (
        p["y_intercept"]
        + p["y_threat"] * d["threat"].to_numpy()
        + p["y_alliance"] * d["alliance"].to_numpy()
        + p["y_disposition"] * u
        + p["y_us_war"] * (d["mission_type"] == "us_war").to_numpy()
        + (lat["re_country"] + lat["re_mission"] + lat["re_region"]).to_numpy()
    )
    personal = d["personal_ties"].to_numpy()
    if sim.truth["mediator"] == "personal_ties":
        mu0 = (
            p["personal_intercept"]
            + p["personal_threat"] * d["threat"].to_numpy()
            + p["personal_disposition"] * u
            + lat["re_personal"].to_numpy()
        )
        theta, sd, beta_m = p["personal_inst_ties"], p["personal_sd"], p["y_personal_ties"]
        eta0 = eta_rest + p["y_side_payment"] * d["side_payment"].to_numpy()
        observed_m = personal
        noise = lat["noise_personal"].to_numpy()
    else:
        mu0 = (
            p["side_intercept"]
            + p["side_personal_ties"] * personal
            + p["side_hierarchy"] * d["hierarchy"].to_numpy()
            + lat["re_side"].to_numpy()
        )
        theta, sd, beta_m = p["side_inst_ties"], p["side_sd"], p["y_side_payment"]
        eta0 = eta_rest + p["y_personal_ties"] * personal
        observed_m = d["side_payment"].to_numpy()
        noise = lat["noise_side"].to_numpy()
    # the reconstruction reproduces the observed mediator (consistency)
    ties = d["inst_ties"].to_numpy()
    np.testing.assert_allclose(mu0 + theta * ties + noise, observed_m, rtol=0, atol=1e-10)

    t0, t1 = sim.truth["contrast"]["from"], sim.truth["contrast"]["to"]
    eps = sd * rng.standard_normal((len(d), n_draws))  # common random numbers
    if plug_in:
        eps = np.zeros((len(d), 1))

    def e(t: float, t_m: float) -> float:
        m = mu0[:, None] + theta * t_m + eps
        return float(
            np.mean(1 / (1 + np.exp(-(eta0[:, None] + p["y_inst_ties"] * t + beta_m * m))))
        )

    e00, e10, e11 = e(t0, t0), e(t1, t0), e(t1, t1)
    return {"total": e11 - e00, "nde": e10 - e00, "nie": e11 - e10}


@pytest.mark.parametrize("mechanism", ["personal", "side_payment"])
def test_quadrature_truth_matches_monte_carlo(mechanism: str) -> None:
    # a strong mediator effect and noise so that integrating the noise out matters
    key = "y_personal_ties" if mechanism == "personal" else "y_side_payment"
    sim = simulate(mechanism, seed=5, n_countries=40, n_missions=20, **{key: 1.5})
    mc = _mc_truth(sim, n_draws=1000, rng=np.random.default_rng(99))
    for effect in ("total", "nde", "nie"):
        assert sim.truth[effect] == pytest.approx(mc[effect], abs=1e-3), effect
    # plugging in the mean mediator instead of integrating the noise out is visibly different,
    # so the agreement above is a real check of the integration
    flat = _mc_truth(sim, n_draws=1, rng=np.random.default_rng(0), plug_in=True)
    assert abs(flat["nie"] - sim.truth["nie"]) > 5e-3


def test_mediation_truth_with_both_paths_matches_monte_carlo() -> None:
    # direct and indirect paths at once, so the cross-world term E(t1, t0) is exercised
    rng = np.random.default_rng(8)
    eta0, mu0 = rng.normal(-1, 1, 500), rng.normal(0, 1, 500)
    beta_t, beta_m, theta, sd, t0, t1 = 0.3, 1.2, 0.5, 1.3, 1.0, 4.0
    got = mediation_truth(eta0, beta_t, beta_m, mu0, theta, sd, t0, t1)
    eps = sd * rng.standard_normal((500, 4000))

    def e(t: float, t_m: float) -> float:
        eta = eta0[:, None] + beta_t * t + beta_m * (mu0[:, None] + theta * t_m + eps)
        return float(np.mean(1 / (1 + np.exp(-eta))))

    e00, e10, e11 = e(t0, t0), e(t1, t0), e(t1, t1)
    assert got["nde"] == pytest.approx(e10 - e00, abs=1e-3)
    assert got["nie"] == pytest.approx(e11 - e10, abs=1e-3)
    assert got["nde"] > 0.05 and got["nie"] > 0.05
    assert got["total"] == pytest.approx(got["nde"] + got["nie"], abs=1e-15)
    # sd = 0: no noise to integrate, the plug-in formula is exact
    flat = mediation_truth(eta0, beta_t, beta_m, mu0, theta, 0.0, t0, t1)
    plug = 1 / (1 + np.exp(-(eta0 + beta_t * t1 + beta_m * (mu0 + theta * t0))))
    base = 1 / (1 + np.exp(-(eta0 + beta_t * t0 + beta_m * (mu0 + theta * t0))))
    assert flat["nde"] == pytest.approx(float(np.mean(plug - base)), abs=1e-12)


def test_disposition_spurious_pooled_but_not_within() -> None:
    d = simulate("disposition", seed=0).data.copy()
    pooled = smf.logit("participation ~ inst_ties + threat", d).fit(disp=0)
    assert pooled.params["inst_ties"] > 0
    assert pooled.pvalues["inst_ties"] < 1e-6
    # Mundlak: the country means absorb the time-invariant disposition
    d["ties_mean"] = d.groupby("country")["inst_ties"].transform("mean")
    d["threat_mean"] = d.groupby("country")["threat"].transform("mean")
    formula = "participation ~ inst_ties + ties_mean + threat + threat_mean + C(mission)"
    mundlak = smf.logit(formula, d).fit(disp=0)
    assert mundlak.pvalues["inst_ties"] > 0.05
    assert abs(mundlak.params["inst_ties"]) < 0.25 * pooled.params["inst_ties"]
    assert mundlak.params["ties_mean"] > 0  # the between-country association remains


def test_institutional_within_association_is_real() -> None:
    d = simulate("institutional", seed=0).data.copy()
    d["ties_mean"] = d.groupby("country")["inst_ties"].transform("mean")
    d["threat_mean"] = d.groupby("country")["threat"].transform("mean")
    formula = "participation ~ inst_ties + ties_mean + threat + threat_mean + C(mission)"
    fit = smf.logit(formula, d).fit(disp=0)
    assert fit.params["inst_ties"] > 0 and fit.pvalues["inst_ties"] < 1e-3


# -- invariants over seeds and sizes --------------------------------------------------------------
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mechanism=st.sampled_from(MECHANISMS),
    seed=st.integers(0, 2**32 - 1),
    n_countries=st.integers(10, 60),
    n_missions=st.integers(3, 25),
    effect_scale=st.floats(-2, 2, allow_nan=False),
)
def test_invariants(
    mechanism: str, seed: int, n_countries: int, n_missions: int, effect_scale: float
) -> None:
    sim = simulate(
        mechanism,
        seed=seed,
        n_countries=n_countries,
        n_missions=n_missions,
        effect_scale=effect_scale,
    )
    d, t = sim.data, sim.truth
    assert len(d) == n_countries * n_missions
    assert d["country"].nunique() == n_countries and d["mission"].nunique() == n_missions
    assert t["total"] == pytest.approx(t["nde"] + t["nie"], abs=1e-15)
    for effect, present in HAS_EFFECT[mechanism].items():
        if not present:
            assert abs(t[effect]) < 1e-12
    assert all(abs(t[k]) <= 1 for k in ("total", "nde", "nie"))
    json.dumps(t, allow_nan=False)


# -- saving ---------------------------------------------------------------------------------------
def test_save_writes_csv_and_truth(tmp_path) -> None:
    sim = simulate("side_payment", seed=7, n_countries=12, n_missions=4)
    data_path, truth_path = sim.save(tmp_path / "sub" / "panel.csv")
    assert data_path == tmp_path / "sub" / "panel.csv"
    assert truth_path == tmp_path / "sub" / "panel.truth.json"
    assert json.loads(truth_path.read_text()) == sim.truth
    back = pd.read_csv(data_path)
    assert list(back.columns) == COLUMNS
    pd.testing.assert_frame_equal(back, sim.data, check_dtype=False, rtol=1e-12)
    assert sorted(p.name for p in data_path.parent.iterdir()) == ["panel.csv", "panel.truth.json"]
    # overwriting works and leaves no temporary files
    sim.save(str(data_path))
    assert len(list(data_path.parent.iterdir())) == 2


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"mechanism": "dispositional"}, ["mechanism", "dispositional", "institutional"]),
        ({"mechanism": "personal", "n_countries": 5}, ["n_countries", "5", ">= 10"]),
        ({"mechanism": "personal", "n_missions": 2}, ["n_missions", "2", ">= 3"]),
        ({"mechanism": "personal", "n_countries": 20.0}, ["n_countries", "20.0", "integer"]),
        ({"mechanism": "personal", "seed": -1}, ["seed", "-1"]),
        ({"mechanism": "personal", "effect_scale": float("nan")}, ["effect_scale", "nan"]),
        ({"mechanism": "personal", "y_personal_tie": 1.0}, ["y_personal_tie", "y_personal_ties"]),
        ({"mechanism": "personal", "personal_sd": -1.0}, ["personal_sd", "-1.0", ">= 0"]),
        ({"mechanism": "personal", "y_inst_ties": 0.3}, ["y_inst_ties", "structural zero"]),
        ({"mechanism": "disposition", "y_personal_ties": 1}, ["y_personal_ties", "disposition"]),
        ({"mechanism": "institutional", "ties_intercept": 40.0}, ["ties_", "log rate"]),
    ],
)
def test_bad_input_raises_one_line_error(kwargs: dict, words: list[str]) -> None:
    mechanism = kwargs.pop("mechanism")
    with pytest.raises(EmbedcausalError) as info:
        simulate(mechanism, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg
    assert isinstance(info.value, ValueError)
