"""Figures of embedcausal.plots: returned, labelled with units and the contrast, nothing clipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from embedcausal.errors import EmbedcausalError
from embedcausal.plots import (
    PlotError,
    clipped_text,
    effect_curve,
    plot_confounding,
    plot_diagnostics,
    plot_effect_curve,
    plot_effects,
    plot_loo,
    plot_ppc,
    plot_rho,
    posterior_predictive,
    ppc_table,
    save_figure,
    tipping_line,
)


def texts(fig: Figure) -> str:
    """Every visible string of a figure (titles, labels, ticks, legends), joined."""
    from matplotlib.text import Text

    return "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_visible())


def check(fig: Figure) -> None:
    """A returned, pyplot-free figure whose text all lies inside it."""
    assert isinstance(fig, Figure)
    assert clipped_text(fig) == []


@pytest.fixture(autouse=True)
def _pyplot_untouched():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def test_clipped_text_sees_text_outside_the_figure():
    fig = Figure(figsize=(3, 2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlabel("inside")
    assert clipped_text(fig) == []
    fig.text(1.05, 0.5, "outside")
    assert clipped_text(fig) == ["outside"]


# -- effects --------------------------------------------------------------------------------------
def test_plot_effects_one_run(small_run):
    fig = plot_effects(small_run, rope=(-0.02, 0.02))
    check(fig)
    ax = fig.axes[0]
    t0, t1 = small_run.contrast
    assert ax.get_xlabel() == (
        f"change in P(participation): inst_ties {t0:g} → {t1:g} (probability scale)"
    )
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "total effect",
        "natural direct effect (NDE)",
        "natural indirect effect (NIE)",
    ]
    assert "90% HDI (chains pooled)" in ax.get_title()
    assert "ROPE [-0.02, 0.02]" in texts(fig)


def test_plot_effects_hdi_pools_chains(small_run):
    fig = plot_effects(small_run, effects=["total"])
    line = fig.axes[0].lines[1]  # after the zero line: the interval of the only row
    lo, hi = line.get_xdata()
    row = small_run.effects.set_index("effect").loc["total"]
    # the saved table's HDI is computed over all chains together, as the figure's
    assert lo == pytest.approx(row["hdi_low"]) and hi == pytest.approx(row["hdi_high"])


def test_plot_effects_rival_mechanisms_side_by_side(small_run):
    fig = plot_effects({"institutional": small_run, "personal": small_run}, hdi_prob=0.8)
    check(fig)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["institutional", "personal"]
    # the legend sits outside the data (to the right of the axes)
    fig.draw_without_rendering()
    r = fig._get_renderer()
    assert legend.get_window_extent(r).x0 >= fig.axes[0].get_window_extent(r).x1
    assert "80% HDI" in fig.axes[0].get_title()


def test_plot_effects_on_given_axes_and_bad_arguments(small_run):
    host = Figure()
    ax = host.add_subplot()
    assert plot_effects(small_run, ax=ax) is host
    with pytest.raises(PlotError, match=r"rope = \(0.1, -0.1\); expected \(low, high\)"):
        plot_effects(small_run, rope=(0.1, -0.1))
    with pytest.raises(PlotError, match="unknown effect 'ate'"):
        plot_effects(small_run, effects=["ate"])
    with pytest.raises(PlotError, match="hdi_prob"):
        plot_effects(small_run, hdi_prob=1.5)
    with pytest.raises(PlotError, match="expected one matplotlib Axes"):
        plot_effects(small_run, ax=[ax, ax])
    assert issubclass(PlotError, EmbedcausalError)


def test_effect_curve_matches_the_runs_own_gcomputation(small_run):
    curve = effect_curve(small_run, draws=None, points=5)
    t0, t1 = small_run.contrast
    at_to = curve[curve["treatment_value"] == t1].set_index("effect")["mean"]
    saved = small_run.effects.set_index("effect")["mean"]
    for e in ("total", "nde", "nie"):
        assert at_to[e] == pytest.approx(saved[e], rel=1e-9, abs=1e-12)
    at_from = curve[curve["treatment_value"] == t0]
    assert (at_from[["mean", "hdi_low", "hdi_high"]].to_numpy() == 0).all()
    x = np.asarray(small_run.prepared.values["inst_ties"], dtype=float)
    grid = np.unique(curve["treatment_value"])
    assert grid.min() == pytest.approx(min(np.quantile(x, 0.05), t0))
    assert grid.max() == pytest.approx(max(np.quantile(x, 0.95), t1))
    total = curve[curve["effect"] == "total"].set_index("treatment_value")
    nde = curve[curve["effect"] == "nde"].set_index("treatment_value")
    nie = curve[curve["effect"] == "nie"].set_index("treatment_value")
    np.testing.assert_allclose(total["mean"], nde["mean"] + nie["mean"], atol=1e-12)


def test_plot_effect_curve(small_run):
    fig = plot_effect_curve(small_run, points=5, draws=40)
    check(fig)
    ax = fig.axes[0]
    t0, _ = small_run.contrast
    assert ax.get_xlabel().startswith("inst_ties (data units; observed p5–p95)")
    assert f"vs inst_ties = {t0:g}" in ax.get_ylabel()
    assert "probability scale" in ax.get_ylabel()
    assert "40 draws" in ax.get_title()
    with pytest.raises(PlotError, match="points = 1"):
        effect_curve(small_run, points=1)


# -- checks ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pp(small_run):
    return posterior_predictive(small_run, draws=40)


@pytest.mark.parametrize("by", ["mission", "country_group", "region"])
def test_plot_ppc(small_run, pp, by):
    fig = plot_ppc(small_run, by=by, pp=pp)
    check(fig)
    rates, mediator = fig.axes
    assert rates.get_ylabel() == "rate of participation (share of rows = 1)"
    assert mediator.get_xlabel() == "personal_ties (data units)"
    assert "40 draws" in texts(fig)


def test_ppc_table(small_run, pp):
    t = ppc_table(small_run, "mission", pp=pp)
    assert len(t) == 10 and t["n"].sum() == small_run.n_obs
    assert ((t["low"] <= t["predicted"]) & (t["predicted"] <= t["high"])).all()
    # observed rates are the data's
    y = small_run.prepared.y
    assert t["observed"].mul(t["n"]).sum() == pytest.approx(y.sum())
    groups = ppc_table(small_run, "country_group", pp=pp)
    assert len(groups) == 10 and groups["predicted"].is_monotonic_increasing


def test_plot_ppc_bad_grouping(small_run):
    with pytest.raises(PlotError, match=r"by = 'missions'; did you mean 'mission'\?"):
        plot_ppc(small_run, by="missions")


def test_plot_diagnostics_names_the_worst_parameters(small_run):
    fig = plot_diagnostics(small_run)
    check(fig)
    worst = small_run.diagnostics.worst
    assert worst  # 2 x 50 draws never pass
    first = next(iter(worst.values()))[0].split(" (")[0]
    assert first in texts(fig)
    title = fig.get_suptitle()
    assert "R-hat ≤ 1.01" in title and "ESS ≥ 200" in title and "divergences" in title


def test_plot_diagnostics_given_parameters(small_run):
    fig = plot_diagnostics(small_run, parameters=[("y_intercept", {})])
    check(fig)
    assert len(fig.axes) == 2
    with pytest.raises(PlotError, match="no posterior variable 'nope'"):
        plot_diagnostics(small_run, parameters=[("nope", {})])


def test_plot_loo(small_run):
    import warnings

    from embedcausal.compare import compare_runs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few draws: ArviZ warns about the Pareto k's
        comparison = compare_runs({"a": small_run, "b": small_run})
    fig = plot_loo(comparison)
    check(fig)
    elpd, k = fig.axes
    assert "ELPD" in elpd.get_xlabel() and "Pareto k" in k.get_title()
    with pytest.raises(PlotError, match="expected a Comparison"):
        plot_loo(object())


# -- sensitivity ----------------------------------------------------------------------------------
def grid_table() -> pd.DataFrame:
    """A hand-made confounder grid: effects shrink as both strengths grow."""
    rows = []
    for gt in (0.0, 0.5, 1.0, 1.5):
        for gy in (0.0, 0.5, 1.0, 1.5, 2.0):
            for e, base in (("total", 0.1), ("nde", 0.04), ("nie", 0.06)):
                m = base - 0.03 * gt * gy
                rows.append(
                    {
                        "on_treatment": gt,
                        "on_mediator": 0.0,
                        "on_outcome": gy,
                        "effect": e,
                        "mean": m,
                        "hdi_low": m - 0.05,
                        "hdi_high": m + 0.05,
                        "hdi_prob": 0.9,
                    }
                )
    t = pd.DataFrame(rows)
    t["excludes_zero"] = (t["hdi_low"] > 0) | (t["hdi_high"] < 0)
    return t


BENCH = pd.DataFrame(
    [
        {"benchmark": "alliance", "on_treatment": 0.3, "on_outcome": 0.4},
        {"benchmark": "threat", "on_treatment": 0.2, "on_outcome": 0.7},
    ]
)


def test_plot_confounding_three_panels_tipping_line_benchmarks():
    fig = plot_confounding(grid_table(), benchmarks=BENCH)
    check(fig)
    panels = [a for a in fig.axes if a.get_title()]
    assert [a.get_title() for a in panels] == [
        "total effect",
        "natural direct effect (NDE)",
        "natural indirect effect (NIE)",
    ]
    for a in panels:
        assert "SD of treatment per SD of U" in a.get_xlabel()
        assert "log-odds per SD of U" in a.get_ylabel()
        # 3x the strongest benchmark is inside the axes, not cut off
        assert a.get_xlim()[1] > 3 * 0.3 and a.get_ylim()[1] > 3 * 0.7
    words = texts(fig)
    assert "tipping line" in words and "alliance × 1, 2, 3" in words and "3×" in words
    # the legend is the figure's, below the panels
    (legend,) = fig.legends
    fig.draw_without_rendering()
    r = fig._get_renderer()
    assert legend.get_window_extent(r).y1 <= min(a.get_window_extent(r).y0 for a in panels)


def test_plot_confounding_from_a_result_object():
    class Result:  # the shape of ConfoundingResult
        table = grid_table()
        benchmarks = BENCH

    fig = plot_confounding(Result(), effects=["nie"])
    check(fig)
    assert [a.get_title() for a in fig.axes if a.get_title()] == ["natural indirect effect (NIE)"]


def test_tipping_line():
    tip = tipping_line(grid_table(), "total").set_index("on_treatment")["on_outcome"]
    # total = 0.1 - 0.03 gt gy; the interval (±0.05) includes 0 once 0.03 gt gy >= 0.05
    assert np.isnan(tip[0.0]) and np.isnan(tip[0.5])
    assert tip[1.0] == pytest.approx(0.05 / 0.03)
    assert tip[1.5] == pytest.approx(0.05 / 0.045)


def test_plot_confounding_bad_tables():
    with pytest.raises(PlotError, match=r"lacks column\(s\) \['hdi_low', 'hdi_high'\]"):
        plot_confounding(grid_table().drop(columns=["hdi_low", "hdi_high"]))
    with pytest.raises(PlotError, match=r"on_mediator = 0\.5 is not in the grid"):
        plot_confounding(grid_table(), on_mediator=0.5)
    with pytest.raises(PlotError, match="none of"):
        plot_confounding(grid_table(), effects=["ate"])


def test_plot_rho_marks_the_zero_crossing(tmp_path):
    rho = np.linspace(-0.5, 0.8, 14)
    table = pd.DataFrame(
        {
            "rho": rho,
            "effect": "nie",
            "mean": 0.1 - 0.3 * rho,
            "hdi_low": 0.05 - 0.3 * rho,
            "hdi_high": 0.15 - 0.3 * rho,
        }
    )
    fig = plot_rho(table)
    check(fig)
    assert "mean = 0 at ρ = 0.33" in texts(fig)
    assert fig.axes[0].get_xlabel().startswith("ρ")
    assert "probability scale" in fig.axes[0].get_ylabel()
    assert save_figure(fig, tmp_path / "rho.svg").read_text().startswith("<?xml")
    with pytest.raises(PlotError, match="lacks column"):
        plot_rho(table.drop(columns="rho"))


def test_save_figure_formats_and_errors(tmp_path):
    fig = plot_rho(
        pd.DataFrame(
            {
                "rho": [0, 1],
                "effect": "total",
                "mean": [1, 2],
                "hdi_low": [0, 1],
                "hdi_high": [2, 3],
            }
        )
    )
    png = save_figure(fig, tmp_path / "f.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(PlotError, match=r"unknown suffix '.gif'"):
        save_figure(fig, tmp_path / "f.gif")
    with pytest.raises(PlotError, match=r"directory .* not found"):
        save_figure(fig, tmp_path / "nope" / "f.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]


def fake_run(name: str, contrast=(12.0, 33.0), *, mediator: bool = False, seed: int = 0):
    """What plot_effects reads of a run: effect draws, names and the contrast."""
    from types import SimpleNamespace

    import xarray as xr

    rng = np.random.default_rng(seed)
    data = {"total": (("chain", "draw"), rng.normal(0.05, 0.02, (4, 100)))}
    if mediator:
        data["nde"] = (("chain", "draw"), rng.normal(0.03, 0.02, (4, 100)))
        data["nie"] = (("chain", "draw"), rng.normal(0.02, 0.01, (4, 100)))
    estimand = SimpleNamespace(treatment="inst_ties", outcome="participation")
    return SimpleNamespace(
        idata=xr.DataTree.from_dict({"effects": xr.Dataset(data)}),
        spec=SimpleNamespace(name=name, estimand=estimand),
        contrast=contrast,
    )


def test_plot_effects_without_a_mediator_and_with_different_contrasts():
    fig = plot_effects(fake_run("institutional"))
    check(fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["total effect"]
    assert ax.get_xlabel() == ("change in P(participation): inst_ties 12 → 33 (probability scale)")
    fig = plot_effects(
        [fake_run("institutional"), fake_run("full", (10.0, 30.0), mediator=True, seed=1)]
    )
    check(fig)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["institutional (inst_ties 12 → 33)", "full (inst_ties 10 → 30)"]
    assert "contrasts in legend" in ax.get_xlabel()
    assert len(ax.get_yticklabels()) == 3  # total (both runs), NDE and NIE (one run)


def test_plot_effects_needs_effect_draws():
    from types import SimpleNamespace

    import xarray as xr

    run = fake_run("x")
    run.idata = xr.DataTree.from_dict({"posterior": xr.Dataset()})
    with pytest.raises(PlotError, match="has no effects group"):
        plot_effects(run)
    with pytest.raises(PlotError, match="expected a Run"):
        plot_effects(SimpleNamespace())


def test_plot_diagnostics_lowest_ess_when_all_checks_pass(small_run):
    import dataclasses

    import arviz as az

    from embedcausal.plots.diagnostics import diagnostic_parameters

    passed = dataclasses.replace(small_run.diagnostics, worst={}, problems=[], advice=[])
    run = dataclasses.replace(small_run, diagnostics=passed)
    params = diagnostic_parameters(run, n=3)
    assert len(params) == 3
    var, sel = params[0]
    post = run.idata["posterior"]
    ess = az.ess(post[var].sel(sel) if sel else post[var], method="bulk")
    assert float(ess) == pytest.approx(small_run.diagnostics.min_ess_bulk, rel=1e-6)
    fig = plot_diagnostics(run, n=3)
    check(fig)
    assert "all checks passed" in fig.get_suptitle()
