"""The rest of the public API as users call it: ``import embedcausal as ec``, each verb twice.

``tests/test_api.py`` covers the model-file, fitting and data verbs; this file calls every
other exported verb through ``ec.`` twice in a row, so that a verb that keeps state between
calls (a cache, an output directory, a pyplot figure, a compiled model) fails here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

import embedcausal as ec

HERE = Path(__file__).parent
TINY = HERE / "model_files" / "valid.toml"
SAMPLER = {"draws": 40, "tune": 40, "chains": 1, "seed": 5}
SENSITIVITY = {
    "confounder": {"on_treatment": [0.0, 1.0], "on_outcome": [0.0, 1.0], "benchmark": ["threat"]},
    "ovb": {"benchmark": ["threat"], "kd": [1, 2]},
    "refuters": {"methods": ["placebo_treatment"], "simulations": 2},
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(HERE / "model_files" / "tiny.csv")


@pytest.fixture(scope="module")
def spec():
    """The tiny model file with a small sampler and a small ``[sensitivity]`` table."""
    return ec.load_spec(TINY).replace(sampler=SAMPLER, sensitivity=SENSITIVITY)


@pytest.fixture(scope="module")
def tiny(spec, frame):
    """The tiny model file's design (identified and validated once)."""
    return ec.design(spec, frame)


@pytest.fixture(autouse=True)
def _pyplot_untouched():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def square(payload):
    """A ``run_grid`` task: ``y = scale * x**2``."""
    return xr.Dataset({"y": ((), payload["scale"] * payload["params"]["x"] ** 2)})


# -- graphs, identification, priors ---------------------------------------------------------------
def test_dag_identification_and_prior_verbs_twice(spec, frame):
    edges = ["t -> m", "m -> y", "t -> y", "c -> t", "c -> y"]
    tables = []
    for _ in range(2):
        dag = ec.CausalDAG.from_edges(edges)
        assert isinstance(dag, ec.CausalDAG) and dag.nodes == ("c", "m", "t", "y")
        # c -> t -> m and c -> y: c and m are independent given t
        assert [(i.x, i.y, i.given) for i in ec.implied_independences(dag)] == [("c", "m", ("t",))]

        ident = ec.identify(spec, estimand="nde")
        assert isinstance(ident, ec.Identification)
        assert ident.identified and ident.estimand == "nde" and ident.mediator == "personal_ties"

        table = ec.test_implications(spec.dag(), frame)
        assert {"x", "y", "given", "p_value", "p_adjusted", "rejected"} <= set(table.columns)
        assert len(table) == len(ec.implied_independences(spec.dag())) > 0
        tables.append(table)

        prior = ec.parse_prior("Normal(0, 2.5)")
        assert prior.dist == "Normal" and prior.params == {"mu": 0.0, "sigma": 2.5}
        assert str(ec.parse_prior("HalfNormal(1)", support="positive")) == "HalfNormal(1)"
    pd.testing.assert_frame_equal(tables[0], tables[1])


# -- data and sampling ----------------------------------------------------------------------------
def test_prepare_twice(spec, frame):
    hashes = []
    for _ in range(2):
        prepared = ec.prepare(spec, frame, adjustment=["threat"])
        assert isinstance(prepared, ec.PreparedData)
        assert prepared.treatment == "inst_ties" and prepared.mediator == "personal_ties"
        assert prepared.adjustment == ("threat",) and len(prepared.y) == len(frame)
        assert {"mission", "country", "region"} <= set(prepared.group_codes)
        hashes.append(prepared.data_hash)
    assert hashes[0] == hashes[1] != ""


def test_sample_twice(tiny):
    trees = []
    for _ in range(2):
        tree = ec.sample(tiny)
        assert isinstance(tree, xr.DataTree)
        post = tree["posterior"]
        assert post.sizes["chain"] == SAMPLER["chains"] and post.sizes["draw"] == SAMPLER["draws"]
        trees.append(tree)
    for name in trees[0]["posterior"].data_vars:
        np.testing.assert_array_equal(
            trees[0]["posterior"][name].values, trees[1]["posterior"][name].values
        )


# -- grids ----------------------------------------------------------------------------------------
def test_grid_point_and_run_grid_twice(tmp_path):
    for i in range(2):
        points = [ec.GridPoint(f"x{x}", {"x": x}) for x in (1, 2)]
        assert points[0] == ec.GridPoint("x1", {"x": 1})
        result = ec.run_grid(
            square, points, tmp_path / f"grid{i}", jobs=1, context={"scale": 3.0}, progress=False
        )
        assert result.keys == ["x1", "x2"] and result.computed == ["x1", "x2"]
        assert {k: float(ds["y"]) for k, ds in result.datasets().items()} == {
            "x1": 3.0,
            "x2": 12.0,
        }
        assert (tmp_path / f"grid{i}" / "points" / "x2.nc").stat().st_size > 0


def test_coverage_study_twice(tmp_path):
    fits = []
    for i in range(2):
        rows, summary = ec.coverage_study(
            tmp_path / f"study{i}",
            mechanisms=["personal"],
            seeds=[0],
            n_countries=10,
            n_missions=3,
            **{k: SAMPLER[k] for k in ("draws", "tune", "chains")},
        )
        assert list(rows["effect"]) == ["total", "nde", "nie"]
        assert {"truth", "mean", "hdi_low", "hdi_high", "covered"} <= set(rows.columns)
        # a flagged fit says which check it failed (so few draws: the effective sample size)
        assert {"failed_checks", "max_r_hat", "min_ess_bulk", "divergences"} <= set(rows.columns)
        assert not rows["diagnostics_ok"].any()
        assert rows["failed_checks"].str.contains("ess_bulk").all()
        assert set(summary["effect"]) == {"total", "nde", "nie"}
        assert (summary["fits"] == 1).all()
        assert (tmp_path / f"study{i}" / "coverage.csv").stat().st_size > 0
        fits.append(rows)
    pd.testing.assert_frame_equal(fits[0], fits[1])


# -- sensitivity ----------------------------------------------------------------------------------
def test_ovb_and_refute_twice(tiny, frame):
    results = []
    for _ in range(2):
        res = ec.ovb(
            frame,
            outcome="participation",
            treatment="inst_ties",
            covariates=["threat"],
            benchmark=["threat"],
            kd=[1, 2],
        )
        assert np.isfinite(res.estimate) and res.se > 0
        assert list(res.bounds["bound_label"]) == ["1x threat", "2x threat"]
        results.append(res.estimate)

        ref = ec.refute(tiny, methods=["placebo_treatment"], simulations=2, seed=1)
        assert list(ref.table["refuter"]) == ["placebo_treatment"]
        assert set(ref.adjustment) == {"threat"} and ref.n_obs == len(frame)
        results.append(ref.estimate)
        results.append(ref.table["new_effect"].iloc[0])
    assert results[:3] == results[3:]


def test_confounding_sweep_and_plot_confounding_twice(tiny, tmp_path):
    tables = []
    for i in range(2):
        out = tmp_path / f"sweep{i}"
        res = ec.confounding_sweep(tiny, out, progress=False)
        # 4 points, 3 fits: the two without a path from U to the outcome share one
        assert len(res.computed) == 3 and res.skipped == [] and len(res.shared) == 1
        assert {"total", "nde", "nie"} <= set(res.table["effect"])
        assert list(res.benchmarks["benchmark"]) == ["threat"]
        for f in ("confounder.csv", "confounder_benchmarks.csv", "confounder_contour.png"):
            assert (out / f).stat().st_size > 0
        tables.append(res.table)

        fig = ec.plot_confounding(res)
        assert isinstance(fig, Figure)
        assert next(a.get_title() for a in fig.axes if a.get_title()) == "total effect"
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_rho_sensitivity_twice(spec, frame, tmp_path):
    probit = ec.design(spec.replace(model={"link": "probit"}), frame)
    tables = []
    for i in range(2):
        out = tmp_path / f"rho{i}"
        res = ec.rho_sensitivity(probit, out, rho=[0.3, 0.0])
        assert sorted(res.computed) == ["rho0", "rho0.3"] and res.skipped == []
        assert list(res.table["rho"].unique()) == [0.0, 0.3]
        assert list(res.crossings().columns)[:2] == ["effect", "rho_at_zero"]
        for f in ("rho.csv", "rho_crossings.csv", "rho.png"):
            assert (out / f).stat().st_size > 0
        assert isinstance(res.plot(), Figure)
        tables.append(res.table)
    pd.testing.assert_frame_equal(tables[0], tables[1])  # same seed, compiled model reused


def test_run_sensitivity_twice(tiny, tmp_path):
    for i in range(2):
        out = tmp_path / f"sens{i}"
        res = ec.run_sensitivity(tiny, out, only=["ovb", "refuters"])
        assert res.confounder is None and res.ovb is not None
        assert list(res.refuters.table["refuter"]) == ["placebo_treatment"]
        for f in ("sensitivity.json", "ovb.json", "ovb_contour.png", "refuters.json"):
            assert (out / f).stat().st_size > 0


# -- figures of a fitted run, comparison, report --------------------------------------------------
def test_run_plots_twice(small_run):
    for _ in range(2):
        fig = ec.plot_effects(small_run)
        assert isinstance(fig, Figure)
        assert fig.axes[0].get_yticklabels()[0].get_text() == "total effect"
        assert isinstance(ec.plot_effect_curve(small_run, points=3, draws=20), Figure)
        assert isinstance(ec.plot_ppc(small_run, draws=20), Figure)
        fig = ec.plot_diagnostics(small_run)  # the worst parameters: trace and rank each
        assert isinstance(fig, Figure) and fig.axes and len(fig.axes) % 2 == 0
        fig = ec.plot_diagnostics(small_run, parameters=[("y_intercept", {})])
        assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "y_intercept"
        table = pd.DataFrame(
            {
                "rho": [-0.5, 0.0, 0.5],
                "effect": "nie",
                "mean": [0.2, 0.1, -0.1],
                "hdi_low": [0.1, 0.0, -0.2],
                "hdi_high": [0.3, 0.2, 0.0],
            }
        )
        fig = ec.plot_rho(table)
        assert isinstance(fig, Figure) and fig.axes[0].get_xlabel().startswith("ρ")


def test_compare_runs_plot_loo_power_scaling_twice(small_run):
    tables = []
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # few draws: ArviZ warns about the Pareto k's
            comparison = ec.compare_runs({"a": small_run, "b": small_run})
        assert set(comparison.table.index) == {"a", "b"}
        assert comparison.n_obs == small_run.n_obs
        fig = ec.plot_loo(comparison)
        assert isinstance(fig, Figure) and len(fig.axes) == 2

        ps = ec.power_scaling(small_run)
        assert list(ps.columns) == ["effect", "prior", "likelihood", "diagnosis"]
        assert list(ps["effect"]) == ["total", "nde", "nie"]
        tables.append(ps)
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_write_report_twice(small_run_dir, tmp_path):
    for i in range(2):
        out = ec.write_report([small_run_dir], tmp_path / f"report{i}.html", curve=False, ppc=False)
        assert out == tmp_path / f"report{i}.html" and out.stat().st_size > 0
        assert out.read_text().lstrip().lower().startswith("<!doctype html>")
