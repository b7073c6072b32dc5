"""Fitting: identification gate, sampler backends, reproducibility, diagnostics, saved runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _specs import sim_spec

from embedcausal.errors import IdentificationError, RunError
from embedcausal.fitting import fit
from embedcausal.runs import load_run
from embedcausal.simulation import simulate
from embedcausal.spec import ModelSpec

FAST = {"draws": 100, "tune": 150, "chains": 2}


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "personal.csv"
    simulate("personal", seed=3, n_countries=30, n_missions=12).save(path)
    return path


@pytest.fixture(scope="module")
def run(sim_csv):
    return fit(sim_spec(sim_csv), **FAST)


def test_run_is_labelled_datatree(run):
    post = run.idata["posterior"]
    assert {"chain", "draw", "country", "mission", "region", "y_term"} <= set(post.dims)
    assert post["y_country"].dims == ("chain", "draw", "country")
    eff = run.idata["effects"]
    assert eff["nie"].dims == ("chain", "draw")
    assert "participation" in run.idata["log_likelihood"]
    assert set(run.effects["effect"]) == {"total", "nde", "nie", "prop_mediated", "p_nie_gt_nde"}
    assert run.identification["nde"].kind == "within"
    assert len(run.data_hash) == 64 and run.versions["pymc"].startswith("6")


def test_log_likelihood_is_computed_when_first_read(sim_csv):
    # fit attaches the outcome's log-likelihood lazily: the group is there (az.loo finds it,
    # its dims and size show), its values are made on the first read, equal to computing
    # them at once, and a pickled run carries them
    import pickle
    import warnings

    import arviz as az

    from embedcausal.loglik import log_likelihood

    fresh = fit(sim_spec(sim_csv), **FAST)
    var = fresh.idata["log_likelihood"]["participation"]
    assert var.dims == ("chain", "draw", "obs") and var.dtype == np.float32
    assert var.shape == (2, 100, fresh.n_obs)
    lazy = var.variable._data
    assert not isinstance(lazy, np.ndarray) and lazy.array._values is None  # nothing computed
    sent = pickle.loads(pickle.dumps(fresh.idata["log_likelihood"].to_dataset()))
    eager = log_likelihood(fresh.idata, fresh.design)["participation"].values
    np.testing.assert_array_equal(var.values, eager)
    np.testing.assert_array_equal(sent["participation"].values, eager)
    with warnings.catch_warnings():  # 200 draws: Pareto k warnings are expected
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        assert np.isfinite(az.loo(fresh.idata, var_name="participation").elpd)


def test_diagnostics_flag_short_chains(run):
    # 100 draws x 2 chains cannot reach 400 effective draws: effects must be flagged
    assert run.diagnostics["ok"] is False
    assert any("ESS" in p for p in run.diagnostics["problems"])
    assert not run.effects["reliable"].any()


def test_same_seed_same_draws(sim_csv, run):
    again = fit(sim_spec(sim_csv), **FAST)
    np.testing.assert_array_equal(
        again.idata["posterior"]["y_beta"].values, run.idata["posterior"]["y_beta"].values
    )
    other = fit(sim_spec(sim_csv), seed=2, **FAST)
    assert not np.array_equal(
        other.idata["posterior"]["y_beta"].values, run.idata["posterior"]["y_beta"].values
    )


def test_pymc_backend(sim_csv):
    r = fit(sim_spec(sim_csv, mediator=None), backend="pymc", draws=60, tune=60, chains=1)
    assert r.idata["posterior"].sizes["draw"] == 60
    assert list(r.effects["effect"]) == ["total"]
    # PyMC's own NUTS ran (PyMC 6 would pick nutpie unless asked): its statistics, not nutpie's
    stats = r.idata["sample_stats"]
    assert "tree_depth" in stats and "depth" not in stats


def test_save_load_roundtrip(run, tmp_path):
    d = run.save(tmp_path / "run")
    back = load_run(d)
    np.testing.assert_array_equal(
        back.idata["effects"]["total"].values, run.idata["effects"]["total"].values
    )
    assert back.effects.equals(run.effects)
    assert json.loads(json.dumps(back.identification["nie"].to_dict())) == json.loads(
        json.dumps(run.identification["nie"].to_dict())
    )
    meta = json.loads((d / "run.json").read_text())
    assert meta["data_hash"] == run.data_hash
    with pytest.raises(RunError, match="already exists"):
        run.save(d)


def test_crashed_save_leaves_nothing(run, tmp_path, monkeypatch):
    import xarray as xr

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", boom)
    with pytest.raises(OSError):
        run.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_load_run_errors(tmp_path):
    with pytest.raises(RunError, match="not a saved run"):
        load_run(tmp_path)


def test_unidentified_effect_is_refused_then_assumed(sim_csv):
    spec = sim_spec(sim_csv)
    raw = dict(spec.raw)
    raw["dag"] = {k: v for k, v in raw["dag"].items() if k != "constant_within"}
    bad = ModelSpec.from_dict(raw, source="confounded.toml", base_dir=sim_csv.parent)
    with pytest.raises(IdentificationError, match=r"inst_ties <- disposition -> participation"):
        fit(bad, **FAST)
    raw["estimand"] = {
        **raw["estimand"],
        "effects": ["total"],
        "assume": ["disposition is absorbed by the within split"],
    }
    raw["dag"] = {**raw["dag"]}
    assumed = ModelSpec.from_dict(raw, source="assumed.toml", base_dir=sim_csv.parent)
    r = fit(assumed, draws=50, tune=50, chains=1)
    from embedcausal.report import format_effects

    assert "assumed (estimand.assume): disposition is absorbed" in format_effects(r)


def test_within_identification_requires_split(sim_csv):
    spec = sim_spec(sim_csv, within=False)
    with pytest.raises(IdentificationError, match=r"within_between"):
        fit(spec, **FAST)


def test_same_seed_same_draws_across_processes(sim_csv, run, tmp_path):
    # a fresh process compiles afresh; the draws must not depend on that
    out = tmp_path / "beta.npy"
    tests, csv = str(Path(__file__).parent), str(sim_csv)
    code = (
        f"import sys, numpy as np; from pathlib import Path; sys.path.insert(0, {tests!r})\n"
        "from _specs import sim_spec\nfrom embedcausal.fitting import fit\n"
        f"r = fit(sim_spec(Path({csv!r})), draws=100, tune=150, chains=2, progress=False)\n"
        f"np.save({str(out)!r}, r.idata['posterior']['y_beta'].values)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=600)
    np.testing.assert_array_equal(np.load(out), run.idata["posterior"]["y_beta"].values)


def test_blas_is_single_threaded_while_nutpie_samples(sim_csv, monkeypatch):
    # nutpie's chains are threads calling BLAS at once; a multithreaded OpenBLAS then rounds
    # differently from run to run under load (same seed, other draws), so BLAS must be
    # limited to one thread while it samples, and given back afterwards
    import nutpie
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    seen: list[list[int]] = []
    real = nutpie.sample

    def spy(*args, **kwargs):
        seen.append(blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(nutpie, "sample", spy)
    fit(sim_spec(sim_csv), **FAST)
    assert seen and all(n == 1 for threads in seen for n in threads), seen
    assert blas_threads() == before


def test_run_directory_is_self_contained(run, sim_csv, tmp_path):
    import shutil

    from embedcausal.compare import compare_runs

    a = run.save(tmp_path / "project" / "a")
    b = run.save(tmp_path / "project" / "b")
    moved = tmp_path / "renamed"
    shutil.move(tmp_path / "project", moved)  # the project folder renamed
    hidden = sim_csv.with_name("moved-away.csv")
    sim_csv.rename(hidden)  # and the data file gone
    try:
        back = load_run(moved / "a")
        other = load_run(moved / "b")
    finally:
        hidden.rename(sim_csv)
    assert back.effects.equals(run.effects)
    assert "log_likelihood" in back.idata.children  # recomputed from the stored data
    np.testing.assert_allclose(
        back.idata["log_likelihood"]["participation"].values,
        run.idata["log_likelihood"]["participation"].values,
        rtol=1e-6,
    )
    assert compare_runs({"a": back, "b": other}).n_obs == run.n_obs
    assert a.name == "a" and b.name == "b"


def test_diagnostics_of_a_stuck_chain_flag_it_without_warnings():
    # a sampler stopped early (a partial run) may have drawn the same point every time: the
    # energy has no variance, E-BFMI is 0/0; that is flagged through R-hat/ESS, not warned about
    from arviz import from_dict

    from embedcausal.diagnostics import diagnose

    stuck = np.ones((1, 3))
    diag = diagnose(from_dict({"posterior": {"x": stuck}, "sample_stats": {"energy": stuck}}))
    assert not diag.ok and any("R-hat" in p for p in diag.problems)
    # the checks that failed, by name (what a study's table records), and a grid point's verdict
    assert {"r_hat", "ess_bulk"} <= set(diag.failed_checks)
    attrs = diag.point_attrs()
    assert attrs["diagnostics_ok"] == 0 and attrs["diagnostics_problems"] == "; ".join(
        diag.problems
    )
    assert attrs["divergences"] == 0
    np.testing.assert_equal(attrs["max_r_hat"], diag.max_r_hat)  # NaN: a constant parameter
