"""A categorical treatment compared by level names: ``contrast = {from = "control", to = ...}``.

The two named levels are coded 0/1 at the edge (:func:`embedcausal.data.code_treatment`);
rows in any other level are an error, and every table states the contrast in level names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedcausal.data import code_treatment, resolve_contrast, validate
from embedcausal.errors import DataError, SpecError
from embedcausal.estimands import effects_table
from embedcausal.prepared import prepare
from embedcausal.report import format_table
from embedcausal.spec import ModelSpec


def panel(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """``arm`` (control/treated) raises the mediator ``m``, which raises P(y); ``x`` confounds.

    True effects on the probability scale are positive: the NDE (coefficient 0.8 on the
    logit) and the NIE (through m: 1.0 × 0.9).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    treated = rng.random(n) < 1 / (1 + np.exp(-0.5 * x))
    m = 1.0 * treated + 0.3 * x + rng.normal(size=n)
    eta = -0.3 + 0.8 * treated + 0.9 * m + 0.4 * x
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    arm = np.where(treated, "treated", "control")
    return pd.DataFrame({"arm": arm, "m": m, "x": x, "y": y})


def spec(contrast: dict | None = None, **sampler: int) -> ModelSpec:
    estimand: dict = {"treatment": "arm", "mediator": "m", "outcome": "y"}
    if contrast is not None:
        estimand["contrast"] = contrast
    raw = {
        "name": "categorical arm",
        "data": {"path": "arm.csv"},
        "dag": {"edges": ["arm -> m", "m -> y", "arm -> y", "x -> arm", "x -> m", "x -> y"]},
        "estimand": estimand,
        "model": {"varying": []},
        "sampler": {"draws": 100, "tune": 100, "chains": 2, "seed": 5, **sampler},
    }
    return ModelSpec.from_dict(raw, source="arm.toml", check_files=False)


LEVELS = {"from": "control", "to": "treated"}


def test_named_levels_are_coded_0_1():
    frame = panel(20)
    s = spec(LEVELS)
    coded = code_treatment(s, frame, "arm.csv")
    assert coded["arm"].tolist() == (frame["arm"] == "treated").astype(float).tolist()
    assert resolve_contrast(s, coded["arm"].to_numpy()) == (0.0, 1.0)
    p = prepare(s, frame, adjustment=["x"])
    assert p.contrast == (0.0, 1.0)
    assert p.contrast_labels == ("control", "treated")
    assert p.contrast_shown == ("control", "treated")
    # reversed ends: the named "from" level is 0
    r = prepare(spec({"from": "treated", "to": "control"}), frame, adjustment=["x"])
    assert r.values["arm"].tolist() == (frame["arm"] == "control").astype(float).tolist()


def test_a_pandas_categorical_column_works_too():
    frame = panel(20).astype({"arm": "category"})
    p = prepare(spec(LEVELS), frame, adjustment=["x"])
    assert set(p.values["arm"]) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("contrast", "frame_edit", "error", "fragments"),
    [
        (
            {"from": "contorl", "to": "treated"},
            None,
            DataError,
            ["arm.toml: estimand.contrast.from", "'contorl'", "'arm'", "did you mean 'control'?"],
        ),
        (
            LEVELS,
            "third",
            DataError,
            ["'arm'", "'placebo'", "besides", "'control'", "'treated'", "arm.toml"],
        ),
        (LEVELS, "numeric", DataError, ["estimand.contrast", "'arm'", "numeric"]),
        (None, None, DataError, ["'arm'", "categorical treatment", "estimand.contrast"]),
        (
            {"from": "control", "to": "control"},
            None,
            SpecError,
            ["estimand.contrast", "equal", "'arm'"],
        ),
        ({"from": "control", "to": "p75"}, None, SpecError, ["estimand.contrast", "mix"]),
    ],
    ids=["typo", "third_level", "numeric_column", "no_contrast", "equal_ends", "mixed_ends"],
)
def test_errors_are_one_line(contrast, frame_edit, error, fragments):
    frame = panel(30)
    if frame_edit == "third":
        frame.loc[[2, 7], "arm"] = "placebo"
    if frame_edit == "numeric":
        frame["arm"] = (frame["arm"] == "treated").astype(int)
    with pytest.raises(error) as info:
        validate(spec(contrast), frame, adjustment=["x"], source="arm.csv")
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_fit_recovers_the_sign_and_tables_name_the_levels(tmp_path):
    from embedcausal.fitting import fit
    from embedcausal.html import write_report
    from embedcausal.plots import PlotError, effect_curve
    from embedcausal.report import format_effects
    from embedcausal.runs import load_run

    frame = panel()
    run = fit(spec(LEVELS), frame, progress=False)
    table = run.effects.set_index("effect")
    for effect in ("total", "nde", "nie"):
        assert table.loc[effect, "p_negative"] < 0.05, (effect, table.loc[effect].to_dict())
    assert set(table["contrast"]) == {"arm: control -> treated"}
    assert "control: T control -> treated, M held at M(control)" in table.loc["nde", "reference"]
    assert "(control -> treated in levels of arm;" in format_effects(run)
    assert "T control -> treated" in format_table(run.effects)
    # the level names survive saving and loading (run.json, the effects group's attrs)
    back = load_run(run.save(tmp_path / "arm"), log_likelihood=False)
    assert back.prepared.contrast_labels == ("control", "treated")
    assert "(control -> treated in levels of arm;" in format_effects(back)
    again = effects_table(back.idata["effects"].to_dataset())
    assert set(again["contrast"]) == {"arm: control -> treated"}
    # and the HTML report says it in level names
    html = write_report([tmp_path / "arm"], tmp_path / "r.html", curve=True, ppc=False)
    page = html.read_text(encoding="utf-8")
    assert "effect curve" not in page  # two levels: no values between them
    with pytest.raises(PlotError, match=r"treatment 'arm' is categorical"):
        effect_curve(back)
    assert "Effects of arm control → treated (levels of arm), probability scale" in page
    assert "Contrast arm control → treated (levels of arm)" in page
