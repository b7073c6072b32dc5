"""The public API as users call it: ``import embedcausal as ec``, each verb twice."""

from __future__ import annotations

import importlib
import pkgutil
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import embedcausal as ec

HERE = Path(__file__).parent
TINY = HERE / "model_files" / "valid.toml"


def test_exports_are_not_shadowed_by_submodules():
    for m in pkgutil.walk_packages(ec.__path__, "embedcausal."):
        importlib.import_module(m.name)
    bad = [n for n in ec.__all__ if isinstance(getattr(ec, n), types.ModuleType)]
    assert not bad, f"exports shadowed by submodules: {bad}"
    assert all(callable(getattr(ec, n)) for n in ec.__all__)
    # an exported verb never shares its name with a submodule
    modules = {m.name.rsplit(".", 1)[-1] for m in pkgutil.walk_packages(ec.__path__)}
    assert not set(ec.__all__) & modules


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        _ = ec.fitt


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(HERE / "model_files" / "tiny.csv")


def test_spec_identify_design_model_twice(frame):
    for _ in range(2):
        spec = ec.load_spec(TINY)
        assert isinstance(spec, ec.ModelSpec)
        assert ec.identify(spec, estimand="nde").identified
        d = ec.design(spec, frame)
        assert isinstance(d, ec.Design) and d.n_obs == len(frame)
        model = ec.build_model(d)
        assert "participation" in model.named_vars
        assert ec.plan_part(d, "outcome").groups
        assert ec.node_roles(spec.dag(), "inst_ties", "participation", "personal_ties")


def test_fit_twice_and_the_run_verbs(frame, tmp_path):
    d = ec.design(ec.load_spec(TINY), frame)
    runs = [ec.fit(d, draws=40, tune=40, chains=1, progress=False) for _ in range(2)]
    for i, run in enumerate(runs):
        assert isinstance(run, ec.Run)
        assert isinstance(run.idata, xr.DataTree)
        assert set(run.effects["effect"]) >= {"total", "nde", "nie"}
        np.testing.assert_array_equal(
            run.idata["posterior"]["y_beta"].values, runs[0].idata["posterior"]["y_beta"].values
        )
        saved = run.save(tmp_path / f"run{i}")
        back = ec.load_run(saved)
        assert back.effects.equals(run.effects)
    for _ in range(2):
        diag = ec.diagnose(runs[0].idata)
        assert isinstance(diag, ec.Diagnostics) and diag.min_ess_bulk > 0
        table = ec.effects_table(runs[0].idata["effects"].to_dataset())
        assert list(table["effect"])[:3] == ["total", "nde", "nie"]
        ds = ec.gcomp(runs[0].idata, d)
        np.testing.assert_allclose(ds["total"], runs[0].idata["effects"]["total"])


def test_data_verbs_twice(tmp_path):
    for i in range(2):
        sim = ec.simulate("personal", seed=i, n_countries=10, n_missions=4)
        assert isinstance(sim, ec.Simulation) and len(sim.data) == 40
        path, _ = sim.save(tmp_path / f"s{i}.csv")
        assert len(ec.read_table(path)) == 40
        panel = ec.load_coalition_panel()
        assert {"country", "mission", "participation"} <= set(panel.columns)


def test_plot_dag_twice(tmp_path):
    dag = ec.load_spec(TINY).dag()
    for i in range(2):
        fig = ec.plot_dag(dag)
        assert fig.axes
        assert ec.draw_dag(dag, tmp_path / f"dag{i}.png").stat().st_size > 0
