"""Recovery of known effects on simulated panels (small, fast versions; the coverage study is slow).

Tolerance: effects are judged by their 95% HDI (the models' default report is 90%); each test
also asserts that the effect the mechanism has is detected (its interval excludes 0), so a
vague posterior cannot pass.
"""

from __future__ import annotations

from _specs import sim_spec

from embedcausal.effects import effects_table
from embedcausal.fitting import fit
from embedcausal.simulation import simulate

SIZE = {"n_countries": 60, "n_missions": 20}
SAMPLER = {"draws": 300, "tune": 300, "chains": 2}
PROB = 0.95


def fitted(tmp_path_factory, mechanism, seed=11, size=SIZE, **spec_kw):
    sim = simulate(mechanism, seed=seed, **size)
    path = tmp_path_factory.mktemp(mechanism) / f"{mechanism}.csv"
    sim.save(path)
    run = fit(sim_spec(path, **spec_kw), **SAMPLER)
    table = effects_table(run.idata["effects"].to_dataset(), hdi_prob=PROB).set_index("effect")
    return sim.truth, table


def covers(table, effect, value):
    row = table.loc[effect]
    return row["hdi_low"] <= value <= row["hdi_high"]


def test_personal_mechanism_is_indirect(tmp_path_factory):
    truth, t = fitted(tmp_path_factory, "personal")
    assert truth["nde"] == 0 and truth["nie"] > 0.05
    assert covers(t, "nie", truth["nie"]) and not covers(t, "nie", 0.0)
    assert covers(t, "nde", 0.0)
    assert covers(t, "total", truth["total"])


def test_institutional_mechanism_is_direct(tmp_path_factory):
    truth, t = fitted(tmp_path_factory, "institutional")
    assert truth["nie"] == 0 and truth["nde"] > 0.05
    assert covers(t, "nde", truth["nde"]) and not covers(t, "nde", 0.0)
    assert covers(t, "nie", 0.0)


#: the spurious effect is about 0.035 with a posterior SD of 0.016 at 60 x 20, so a 95% interval
#: excluding 0 was a coin toss there (the first run after a change of parameterisation gave a
#: lower bound of -0.001); twice the countries give it the power the claim needs (SD 0.012)
DISPOSITION_SIZE = {"n_countries": 120, "n_missions": 20}


def test_disposition_within_removes_spurious_effect(tmp_path_factory):
    truth, within = fitted(tmp_path_factory, "disposition", size=DISPOSITION_SIZE, mediator=None)
    _, pooled = fitted(
        tmp_path_factory,
        "disposition",
        size=DISPOSITION_SIZE,
        mediator=None,
        within=False,
        disposition=False,
    )
    assert truth["total"] == 0
    assert covers(within, "total", 0.0)
    assert pooled.loc["total", "hdi_low"] > 0, "the pooled model should show the spurious effect"
