"""DoWhy refuters beside the Bayesian results (embedcausal.sensitivity.refuters).

Simulated panels with a known linear-probability effect: a confounded one (observed
confounders ``threat`` and ``alliance``) and one confounded by a latent disposition that is
constant within country (identified within country only, estimated with a Mundlak term).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from embedcausal.errors import DataError, EmbedcausalError
from embedcausal.sensitivity.refuters import METHODS, TOLERANCE_SE, RefutationResult, refute
from embedcausal.spec import ModelSpec

EFFECT = 0.06  # true change in P(participation) per unit of inst_ties
SIMS = 5


def _confounded_panel(seed: int = 1, n_country: int = 100, n_mission: int = 12) -> pd.DataFrame:
    """threat and alliance raise both inst_ties and participation; inst_ties -> Y is EFFECT."""
    rng = np.random.default_rng(seed)
    country = np.repeat(np.arange(n_country), n_mission)
    mission = np.tile(np.arange(n_mission), n_country)
    n = len(country)
    threat = rng.normal(size=n)
    alliance = rng.binomial(1, 0.4, size=n)
    inst = 1.0 * threat + 1.5 * alliance + rng.normal(size=n)
    p = 0.35 + EFFECT * inst + 0.12 * threat + 0.1 * alliance
    y = rng.binomial(1, np.clip(p, 0, 1))
    return pd.DataFrame(
        {
            "country": [f"c{c:02d}" for c in country],
            "mission": [f"m{m:02d}" for m in mission],
            "inst_ties": inst,
            "threat": threat,
            "ally_us": alliance,  # node "alliance" is measured by column "ally_us"
            "participation": y,
        }
    )


def _disposition_panel(seed: int = 2, n_country: int = 120, n_mission: int = 12) -> pd.DataFrame:
    """A latent country-level disposition raises inst_ties and participation."""
    rng = np.random.default_rng(seed)
    country = np.repeat(np.arange(n_country), n_mission)
    mission = np.tile(np.arange(n_mission), n_country)
    n = len(country)
    u = rng.normal(size=n_country)[country]
    threat = rng.normal(size=n)
    inst = 1.2 * u + 0.5 * threat + rng.normal(size=n)
    p = 0.4 + EFFECT * inst + 0.15 * u + 0.05 * threat
    y = rng.binomial(1, np.clip(p, 0, 1))
    return pd.DataFrame(
        {
            "country": [f"c{c:02d}" for c in country],
            "mission": [f"m{m:02d}" for m in mission],
            "inst_ties": inst,
            "threat": threat,
            "participation": y,
        }
    )


CONFOUNDED_EDGES = [
    "inst_ties -> participation",
    "threat -> inst_ties",
    "threat -> participation",
    "alliance -> inst_ties",
    "alliance -> participation",
]


def _spec(tmp: Path, frame: pd.DataFrame, **sections) -> ModelSpec:
    csv = tmp / "panel.csv"
    frame.to_csv(csv, index=False)
    raw = {
        "name": "refuter test",
        "data": {"path": csv.name, "columns": {"alliance": "ally_us"}},
        "dag": {"edges": CONFOUNDED_EDGES},
        "estimand": {"treatment": "inst_ties", "outcome": "participation"},
        "model": {"varying": ["country", "mission"]},
        "sensitivity": {"refuters": {"simulations": SIMS}},
    }
    raw.update(sections)
    raw = {k: v for k, v in raw.items() if v is not None}
    return ModelSpec.from_dict(raw, source="test.toml", base_dir=tmp)


def _ols_effect(frame: pd.DataFrame, covariates: list[str], contrast) -> tuple[float, float]:
    X = sm.add_constant(frame[["inst_ties", *covariates]].astype(float), has_constant="add")
    fit = sm.OLS(frame["participation"].astype(float), X).fit()
    width = contrast[1] - contrast[0]
    return float(fit.params["inst_ties"] * width), float(fit.bse["inst_ties"] * abs(width))


@pytest.fixture(scope="module")
def confounded(tmp_path_factory) -> tuple[ModelSpec, pd.DataFrame, RefutationResult]:
    tmp = tmp_path_factory.mktemp("refute")
    frame = _confounded_panel()
    spec = _spec(tmp, frame)
    return spec, frame, refute(spec, seed=3)


def test_estimate_is_ols_with_the_bayesian_adjustment_set_times_contrast_width(confounded):
    _, frame, res = confounded
    assert set(res.adjustment) == {"threat", "alliance"}
    t = frame["inst_ties"].to_numpy()
    assert res.contrast == pytest.approx((np.percentile(t, 25), np.percentile(t, 75)), abs=1e-12)
    direct, se = _ols_effect(
        frame.rename(columns={"ally_us": "alliance"}), ["threat", "alliance"], res.contrast
    )
    assert res.estimate == pytest.approx(direct, abs=1e-8)
    assert res.std_error == pytest.approx(se, rel=1e-8)
    assert res.n_obs == len(frame)
    assert "linear probability model (OLS)" in res.estimator
    assert "threat" in res.estimator and "alliance" in res.estimator


def test_adjusted_estimate_recovers_the_true_effect_and_the_naive_one_does_not(confounded):
    _, frame, res = confounded
    truth = EFFECT * (res.contrast[1] - res.contrast[0])
    assert abs(res.estimate - truth) < 3 * res.std_error
    naive, _ = _ols_effect(frame, [], res.contrast)
    assert abs(naive - truth) > 3 * res.std_error  # the confounding is real


def test_placebo_effect_is_near_zero_while_the_estimate_is_not(confounded):
    *_, res = confounded
    row = res.table.set_index("refuter").loc["placebo_treatment"]
    assert abs(res.estimate) > 3 * res.std_error
    assert abs(row["new_effect"]) < TOLERANCE_SE["placebo_treatment"] * res.std_error
    assert abs(row["new_effect"]) < 0.25 * abs(res.estimate)
    assert row["expected"] == "≈ 0"
    assert bool(row["passed"])
    assert 0 <= row["p_value"] <= 1


@pytest.mark.parametrize("method", ["random_common_cause", "data_subset"])
def test_stability_refuters_keep_the_estimate_within_tolerance(confounded, method):
    *_, res = confounded
    row = res.table.set_index("refuter").loc[method]
    assert abs(row["new_effect"] - res.estimate) <= TOLERANCE_SE[method] * res.std_error
    assert row["expected"] == "≈ estimate"
    assert bool(row["passed"])


def test_table_shape_and_serialisation(confounded):
    *_, res = confounded
    assert list(res.table.columns) == [
        "refuter",
        "new_effect",
        "p_value",
        "expected",
        "passed",
        "detail",
    ]
    assert list(res.table["refuter"]) == list(METHODS)  # the default: all three
    assert res.simulations == SIMS and res.passed
    d = json.loads(json.dumps(res.to_dict()))
    assert d["estimate"] == pytest.approx(res.estimate)
    assert [r["refuter"] for r in d["refuters"]] == list(METHODS)
    text = res.summary()
    assert text.count("\n") >= 4 and "placebo_treatment" in text and "pass" in text


def test_same_seed_same_table_and_methods_from_the_spec(tmp_path):
    frame = _confounded_panel(seed=4, n_country=30, n_mission=8)
    spec = _spec(
        tmp_path, frame, sensitivity={"refuters": {"methods": ["data_subset"], "simulations": 3}}
    )
    a = refute(spec, seed=11)
    b = refute(spec, seed=11)
    c = refute(spec, seed=12)
    assert list(a.table["refuter"]) == ["data_subset"] and a.simulations == 3
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.table["new_effect"].iloc[0] != c.table["new_effect"].iloc[0]


def test_defaults_without_a_refuters_table_and_explicit_arguments(tmp_path):
    frame = _confounded_panel(seed=5, n_country=30, n_mission=8)
    spec = _spec(tmp_path, frame, sensitivity={})
    assert spec.sensitivity.refuters is None
    res = refute(spec, frame, methods=["placebo_treatment", "random_common_cause"], simulations=2)
    assert list(res.table["refuter"]) == ["placebo_treatment", "random_common_cause"]
    assert res.simulations == 2
    bare = _spec(tmp_path, frame, sensitivity=None)
    assert bare.sensitivity is None
    assert list(refute(bare, simulations=2).table["refuter"]) == list(METHODS)


def test_no_output_and_no_warning_escapes(tmp_path, capsys):
    # pytest turns every warning into an error here, so DoWhy's must be muted
    frame = _confounded_panel(seed=6, n_country=20, n_mission=6)
    refute(_spec(tmp_path, frame), simulations=2)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_within_country_estimate_uses_the_mundlak_term(tmp_path):
    frame = _disposition_panel()
    spec = _spec(
        tmp_path,
        frame,
        data={"path": "panel.csv"},
        dag={
            "edges": [
                "inst_ties -> participation",
                "threat -> inst_ties",
                "threat -> participation",
                "disposition -> inst_ties",
                "disposition -> participation",
            ],
            "latent": ["disposition"],
            "constant_within": {"disposition": "country"},
        },
        model={
            "varying": ["mission", "country"],
            "within_between": ["inst_ties"],
            "within_group": "country",
        },
    )
    res = refute(spec, simulations=3)
    assert "Mundlak" in res.estimator and "within-country" in res.estimator
    assert res.adjustment == ("threat",)
    f = frame.assign(tbar=frame.groupby("country")["inst_ties"].transform("mean"))
    direct, _ = _ols_effect(f, ["threat", "tbar"], res.contrast)
    assert res.estimate == pytest.approx(direct, abs=1e-8)
    truth = EFFECT * (res.contrast[1] - res.contrast[0])
    assert abs(res.estimate - truth) < 3 * res.std_error
    pooled, _ = _ols_effect(frame, ["threat"], res.contrast)
    assert pooled - truth > 3 * res.std_error  # the disposition biases the pooled estimate
    assert res.dowhy_adjustment is None  # DoWhy alone sees the open path through disposition
    assert any("DoWhy" in n for n in res.notes)


def test_fixed_effects_add_group_dummies(confounded):
    spec, frame, _res = confounded
    res = refute(
        spec, frame, methods=["placebo_treatment"], simulations=2, fixed_effects=["mission"]
    )
    assert "fixed effects for mission" in res.estimator
    dummies = pd.get_dummies(frame["mission"], drop_first=True, dtype=float)
    f = pd.concat([frame.rename(columns={"ally_us": "alliance"}), dummies], axis=1)
    direct, _ = _ols_effect(f, ["threat", "alliance", *dummies.columns], res.contrast)
    assert res.estimate == pytest.approx(direct, abs=1e-8)
    with pytest.raises(DataError, match="'era'"):
        refute(spec, frame, simulations=2, fixed_effects=["era"])


def test_unknown_method_is_named_with_the_valid_ones(confounded):
    spec, frame, _res = confounded
    with pytest.raises(EmbedcausalError, match=r"'placebo'.*'placebo_treatment'.*'data_subset'"):
        refute(spec, frame, methods=["placebo"])


def test_too_few_simulations_is_an_error(confounded):
    spec, frame, _res = confounded
    with pytest.raises(EmbedcausalError, match="simulations = 1"):
        refute(spec, frame, simulations=1)


def test_missing_column_is_a_data_error(confounded):
    spec, frame, _res = confounded
    with pytest.raises(DataError, match="'ally_us'"):
        refute(spec, frame.drop(columns="ally_us"), simulations=2)
