"""The ρ-sensitivity (``sensitivity.rho``): its formula, ρ = 0 as the ordinary fit, recovery of a
simulated NIE under correlated errors, and the ``embedcausal sensitivity --only rho`` contract.

The simulated panel: a confounder X, a continuous treatment T, a Gaussian mediator
``M = 0.5 + 0.8 T + 0.3 X + ε_M`` and a probit outcome ``Y = 1[-0.2 + 0.4 T + 0.6 M + 0.3 X +
ε_Y > 0]`` with ``corr(ε_M, ε_Y) = ρ₀``: sequential ignorability fails, so the ordinary fit
(ρ = 0) overstates the NIE and the fit at ρ = ρ₀ recovers it.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import embedcausal as ec
from embedcausal.cli import main
from embedcausal.errors import SpecError
from embedcausal.sensitivity.rho import RHO_COLUMNS
from embedcausal.sensitivity.rho_effects import _mean_outcome, crossings

COEF = {"m0": 0.5, "m_t": 0.8, "m_x": 0.3, "y0": -0.2, "y_t": 0.4, "y_m": 0.6, "y_x": 0.3}
RHO0 = 0.5


def simulate(n: int, rho0: float, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """The panel, and its true effects (p25 -> p75 of T) by Monte Carlo of the equations."""
    rng = np.random.default_rng(seed)
    c = COEF
    x = rng.normal(size=n)
    t = rng.normal(size=n) + 0.5 * x
    e = rng.multivariate_normal([0.0, 0.0], [[1.0, rho0], [rho0, 1.0]], size=n)
    m = c["m0"] + c["m_t"] * t + c["m_x"] * x + e[:, 0]
    y = c["y0"] + c["y_t"] * t + c["y_m"] * m + c["y_x"] * x + e[:, 1] > 0
    frame = pd.DataFrame(
        {
            "country": [f"c{i % 20}" for i in range(n)],
            "mission": [f"m{i // 20}" for i in range(n)],
            "threat": x,
            "inst_ties": t,
            "personal_ties": m,
            "participation": y.astype(int),
        }
    )
    t0, t1 = np.quantile(t, [0.25, 0.75])
    return frame, structural_effects(x, t0, t1, rho0, np.random.default_rng(seed + 1))


def structural_effects(x, t0, t1, rho0, rng, draws: int = 4000) -> dict[str, float]:
    """E[Y(t, M(t'))] averaged over rows by simulating each row's errors (same errors in
    every counterfactual), then total, NDE and NIE."""
    c = COEF
    e = rng.multivariate_normal([0.0, 0.0], [[1.0, rho0], [rho0, 1.0]], size=(draws, len(x)))
    eps_m, eps_y = e[..., 0], e[..., 1]  # one pair of errors per draw and row

    def mean_y(ta, tm):
        m = c["m0"] + c["m_t"] * tm + c["m_x"] * x + eps_m
        return float((c["y0"] + c["y_t"] * ta + c["y_m"] * m + c["y_x"] * x + eps_y > 0).mean())

    e00, e10, e11 = mean_y(t0, t0), mean_y(t1, t0), mean_y(t1, t1)
    return {"total": e11 - e00, "nde": e10 - e00, "nie": e11 - e10}


def write_model(folder: Path, frame: pd.DataFrame, *, rho, sampler: str, family="probit") -> Path:
    frame.to_csv(folder / "sim.csv", index=False)
    outcome = 'link = "probit"' if family == "probit" else 'family = "gaussian"'
    path = folder / "rho.toml"
    path.write_text(
        f"""name = "rho simulation"
[data]
path = "sim.csv"
[dag]
edges = ["inst_ties -> personal_ties", "personal_ties -> participation",
         "inst_ties -> participation", "threat -> inst_ties", "threat -> personal_ties",
         "threat -> participation"]
[estimand]
treatment = "inst_ties"
mediator = "personal_ties"
outcome = "participation"
[model]
varying = []
{outcome}
[sampler]
{sampler}
[sensitivity]
rho = {rho}
"""
    )
    return path


# -- the formula, without sampling ---------------------------------------------------------------
@pytest.mark.parametrize("rho", [-0.6, 0.0, 0.5])
def test_closed_form_is_the_structural_equations(rho):
    """Φ(A / √(1 + B² + 2ρB)) against Monte Carlo of M(t') and Y(t, m) with correlated errors."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=200)
    t0, t1 = -0.7, 0.7
    mc = structural_effects(x, t0, t1, rho, rng, draws=10_000)
    c = COEF
    probit = SimpleNamespace(spec=SimpleNamespace(model=SimpleNamespace(family="bernoulli")))

    def closed(ta, tm):
        a = c["y0"] + c["y_t"] * ta + c["y_x"] * x + c["y_m"] * (c["m0"] + c["m_t"] * tm)
        a = (a + c["y_m"] * c["m_x"] * x)[None, :]
        return float(_mean_outcome(probit, a, np.full_like(a, c["y_m"]), rho)[0])

    exact = {
        "total": closed(t1, t1) - closed(t0, t0),
        "nde": closed(t1, t0) - closed(t0, t0),
        "nie": closed(t1, t1) - closed(t1, t0),
    }
    for k in exact:  # Monte Carlo SD of a difference of means of 2M indicators: < 5e-4
        assert abs(exact[k] - mc[k]) < 2e-3, (k, exact[k], mc[k])


def test_crossings_interpolate_the_mean_and_the_interval():
    table = pd.DataFrame(
        {
            "rho": [0.0, 0.5, 0.0, 0.5],
            "effect": ["nie", "nie", "nde", "nde"],
            "mean": [0.1, -0.1, 0.2, 0.1],
            "hdi_low": [0.05, -0.2, 0.1, -0.1],
            "hdi_high": [0.2, -0.05, 0.3, 0.2],
        }
    )
    got = crossings(table, ("nie", "nde"))
    assert got.columns.tolist() == ["effect", "rho_at_zero", "interval_from", "interval_to"]
    nie = got.iloc[0]
    assert (nie["rho_at_zero"], nie["interval_from"], nie["interval_to"]) == pytest.approx(
        (0.25, 0.1, 0.4)
    )
    nde = got.iloc[1]  # its mean stays above 0; its interval includes 0 from rho = 0.25 on
    assert nde["effect"] == "nde" and np.isnan(nde["rho_at_zero"])
    assert (nde["interval_from"], nde["interval_to"]) == pytest.approx((0.25, 0.5))
    never = crossings(table.assign(hdi_low=0.01), ("nde",)).iloc[0]
    assert np.isnan(never["interval_from"]) and np.isnan(never["interval_to"])


def test_python_values_are_checked_before_sampling(tmp_path):
    frame, _ = simulate(120, RHO0, seed=2)
    model = write_model(tmp_path, frame, rho="[0.0]", sampler="draws = 20")
    d = ec.design(model)
    with pytest.raises(SpecError) as info:
        ec.rho_sensitivity(d, tmp_path / "out", rho=[0.0, 1.2])
    assert info.value.key == "sensitivity.rho[1]" and "1.2" in str(info.value)
    logit = ec.design(ec.load_spec(model).replace(model={"link": "logit"}, sensitivity=None))
    with pytest.raises(SpecError, match=r"sensitivity\.rho: .*model\.link is 'logit'"):
        ec.rho_sensitivity(logit, tmp_path / "out", rho=[0.0])
    with pytest.raises(SpecError, match=r"sensitivity\.rho: is not set"):
        ec.rho_sensitivity(logit, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- rho = 0 is the ordinary fit ---------------------------------------------------------------
def _design(tmp_path, family, *, n=200, sampler="draws = 150\ntune = 150\nchains = 2\nseed = 3"):
    frame, _ = simulate(n, RHO0, seed=4)
    if family == "gaussian":
        frame["participation"] = frame["participation"] + frame["personal_ties"] * 0.5
    return ec.design(write_model(tmp_path, frame, rho="[0.0]", sampler=sampler, family=family))


@pytest.mark.parametrize("family", ["probit", "gaussian"])
def test_rho_zero_model_is_the_ordinary_model(tmp_path, family):
    """The ρ-model's log-density at ρ = 0 is the ordinary mediator + outcome models' (at random
    parameter values), and at ρ = 0.3 it is not."""
    import pymc as pm

    from embedcausal.correlated import RHO_PARAM

    d = _design(tmp_path, family)
    joint = ec.build_model(d, rho=True)
    parts = [ec.build_model(d, parts=(p,)) for p in ("mediator", "outcome")]
    logp = joint.compile_logp()
    part_logps = [m.compile_logp() for m in parts]
    rng = np.random.default_rng(1)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in joint.initial_point().items()}
    ordinary = sum(
        f({k: point[k] for k in m.initial_point()}) for f, m in zip(part_logps, parts, strict=True)
    )
    np.testing.assert_allclose(logp(point), ordinary, rtol=1e-10)
    with joint:
        pm.set_data({RHO_PARAM: 0.3})
    assert abs(joint.compile_logp()(point) - ordinary) > 1.0


@pytest.mark.parametrize("family", ["probit", "gaussian"])
def test_rho_zero_effects_are_gcomp(tmp_path, family):
    """At ρ = 0 the closed-form effects are ``gcomp``'s quadrature on the same draws (1e-6)."""
    from embedcausal.effects import gcomp
    from embedcausal.sensitivity.rho import sample_rho
    from embedcausal.sensitivity.rho_effects import rho_gcomp

    d = _design(tmp_path, family)
    idata, cf = sample_rho(d, 0.0)
    ours = rho_gcomp(idata, d, 0.0, counterfactual=cf)
    plain = gcomp(idata, d, counterfactual=cf)
    for k in ("total", "nde", "nie"):
        np.testing.assert_allclose(ours[k].values, plain[k].values, atol=1e-6)
    assert ours.attrs["rho"] == 0.0 and float(ours["nie"].std()) > 0


@pytest.mark.slow
def test_rho_zero_matches_the_ordinary_fit(tmp_path):
    """The ρ = 0 grid point and ``ec.fit`` (same seed; other draws: the ordinary fit samples
    mediator and outcome apart) agree within 0.5 posterior SD on every effect."""
    d = _design(tmp_path, "probit", n=250, sampler="draws = 300\ntune = 300\nchains = 2")
    res = ec.rho_sensitivity(d, tmp_path / "out")
    ours = res.table.set_index("effect")
    fit = ec.fit(d, progress=False).effects.set_index("effect")
    for k in ("total", "nde", "nie"):
        assert abs(ours.loc[k, "mean"] - fit.loc[k, "mean"]) < 0.5 * fit.loc[k, "sd"], k


# -- recovery --------------------------------------------------------------------------------
@pytest.mark.slow
def test_fit_at_true_rho_recovers_the_nie(tmp_path):
    """ρ₀ = 0.5, 400 rows, 2 × 400 draws: the ordinary fit (ρ = 0) misses the true NIE by more
    than 3 posterior SDs; the fit at ρ = ρ₀ is within 2; the total effect, which needs no
    sequential ignorability, moves by less than 0.5 SD between them."""
    frame, truth = simulate(400, RHO0, seed=3)
    sampler = "draws = 400\ntune = 400\nchains = 2\nseed = 11"
    model = write_model(tmp_path, frame, rho=f"[0.0, {RHO0}]", sampler=sampler)
    res = ec.rho_sensitivity(model, tmp_path / "out")
    t = res.table.set_index(["effect", "rho"])
    naive, right = t.loc[("nie", 0.0)], t.loc[("nie", RHO0)]
    assert (naive["mean"] - truth["nie"]) / naive["sd"] > 3
    assert abs(right["mean"] - truth["nie"]) / right["sd"] < 2
    assert abs(right["mean"] - truth["nie"]) < abs(naive["mean"] - truth["nie"]) / 3
    total0, total1 = t.loc[("total", 0.0)], t.loc[("total", RHO0)]
    assert abs(total0["mean"] - total1["mean"]) < 0.5 * total0["sd"]
    nde = t.loc[("nde", RHO0)]
    assert abs(nde["mean"] - truth["nde"]) / nde["sd"] < 2


# -- the command ---------------------------------------------------------------------------------
def test_cli_writes_rho_files_and_keeps_the_contract(tmp_path, capsys):
    frame, _ = simulate(150, RHO0, seed=5)
    model = write_model(tmp_path, frame, rho="[0.5, 0.0]", sampler="seed = 2")
    out = tmp_path / "out"
    argv = ["sensitivity", str(model), "--out", str(out), "--only", "rho"]
    tiny = ["--draws", "100", "--tune", "100", "--chains", "2"]
    assert main([*argv, *tiny, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    table = pd.read_csv(out / "rho.csv")
    assert tuple(table.columns) == RHO_COLUMNS
    assert len(table) == 2 * 4 and sorted(set(table["rho"])) == [0.0, 0.5]
    assert list(dict.fromkeys(table["effect"])) == ["total", "nde", "nie", "prop_mediated"]
    assert (out / "rho.png").stat().st_size > 0 and (out / "rho_crossings.csv").is_file()
    saved = json.loads((out / "sensitivity.json").read_text())
    assert saved["rho"]["table"] == body["rho"]["table"]
    assert {"computed", "skipped", "crossings"} <= set(saved["rho"])
    assert sorted(saved["rho"]["computed"]) == ["rho0", "rho0.5"]
    # an existing --out without --resume: status 2, one line, nothing refitted
    assert main([*argv, *tiny]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out") and "--resume" in err[0]
    # --resume: every point is read back, none refitted, the same table
    assert main([*argv, *tiny, "--resume", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["rho"]
    assert again["computed"] == [] and sorted(again["skipped"]) == ["rho0", "rho0.5"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "rho.csv"), table)


@pytest.mark.slow
def test_rho_workers_neither_identify_nor_read_data(tmp_path):
    """``--jobs 2``: the points run in other processes, which get the Design and never call
    DoWhy or read the CSV."""
    import os

    import _sweep_tasks

    from embedcausal.parallel import run_grid
    from embedcausal.sensitivity.confounding import fingerprint
    from embedcausal.sensitivity.rho import rho_points

    frame, _ = simulate(150, RHO0, seed=6)
    sampler = "draws = 50\ntune = 50\nchains = 1"
    d = ec.design(write_model(tmp_path, frame, rho="[0.0]", sampler=sampler))
    res = run_grid(
        _sweep_tasks.counted_rho_point,
        rho_points([0.0, 0.4]),
        tmp_path / "grid",
        jobs=2,
        context=d,
        fingerprint=fingerprint(d),
        progress=False,
    )
    attrs = [res.load(k).attrs for k in res.keys]
    assert len(attrs) == 2 and {int(a["pid"]) for a in attrs}.isdisjoint({os.getpid()})
    assert all(int(a["dowhy_calls"]) == 0 and int(a["read_csv_calls"]) == 0 for a in attrs)
