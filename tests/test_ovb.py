"""Cinelli & Hazlett OVB: the paper's Darfur numbers, a direct OLS, and the formulas' identities.

Reference values are those of sensemakr's own test suite for the Darfur example
(``carloscinelli/sensemakr``, ``tests/testthat/test-02-darfur.R``), printed rounded in
Cinelli & Hazlett (2020), §5–6 (estimate 0.0973, se 0.0233, t 4.18, R²(Y~D|X) 2.19 %,
RV 13.88 %, RV_α 7.63 %; bounds 1x/2x/3x female).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from embedcausal.errors import DataError, EmbedcausalError
from embedcausal.sensitivity import OVBResult, ovb
from embedcausal.sensitivity.ovb_regression import fit_ols, group_partial_r2
from embedcausal.sensitivity.ovb_statistics import (
    adjusted_se,
    adjusted_t,
    benchmark_bound,
    bias_adjusted_estimate,
    partial_r2,
    robustness_value,
)

DARFUR = Path(__file__).parent / "data" / "darfur.csv"
COVS = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female"]
DARFUR_ARGS = dict(
    outcome="peacefactor",
    treatment="directlyharmed",
    covariates=COVS,
    fixed_effects=["village"],
    benchmark=["female"],
    kd=[1, 2, 3],
)


@pytest.fixture(scope="module")
def darfur_data() -> pd.DataFrame:
    return pd.read_csv(DARFUR)


@pytest.fixture(scope="module")
def darfur(darfur_data) -> OVBResult:
    return ovb(darfur_data, **DARFUR_ARGS)


# -- the published Darfur example ---------------------------------------------------------------
def test_darfur_published_statistics(darfur):
    # sensemakr's values, to the digits it publishes them (its own tolerance is 1e-5)
    assert darfur.estimate == pytest.approx(0.09731582, abs=5e-9)
    assert darfur.se == pytest.approx(0.02325654, abs=5e-9)
    assert darfur.t_stat == pytest.approx(4.18445, abs=5e-6)
    assert darfur.dof == 783
    assert darfur.partial_r2 == pytest.approx(0.02187309, abs=5e-9)
    assert darfur.rv_q == pytest.approx(0.1387764, abs=5e-8)
    assert darfur.rv_qa == pytest.approx(0.07625797, abs=5e-9)
    # partial Cohen's f² = R²/(1 − R²)
    assert darfur.partial_r2 / (1 - darfur.partial_r2) == pytest.approx(0.02236222, abs=5e-9)


def test_darfur_female_bounds(darfur):
    b = darfur.bounds
    assert b["bound_label"].tolist() == ["1x female", "2x female", "3x female"]
    # sensemakr's full-precision values: agreement to floating-point precision
    expected = {
        "r2dz_x": [0.00916428667504862, 0.0183285733500972, 0.0274928600251459],
        "r2yz_dx": [0.12464092303637, 0.249324064199975, 0.374050471038094],
        "adjusted_estimate": [0.0752202712144491, 0.0529151723844518, 0.0303960234641548],
        "adjusted_se": [0.0218733277437572, 0.0203500620779637, 0.0186700648170924],
        "adjusted_t": [3.43890386024675, 2.60024623913809, 1.62806202131271],
    }
    for col, values in expected.items():
        np.testing.assert_allclose(b[col], values, rtol=1e-9, err_msg=col)


def test_darfur_intervals(darfur):
    b = darfur.bounds
    # our interval uses t with dof − 1 (the adjusted regression has one more regressor), as
    # sensemakr's adjusted_ci() and RV_{q,α} do ...
    crit = stats.t.ppf(0.975, darfur.dof - 1)
    np.testing.assert_allclose(
        b["adjusted_lower"], b["adjusted_estimate"] - crit * b["adjusted_se"]
    )
    np.testing.assert_allclose(
        b["adjusted_upper"], b["adjusted_estimate"] + crit * b["adjusted_se"]
    )
    # ... while sensemakr's printed bounds table uses dof: 8.5e-8 apart, its values recovered
    crit_dof = stats.t.ppf(0.975, darfur.dof)
    np.testing.assert_allclose(
        b["adjusted_estimate"] - crit_dof * b["adjusted_se"],
        [0.032282966, 0.012968035, -0.006253282],
        atol=5e-10,
    )
    np.testing.assert_allclose(
        b["adjusted_estimate"] + crit_dof * b["adjusted_se"],
        [0.11815758, 0.09286231, 0.06704533],
        atol=5e-9,
    )
    assert (crit - crit_dof) * b["adjusted_se"].max() < 1e-7
    # 3x female is the first bound whose interval includes zero
    assert (b["adjusted_lower"] > 0).tolist() == [True, True, False]


def test_darfur_negated_treatment_mirrors(darfur_data, darfur):
    flipped = darfur_data.assign(directlyharmed=-darfur_data["directlyharmed"])
    res = ovb(flipped, **DARFUR_ARGS)
    assert res.estimate == pytest.approx(-darfur.estimate, rel=1e-10)
    assert res.rv_q == pytest.approx(darfur.rv_q, rel=1e-10)
    np.testing.assert_allclose(res.bounds["adjusted_estimate"], -darfur.bounds["adjusted_estimate"])
    np.testing.assert_allclose(res.bounds["adjusted_lower"], -darfur.bounds["adjusted_upper"])


def test_darfur_group_partial_r2(darfur_data):
    # sensemakr: group_partial_r2(model, covariates = c("directlyharmed", "female")) = 0.1350435
    X = pd.concat(
        [
            darfur_data[["directlyharmed", *COVS]].astype(float),
            pd.get_dummies(darfur_data["village"], drop_first=True, dtype=float),
        ],
        axis=1,
    )
    fit = fit_ols(darfur_data["peacefactor"].to_numpy(float), X, "outcome")
    assert group_partial_r2(fit, ["directlyharmed", "female"]) == pytest.approx(0.1350435, abs=5e-8)
    assert group_partial_r2(fit, ["directlyharmed"]) == pytest.approx(0.02187309, abs=5e-9)


def test_darfur_published_identities(darfur):
    args = (darfur.estimate, darfur.se, darfur.dof)
    # an extreme confounder: R²(Y~Z|D,X) = 1 and R²(D~Z|X) = R²(Y~D|X) explains it all away
    assert bias_adjusted_estimate(*args, darfur.partial_r2, 1.0) == pytest.approx(0, abs=1e-12)
    assert bias_adjusted_estimate(*args, darfur.rv_q, darfur.rv_q) == pytest.approx(0, abs=1e-12)
    # at RV_{q=1,α=0.05} the adjusted t-value is the critical value with dof − 1
    t_rv = adjusted_t(*args, darfur.rv_qa, darfur.rv_qa)
    assert t_rv == pytest.approx(stats.t.ppf(0.975, darfur.dof - 1), rel=1e-10)


# -- against a direct OLS -----------------------------------------------------------------------
def _simulated(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2, z = rng.normal(size=(3, n))
    g = rng.choice(list("abcd"), size=n)
    country = rng.integers(0, 5, size=n)
    d = 0.5 * x1 + 0.4 * z + (g == "c") * 0.6 + 0.2 * country + rng.normal(size=n)
    y = 0.3 * d + 0.4 * x1 - 0.2 * x2 + 0.5 * z + (g == "b") * 0.5 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "x1": x1, "x2": x2, "z": z, "g": g, "country": country})


def _sm_design(df: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    dummies = [
        pd.get_dummies(df[c].astype(str), prefix=c, drop_first=True, dtype=float)
        for c in categorical
    ]
    return sm.add_constant(pd.concat([df[numeric].astype(float), *dummies], axis=1))


def _r2_drop(y: np.ndarray, X: pd.DataFrame, drop: list[str]) -> float:
    """Partial R² of the columns ``drop`` by comparing the residual sums of squares."""
    rss_full = sm.OLS(y, X).fit().ssr
    rss_restricted = sm.OLS(y, X.drop(columns=drop)).fit().ssr
    return (rss_restricted - rss_full) / rss_restricted


def test_matches_direct_ols_and_fwl():
    df = _simulated()
    # g (str) given as a covariate, country (int) as a fixed effect: both become dummies
    res = ovb(
        df, outcome="y", treatment="d", covariates=["x1", "x2", "g"], fixed_effects=["country"]
    )
    X = _sm_design(df, ["d", "x1", "x2"], ["g", "country"])
    fit = sm.OLS(df["y"], X).fit()
    assert res.estimate == pytest.approx(fit.params["d"], rel=1e-10)
    assert res.se == pytest.approx(fit.bse["d"], rel=1e-10)
    assert res.t_stat == pytest.approx(fit.tvalues["d"], rel=1e-10)
    assert res.dof == int(fit.df_resid)
    # partial R2 by Frisch–Waugh–Lovell: correlate the residualised outcome and treatment
    Z = X.drop(columns="d")
    ry = sm.OLS(df["y"], Z).fit().resid
    rd = sm.OLS(df["d"], Z).fit().resid
    assert res.partial_r2 == pytest.approx(np.corrcoef(ry, rd)[0, 1] ** 2, rel=1e-10)


def test_categorical_benchmark_is_its_dummy_group():
    df = _simulated()
    res = ovb(
        df,
        outcome="y",
        treatment="d",
        covariates=["x1", "x2", "g"],
        fixed_effects=["country"],
        benchmark=["x1", "g", "country"],
        kd=[1, 2],
        ky=[1, 0.5],
    )
    X = _sm_design(df, ["d", "x1", "x2"], ["g", "country"])
    assert res.bounds["bound_label"].tolist() == [
        "1x x1", "2/0.5x x1", "1x g", "2/0.5x g", "1x country", "2/0.5x country",
    ]  # fmt: skip
    for name in ("x1", "g", "country"):
        cols = [c for c in X.columns if c == name or c.startswith(f"{name}_")]
        r2d = _r2_drop(df["d"].to_numpy(), X.drop(columns="d"), cols)
        r2y = _r2_drop(df["y"].to_numpy(), X, cols)
        r2dz, r2yz = benchmark_bound(r2d, r2y, [1, 2], [1, 0.5])
        got = res.bounds[res.bounds["benchmark"] == name]
        np.testing.assert_allclose(got["r2dz_x"], r2dz, rtol=1e-9)
        np.testing.assert_allclose(got["r2yz_dx"], r2yz, rtol=1e-9)


def test_adjustment_recovers_the_regression_with_the_confounder():
    # the OVB formulas are exact in sample: adjusting the regression without z for z's
    # partial R2s gives the coefficient and standard error of the regression with z
    df = _simulated(seed=3)
    res = ovb(df, outcome="y", treatment="d", covariates=["x1", "x2", "g"])
    X = _sm_design(df, ["d", "x1", "x2", "z"], ["g"])
    full = sm.OLS(df["y"], X).fit()
    r2yz = _r2_drop(df["y"].to_numpy(), X, ["z"])
    r2dz = _r2_drop(df["d"].to_numpy(), X.drop(columns="d"), ["z"])
    reduce = abs(full.params["d"]) < abs(res.estimate)
    args = (res.estimate, res.se, res.dof, r2dz, r2yz)
    assert bias_adjusted_estimate(*args, reduce=reduce) == pytest.approx(full.params["d"], rel=1e-9)
    assert adjusted_se(res.se, res.dof, r2dz, r2yz) == pytest.approx(full.bse["d"], rel=1e-9)
    assert adjusted_t(*args, reduce=reduce) == pytest.approx(full.tvalues["d"], rel=1e-9)


def test_reduce_false_moves_away_from_zero():
    df = _simulated()
    kw = dict(outcome="y", treatment="d", covariates=["x1", "x2"], benchmark=["x1"])
    down, up = ovb(df, **kw), ovb(df, **kw, reduce=False)
    shift = up.bounds["adjusted_estimate"] - up.estimate
    np.testing.assert_allclose(shift, up.estimate - down.bounds["adjusted_estimate"])
    assert (np.sign(shift) == np.sign(up.estimate)).all()


# -- the formulas' identities -------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(t=st.floats(0.5, 30), dof=st.integers(20, 5000), q=st.floats(0.05, 2.0))
def test_rv_q_explains_away_q_of_the_estimate(t, dof, q):
    rv = robustness_value(t, dof, q)
    assume(rv < 0.999)
    for sign in (1, -1):
        est, se = sign * t * 0.1, 0.1
        adj = bias_adjusted_estimate(est, se, dof, rv, rv)
        assert adj == pytest.approx((1 - q) * est, abs=1e-9)
    assert partial_r2(t, dof) == pytest.approx(t**2 / (t**2 + dof))


@settings(max_examples=60, deadline=None)
@given(
    t=st.floats(1.0, 30), dof=st.integers(20, 5000), q=st.floats(0.1, 1.5), a=st.floats(0.01, 0.2)
)
def test_rv_qa_puts_the_interval_on_the_target(t, dof, q, a):
    rv = robustness_value(t, dof, q, a)
    f_crit = stats.t.ppf(1 - a / 2, dof - 1) / np.sqrt(dof - 1)
    assume(rv > 0 and q * t / np.sqrt(dof) <= 1 / f_crit)  # the non-binding case
    est, se = t * 0.1, 0.1
    lower = bias_adjusted_estimate(est, se, dof, rv, rv) - f_crit * np.sqrt(dof - 1) * adjusted_se(
        se, dof, rv, rv
    )
    assert lower == pytest.approx((1 - q) * est, abs=1e-9)


@pytest.mark.parametrize(("t", "dof", "q"), [(3.0, 50, 1.0), (40.0, 10, 1.0), (25.0, 20, 0.5)])
def test_rv_qa_is_the_weakest_confounder_that_reaches_the_target(t, dof, q):
    # brute force over a grid: the smallest max(R2dz, R2yz) whose interval includes (1 − q)·est;
    # (40, 10) is the case where the constraint R2 <= 1 binds
    est, se = t * 0.1, 0.1
    g = np.linspace(0, 0.9999, 1201)
    dz, yz = np.meshgrid(g, g)
    crit = stats.t.ppf(0.975, dof - 1)
    lower = bias_adjusted_estimate(est, se, dof, dz, yz) - crit * adjusted_se(se, dof, dz, yz)
    brute = np.maximum(dz, yz)[lower <= (1 - q) * est].min()
    assert robustness_value(t, dof, q, 0.05) == pytest.approx(brute, abs=2 * g[1])


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(treatment="directlyharmd"), DataError, r"treatment column 'directlyharmd' not found; "
         r"close matches: \['directlyharmed'\]"),
        (dict(outcome="peace"), DataError, r"outcome column 'peace' not found"),
        (dict(covariates=["femal"]), DataError, r"covariate column 'femal'.*'female'"),
        (dict(covariates=["age"], benchmark=["agee"]), DataError, r"benchmark column 'agee'"),
        (dict(benchmark=["female"]), EmbedcausalError, r"benchmark 'female' is not among"),
        (dict(covariates=["directlyharmed"]), EmbedcausalError, r"cannot also be a covariate"),
        (dict(outcome="village"), DataError, r"outcome column 'village' has dtype .*numbers"),
        (dict(alpha=1.5), EmbedcausalError, r"alpha = 1.5"),
        (dict(q=0), EmbedcausalError, r"q = 0"),
        (dict(kd=[1, -2]), EmbedcausalError, r"kd = \[1.0, -2.0\]"),
        (dict(kd=[1, 2], ky=[1]), EmbedcausalError, r"ky = \[1.0\] has 1 values"),
        (dict(covariates=["female", "female2"]), DataError, r"collinear.*female"),
    ],
)  # fmt: skip
def test_errors_name_the_problem(darfur_data, kwargs, error, pattern):
    data = darfur_data.assign(female2=2 * darfur_data["female"])
    args = dict(outcome="peacefactor", treatment="directlyharmed") | kwargs
    with pytest.raises(error, match=pattern) as info:
        ovb(data, **args)
    assert "\n" not in str(info.value)


def test_missing_values_are_counted_with_row_labels(darfur_data):
    d = darfur_data.copy()
    d.loc[[3, 7], "age"] = np.nan
    with pytest.raises(DataError, match=r"2 row\(s\) with missing values.*'age': 2.*\[3, 7\]"):
        ovb(d, outcome="peacefactor", treatment="directlyharmed", covariates=["age"])
    # columns not used may have missing values
    d = darfur_data.assign(unused=np.nan)
    ovb(d, outcome="peacefactor", treatment="directlyharmed", covariates=["age"])


def test_impossible_and_capped_bounds_warn(darfur_data):
    kw = DARFUR_ARGS | {"benchmark": ["female", "village"], "kd": [1, 50, 1e6]}
    with pytest.warns(UserWarning) as record:
        res = ovb(darfur_data, **kw)
    messages = [str(w.message) for w in record]
    # as in sensemakr: impossible confounders give NaN bounds, R²(Y~Z|D,X) > 1 is capped at 1
    assert any("'female'" in m and "kd = [1000000.0]" in m and "impossible" in m for m in messages)
    assert any("'village'" in m and "capped at 1" in m for m in messages)
    female = res.bounds[res.bounds["benchmark"] == "female"]
    assert female["r2dz_x"].isna().tolist() == [False, False, True]
    assert female["adjusted_estimate"].isna().tolist() == [False, False, True]
    village = res.bounds[res.bounds["benchmark"] == "village"]
    assert village["r2yz_dx"].tolist()[0] == 1.0 and village["r2yz_dx"].isna().tolist()[1:] == [
        True,
        True,
    ]
    out = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert out["bounds"][2]["r2dz_x"] is None
    assert "NaN: kd too large" in res.summary()
    ax = res.contour()
    assert len(_scatter_points(ax)) == 1 + res.bounds["r2dz_x"].notna().sum()
    plt.close(ax.figure)


def test_too_few_rows():
    df = _simulated(n=6)
    with pytest.raises(DataError, match=r"6 rows but .* coefficients"):
        ovb(df, outcome="y", treatment="d", covariates=["x1", "x2", "g"], fixed_effects=["country"])


# -- reporting ---------------------------------------------------------------------------------
def test_to_dict_is_strict_json(darfur):
    out = json.loads(json.dumps(darfur.to_dict(), allow_nan=False))
    assert out["rv_q"] == darfur.rv_q and out["dof"] == 783
    assert [b["bound_label"] for b in out["bounds"]] == ["1x female", "2x female", "3x female"]
    assert out["bounds"][2]["adjusted_estimate"] == darfur.bounds["adjusted_estimate"].iloc[2]


def test_summary_reports_the_statistics(darfur):
    text = darfur.summary()
    for piece in (
        "directlyharmed",
        "peacefactor",
        "2.19%",
        "13.88%",
        "7.63%",
        "3x female",
        "0.0304",
    ):
        assert piece in text


def _scatter_points(ax) -> np.ndarray:
    return np.vstack(
        [c.get_offsets() for c in ax.collections if type(c).__name__ == "PathCollection"]
    )


@pytest.mark.parametrize("what", ["estimate", "t-value"])
def test_contour_draws_bounds_and_threshold(darfur, what):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = darfur.contour(sensitivity_of=what)
        ax.figure.canvas.draw()
    try:
        assert "Partial R²" in ax.get_xlabel() and "R²(D~Z|X)" in ax.get_xlabel()
        assert "Partial R²" in ax.get_ylabel() and "R²(Y~Z|D,X)" in ax.get_ylabel()
        pts = _scatter_points(ax)
        for b in darfur.bounds.itertuples():
            assert np.isclose(pts, [b.r2dz_x, b.r2yz_dx], rtol=0, atol=1e-12).all(axis=1).any()
        labels = {t.get_text() for t in ax.texts}
        assert {"1x female", "2x female", "3x female"} <= {s.split(" (")[0] for s in labels}
        threshold = 0.0 if what == "estimate" else stats.t.ppf(0.975, darfur.dof - 1)
        levels = [list(c.levels) for c in ax.collections if hasattr(c, "levels")]
        assert [pytest.approx(threshold)] in levels
    finally:
        plt.close(ax.figure)


def test_contour_widens_to_show_strong_bounds(darfur_data):
    res = ovb(darfur_data, **(DARFUR_ARGS | {"kd": [4]}))
    ax = res.contour(lim=0.2)
    try:
        assert ax.get_ylim()[1] >= res.bounds["r2yz_dx"].iloc[0]
    finally:
        plt.close(ax.figure)
    with pytest.raises(EmbedcausalError, match=r"lim = 1.5"):
        res.contour(lim=1.5)
    with pytest.raises(EmbedcausalError, match=r"sensitivity_of = 'bias'"):
        res.contour(sensitivity_of="bias")
