"""The effects table's summaries: magnitudes, the proportion mediated, ROPE, reference levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from embedcausal.errors import SpecError
from embedcausal.estimands import effects_table, total_crosses_zero
from embedcausal.report import format_table
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"


def fake_effects(total, nde, nie, **attrs) -> xr.Dataset:
    """An effects Dataset as gcomp returns it, from draws (2 chains)."""
    total, nde, nie = (np.asarray(v, float).reshape(2, -1) for v in (total, nde, nie))
    dims = ("chain", "draw")
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = nie / total
    ds = xr.Dataset(
        {
            "total": (dims, total),
            "nde": (dims, nde),
            "nie": (dims, nie),
            "prop_mediated": (dims, prop),
            "nie_gt_nde": (dims, (nie > nde).astype(float)),
        },
        coords={"chain": [0, 1], "draw": np.arange(total.shape[1])},
    )
    ds.attrs.update({"treatment": "inst_ties", "contrast_from": 12.0, "contrast_to": 33.0, **attrs})
    return ds


def test_magnitude_comparison_is_not_the_signed_one():
    rng = np.random.default_rng(0)
    nde = -0.015 + 0.003 * rng.standard_normal(400)
    nie = 0.0003 + 0.0002 * rng.standard_normal(400)
    t = effects_table(fake_effects(nde + nie, nde, nie)).set_index("effect")
    # the example: signed P(NIE > NDE) near 1 reads as "the indirect path dominates"
    assert t.loc["p_nie_gt_nde", "mean"] > 0.99
    assert t.loc["p_nie_gt_nde", "p_abs_nie_gt_nde"] < 0.01
    text = format_table(t.reset_index())
    assert "P(|NIE| > |NDE|) = 0.00" in text
    assert "is signed" in text


def test_proportion_mediated_median_and_ratio_of_means():
    rng = np.random.default_rng(1)
    total = 0.02 + 0.02 * rng.standard_normal(2000)  # crosses zero: nie/total is heavy-tailed
    nie = 0.8 * total + 0.002 * rng.standard_normal(2000)
    t = effects_table(fake_effects(total, total - nie, nie)).set_index("effect")
    row = t.loc["prop_mediated"]
    assert row["ratio_of_means"] == pytest.approx(np.mean(nie) / np.mean(total))
    assert row["median"] == pytest.approx(np.median(nie / total))
    assert abs(row["median"] - 0.8) < 0.05
    p_neg = t.loc["total", "p_negative"]
    assert p_neg == pytest.approx(np.mean(total < 0))
    assert total_crosses_zero(t.reset_index()) == pytest.approx(p_neg)
    assert "crosses zero" in format_table(t.reset_index())


def test_total_far_from_zero_gives_no_note():
    rng = np.random.default_rng(2)
    total = 0.2 + 0.01 * rng.standard_normal(400)
    t = effects_table(fake_effects(total, total / 2, total / 2))
    assert total_crosses_zero(t) is None
    assert "crosses zero" not in format_table(t)


def test_rope_from_the_attrs_or_the_argument():
    rng = np.random.default_rng(3)
    nde = 0.004 * rng.standard_normal(400)
    nie = 0.05 + 0.004 * rng.standard_normal(400)
    ds = fake_effects(nde + nie, nde, nie, rope=0.01)
    t = effects_table(ds).set_index("effect")
    assert t.loc["nde", "p_rope"] == pytest.approx(np.mean(np.abs(nde) < 0.01))
    assert t.loc["nde", "p_rope"] > 0.9
    assert t.loc["nie", "p_rope"] < 0.01
    assert (t["rope"] == 0.01).all()
    assert "P(|e|<0.01)" in format_table(t.reset_index())
    wider = effects_table(ds, rope=0.1).set_index("effect")
    assert wider.loc["nie", "p_rope"] == 1.0
    plain = effects_table(fake_effects(nde + nie, nde, nie))
    assert plain["p_rope"].isna().all()
    assert "P(|e|<" not in format_table(plain)


def test_every_row_states_reference_level_and_contrast():
    ds = fake_effects(np.full(4, 0.1), np.full(4, 0.04), np.full(4, 0.06))
    t = effects_table(ds).set_index("effect")
    assert t.loc["nde", "reference"].startswith("ADE(control)")
    assert "M held at M(12)" in t.loc["nde", "reference"]
    assert t.loc["nie", "reference"].startswith("ACME(treated)")
    assert "T held at 33" in t.loc["nie", "reference"]
    assert (t["contrast"] == "inst_ties: 12 -> 33").all()
    text = format_table(t.reset_index())
    assert "ADE(control)" in text and "ACME(treated)" in text


def test_rope_in_the_model_file(tmp_path):
    src = (HERE / "valid.toml").read_text()
    (tmp_path / "tiny.csv").write_text((HERE / "tiny.csv").read_text())
    good = tmp_path / "good.toml"
    good.write_text(src.replace("[estimand]", "[estimand]\nrope = 0.01"))
    assert load_spec(good).estimand.rope == 0.01
    for bad, words in (("0", "greater than 0"), ("-0.1", "greater than 0"), ('"x"', "number")):
        f = tmp_path / "bad.toml"
        f.write_text(src.replace("[estimand]", f"[estimand]\nrope = {bad}"))
        with pytest.raises(SpecError) as exc:
            load_spec(f)
        msg = str(exc.value)
        assert "estimand.rope" in msg and words in msg and "\n" not in msg
