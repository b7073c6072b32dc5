"""The latent-confounder sweep: recovers the simulated confounding, resumes without refitting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _specs import sim_spec

from embedcausal.errors import EmbedcausalError
from embedcausal.sensitivity.confounding import confounding_sweep, grid_points, shared_points
from embedcausal.simulation import simulate

REPO = Path(__file__).resolve().parents[1]
SAMPLER = {"draws": 300, "tune": 300, "chains": 2}


@pytest.fixture(scope="module")
def disposition(tmp_path_factory):
    path = tmp_path_factory.mktemp("disp") / "disposition.csv"
    sim = simulate("disposition", seed=11, n_countries=60, n_missions=20)
    sim.save(path)
    return path, sim


def true_strength(sim) -> tuple[float, float]:
    """The simulated disposition's strength on the sweep's axes (per SD of U).

    Outcome axis: the log-odds coefficient of U. Treatment axis: the slope of the standardised
    tie count on U, d E[I | U] / dU / sd(I) = ties_disposition * mean(I) / sd(I) for the
    log-linear Poisson tie model.
    """
    p = sim.truth["parameters"]
    t = sim.data["inst_ties"].to_numpy(float)
    return p["ties_disposition"] * t.mean() / t.std(), p["y_disposition"]


def test_grid_keys_are_unique_and_safe():
    pts = grid_points([0, 0.5, -1], [0], [0, 1.25])
    keys = [p.key for p in pts]
    assert len(set(keys)) == 6 and all("/" not in k for k in keys)
    assert pts[0].params == {"on_treatment": 0.0, "on_mediator": 0.0, "on_outcome": 0.0}
    assert keys[:2] == ["t0_m0_y0", "t0_m0_y1.25"] and keys[-1] == "t-1_m0_y1.25"
    # strengths that differ beyond the 6 digits of f"{x:g}" get files of their own
    close = grid_points([0.1, 0.1000001], [0], [0])
    assert len({p.key for p in close}) == 2


def test_points_without_a_path_to_the_outcome_share_the_first_fit():
    pts = grid_points([0, 0.5, 1], [0, 0.3], [0, 1])
    assert shared_points(pts) == {"t0.5_m0_y0": "t0_m0_y0", "t1_m0_y0": "t0_m0_y0"}
    assert shared_points(grid_points([0.5], [0], [0, 1])) == {}


def test_naive_effect_explained_by_true_confounder(disposition, tmp_path):
    path, sim = disposition
    gt, gy = true_strength(sim)
    spec = sim_spec(path, mediator=None, within=False, disposition=False, **SAMPLER)
    res = confounding_sweep(
        spec,
        tmp_path / "sweep",
        on_treatment=[0.0, round(gt, 2)],
        on_outcome=[0.0, round(gy, 2)],
        benchmark=["threat", "alliance"],
    )
    t = res.table[res.table["effect"] == "total"].set_index(["on_treatment", "on_outcome"])
    naive = t.loc[(0.0, 0.0)]
    assert naive["hdi_low"] > 0, "without a confounder the spurious effect should show"
    at_truth = t.loc[(round(gt, 2), round(gy, 2))]
    assert not at_truth["excludes_zero"], "a confounder of the true strength explains it away"
    assert at_truth["mean"] < naive["mean"]
    tp = res.tipping_point().set_index("on_treatment")
    assert tp.loc[round(gt, 2), "on_outcome"] == pytest.approx(round(gy, 2))
    assert set(res.benchmarks["benchmark"]) == {"threat", "alliance"}
    for f in ("confounder.csv", "confounder_benchmarks.csv", "confounder_contour.png"):
        assert (tmp_path / "sweep" / f).stat().st_size > 0
    # (0, 0) and (γ_T, 0): no path from U to the outcome, one fit
    assert len(res.computed) == 3 and res.skipped == []
    assert res.shared == {f"t{round(gt, 2):g}_m0_y0": "t0_m0_y0"}
    rows = t.xs(0.0, level="on_outcome")
    assert rows["mean"].nunique() == 1 and rows["hdi_low"].nunique() == 1


def test_benchmark_must_be_adjusted_for(disposition, tmp_path):
    path, _ = disposition
    spec = sim_spec(path, mediator=None, within=False, disposition=False, **SAMPLER)
    with pytest.raises(EmbedcausalError, match=r"benchmark 'hierarchy' is not in the adjustment"):
        confounding_sweep(spec, tmp_path, on_treatment=[0], on_outcome=[0], benchmark=["hierarchy"])


def write_model(path: Path, csv: Path) -> Path:
    text = f"""
name = "resume test"
[data]
path = "{csv}"
[dag]
edges = ["inst_ties -> participation", "threat -> inst_ties", "threat -> participation"]
[estimand]
treatment = "inst_ties"
outcome = "participation"
[model]
varying = ["mission", "country"]
[sampler]
draws = 100
tune = 100
chains = 1
seed = 3
[sensitivity.confounder]
on_treatment = [0.0, 0.5, 1.0]
on_outcome = [0.0, 1.0]
"""
    path.write_text(text)
    return path


def run_cli(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "embedcausal.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        **kw,
    )


def test_grid_point_draws_do_not_depend_on_the_points_before(disposition, tmp_path):
    # a worker reuses the compiled model and swaps the strengths as data; nutpie's initial
    # point read the first compiled point's strengths, so a point's draws depended on which
    # points the worker had sampled before, and a resumed sweep gave other numbers
    from embedcausal.plan import design
    from embedcausal.samplers import clear_compiled
    from embedcausal.sensitivity.confounding import fit_point

    path, _ = disposition
    d = design(write_model(tmp_path / "m.toml", path))
    strengths = {"on_treatment": 1.0, "on_mediator": 0.0, "on_outcome": 1.0}
    clear_compiled()
    fit_point(d, {"on_treatment": 0.0, "on_mediator": 0.0, "on_outcome": 0.0})  # compiled here
    warm = fit_point(d, strengths)  # the compiled model, strengths swapped
    clear_compiled()
    fresh = fit_point(d, strengths)  # compiled at these strengths
    clear_compiled()
    np.testing.assert_array_equal(warm["total"].values, fresh["total"].values)


def test_killed_sweep_resumes_with_same_table(disposition, tmp_path):
    path, _ = disposition
    model = write_model(tmp_path / "m.toml", path)
    full = run_cli("sensitivity", str(model), "--out", str(tmp_path / "full"), "--json")
    assert full.returncode == 0, full.stderr
    expected = json.loads(full.stdout)["confounder"]["table"]
    assert json.loads(full.stdout)["confounder"]["shared"] == {
        "t0.5_m0_y0": "t0_m0_y0",
        "t1_m0_y0": "t0_m0_y0",
    }

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedcausal.cli", "sensitivity", str(model), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    points = out / "confounder" / "points"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(points.glob("*.nc"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.stem for p in points.glob("*.nc")}
    assert 2 <= len(done_before) < 4  # 6 points, 4 fits: on_outcome = 0 is fitted once

    again = run_cli("sensitivity", str(model), "--out", str(out))
    assert again.returncode == 2 and "--resume" in again.stderr

    resumed = run_cli("sensitivity", str(model), "--out", str(out), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    body = json.loads(resumed.stdout)["confounder"]
    assert set(body["skipped"]) == done_before
    assert len(body["computed"]) == 4 - len(done_before)
    got = {(r["on_treatment"], r["on_outcome"], r["effect"]): r["mean"] for r in body["table"]}
    want = {(r["on_treatment"], r["on_outcome"], r["effect"]): r["mean"] for r in expected}
    assert got.keys() == want.keys()
    np.testing.assert_allclose([got[k] for k in want], [want[k] for k in want], rtol=1e-12)


def test_all_analyses_from_a_model_file(disposition, tmp_path):
    path, _ = disposition
    model = tmp_path / "all.toml"
    model.write_text(
        write_model(tmp_path / "base.toml", path)
        .read_text()
        .replace(
            "on_treatment = [0.0, 0.5, 1.0]\non_outcome = [0.0, 1.0]",
            'on_treatment = [0.0, 0.5]\non_outcome = [0.0, 1.0]\nbenchmark = ["threat"]',
        )
        + """
[sensitivity.ovb]
benchmark = ["threat"]
kd = [1, 2]
fixed_effects = ["region"]
[sensitivity.priors]
power_scaling = true
sets.tight = { beta = "Normal(0, 0.5)" }
[sensitivity.refuters]
simulations = 3
"""
    )
    from embedcausal.sensitivity.sweep import run_sensitivity

    res = run_sensitivity(model, tmp_path / "out")
    body = res.to_dict()
    assert {"confounder", "ovb", "power_scaling", "prior_sets", "refuters"} <= set(body)
    assert body["ovb"]["bounds"][0]["bound_label"] == "1x threat"
    assert set(res.prior_sets["prior_set"]) == {"base", "tight"}
    assert list(res.power_scaling["effect"]) == ["total"]
    assert set(res.refuters.table["refuter"]) == {
        "placebo_treatment",
        "random_common_cause",
        "data_subset",
    }
    for f in (
        "sensitivity.json",
        "ovb.json",
        "ovb_contour.png",
        "prior_sets.csv",
        "power_scaling.csv",
        "refuters.json",
        "confounder.csv",
    ):
        assert (tmp_path / "out" / f).stat().st_size > 0
    saved = json.loads((tmp_path / "out" / "sensitivity.json").read_text())
    assert saved["model"] == "resume test"
    assert "latent confounder grid (3 fitted, 0 resumed, 1 sharing a fit" in res.summary()
    assert saved["confounder"]["shared"] == {"t0.5_m0_y0": "t0_m0_y0"}


def test_model_without_sensitivity_table_is_refused(tmp_path):
    from embedcausal.sensitivity.sweep import run_sensitivity

    with pytest.raises(EmbedcausalError, match=r"no \[sensitivity\] table"):
        run_sensitivity(REPO / "models" / "full.toml", tmp_path / "out")


@pytest.mark.parametrize("jobs", [1, 2])
def test_sweep_workers_neither_identify_nor_read_data(disposition, tmp_path, jobs):
    import _sweep_tasks

    from embedcausal.parallel import run_grid
    from embedcausal.plan import design
    from embedcausal.sensitivity.confounding import fingerprint

    path, _ = disposition
    spec = sim_spec(
        path, mediator=None, within=False, disposition=False, draws=50, tune=50, chains=1
    )
    d = design(spec)  # the parent identifies and reads, once
    before = dict(_sweep_tasks.CALLS)
    res = run_grid(
        _sweep_tasks.counted_point,
        grid_points([0.0, 0.5], [0.0], [0.0, 1.0]),
        tmp_path / "grid",
        jobs=jobs,
        context=d,
        fingerprint=fingerprint(d),
        progress=False,
    )
    attrs = [res.load(k).attrs for k in res.keys]
    assert len(attrs) == 4
    if jobs == 1:  # in this process: the counters must not have moved during the sweep
        assert _sweep_tasks.CALLS == before
    else:
        assert {int(a["pid"]) for a in attrs} != {os.getpid()}
        assert all(int(a["dowhy_calls"]) == 0 and int(a["read_csv_calls"]) == 0 for a in attrs)
