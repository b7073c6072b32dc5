"""Cinelli & Hazlett OVB: the paper's Darfur numbers, a direct OLS, and the formulas' identities."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from embedcausal.errors import DataError, EmbedcausalError
from embedcausal.sensitivity.ovb import (
    adjusted_se,
    adjusted_t,
    bias_adjusted_estimate,
    ovb,
    partial_r2,
    robustness_value,
)

DARFUR = Path(__file__).parent / "data" / "darfur.csv"
COVS = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female"]


@pytest.fixture(scope="module")
def darfur():
    d = pd.read_csv(DARFUR)
    return ovb(
        d,
        outcome="peacefactor",
        treatment="directlyharmed",
        covariates=COVS,
        fixed_effects=["village"],
        benchmark=["female"],
        kd=[1, 2, 3],
    )


def test_darfur_published_statistics(darfur):
    # Cinelli & Hazlett (2020), Section 6 / sensemakr's Darfur example
    assert darfur.estimate == pytest.approx(0.09731582, abs=5e-8)
    assert darfur.se == pytest.approx(0.02325654, abs=5e-8)
    assert darfur.t_stat == pytest.approx(4.18445, abs=5e-5)
    assert darfur.dof == 783
    assert darfur.partial_r2 == pytest.approx(0.021873, abs=5e-6)
    assert darfur.rv_q == pytest.approx(0.1388, abs=5e-5)
    assert darfur.rv_qa == pytest.approx(0.0763, abs=5e-5)


def test_darfur_female_bounds(darfur):
    b = darfur.bounds.set_index("bound_label")
    np.testing.assert_allclose(b["r2dz_x"], [0.00916, 0.01832, 0.02748], atol=5e-5)
    np.testing.assert_allclose(b["r2yz_dx"], [0.12464, 0.24928, 0.37392], atol=5e-4)
    np.testing.assert_allclose(b["adjusted_estimate"], [0.0752, 0.0529, 0.0304], atol=5e-5)
    assert list(b.index) == ["1x female", "2x female", "3x female"]
    # 3x female is the first bound whose interval includes zero
    assert (b["adjusted_lower"] > 0).tolist() == [True, True, False]


def test_published_adjustment_formulas():
    # sensemakr's documented values for r2dz_x = r2yz_dx = 0.05
    args = (0.09731582, 0.02325654, 783, 0.05, 0.05)
    assert bias_adjusted_estimate(*args) == pytest.approx(0.06393, abs=5e-6)
    assert adjusted_se(0.02325654, 783, 0.05, 0.05) == pytest.approx(0.02327, abs=5e-6)
    assert adjusted_t(*args) == pytest.approx(2.74724, abs=5e-5)


def test_matches_direct_ols_and_fwl():
    rng = np.random.default_rng(0)
    n = 400
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    g = rng.choice(list("abcd"), size=n)
    d = 0.5 * x1 + rng.normal(size=n)
    y = 0.3 * d + 0.4 * x1 - 0.2 * x2 + (g == "b") * 0.5 + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "x1": x1, "x2": x2, "g": g})
    res = ovb(
        df,
        outcome="y",
        treatment="d",
        covariates=["x1", "x2"],
        fixed_effects=["g"],
        benchmark=["x1", "g"],
    )
    X = sm.add_constant(
        pd.concat(
            [
                df[["d", "x1", "x2"]],
                pd.get_dummies(df["g"], prefix="g", drop_first=True, dtype=float),
            ],
            axis=1,
        )
    )
    fit = sm.OLS(df["y"], X).fit()
    assert res.estimate == pytest.approx(fit.params["d"], rel=1e-10)
    assert res.se == pytest.approx(fit.bse["d"], rel=1e-10)
    assert res.dof == int(fit.df_resid)
    # partial R2 by Frisch-Waugh-Lovell: correlate the residualised outcome and treatment
    Z = X.drop(columns="d")
    ry = sm.OLS(y, Z).fit().resid
    rd = sm.OLS(d, Z).fit().resid
    assert res.partial_r2 == pytest.approx(np.corrcoef(ry, rd)[0, 1] ** 2, rel=1e-10)
    assert set(res.bounds["benchmark"]) == {"x1", "g"}


@settings(max_examples=60, deadline=None)
@given(t=st.floats(0.5, 30), dof=st.integers(20, 5000), q=st.floats(0.1, 1.0))
def test_rv_q_explains_away_q_of_the_estimate(t, dof, q):
    rv = robustness_value(t, dof, q)
    est, se = t * 0.1, 0.1
    adj = bias_adjusted_estimate(est, se, dof, rv, rv)
    assert adj == pytest.approx((1 - q) * est, abs=1e-9)
    assert partial_r2(t, dof) == pytest.approx(t**2 / (t**2 + dof))


def test_errors_name_the_problem():
    d = pd.read_csv(DARFUR)
    with pytest.raises(
        DataError, match=r"'directlyharmd' not found; did you mean 'directlyharmed'"
    ):
        ovb(d, outcome="peacefactor", treatment="directlyharmd")
    with pytest.raises(EmbedcausalError, match=r"benchmark 'female' is not among the covariates"):
        ovb(d, outcome="peacefactor", treatment="directlyharmed", benchmark=["female"])
    with pytest.raises(EmbedcausalError, match="alpha"):
        ovb(d, outcome="peacefactor", treatment="directlyharmed", alpha=1.5)
    d.loc[3, "age"] = np.nan
    with pytest.raises(DataError, match="missing"):
        ovb(d, outcome="peacefactor", treatment="directlyharmed", covariates=["age"])


def test_contour_draws_bounds(darfur):
    import matplotlib.pyplot as plt

    ax = darfur.contour()
    assert "treatment" in ax.get_xlabel() and "outcome" in ax.get_ylabel()
    pts = np.vstack(
        [
            c.get_offsets()
            for c in ax.collections
            if hasattr(c, "get_offsets") and len(c.get_offsets()) == 1
        ]
    )
    for _, b in darfur.bounds.iterrows():
        assert np.isclose(pts, [b["r2dz_x"], b["r2yz_dx"]]).all(axis=1).any()
    plt.close(ax.figure)
    ax = darfur.contour(sensitivity_of="t-value")
    plt.close(ax.figure)
