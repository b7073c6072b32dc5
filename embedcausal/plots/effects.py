"""Figures of mechanism effects: a forest of total/NDE/NIE, and effects along the treatment.

:func:`plot_effects` draws the posterior of each effect (mean and HDI of the draws pooled over
chains) for one run or for rival mechanisms side by side. :func:`effect_curve` computes, by the
library's g-computation (:func:`embedcausal.gcomp`) on a thinned posterior, the total, direct
and indirect effects of moving the treatment from the contrast's ``from`` value to each of a
grid of values across its observed range; :func:`plot_effect_curve` draws them with bands.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embedcausal.plots.base import (
    EFFECT_COLOURS,
    EFFECT_LABELS,
    FONT,
    RUN_COLOURS,
    PlotError,
    axes_for,
    contrast_text,
    effect_axis_label,
    hdi,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["effect_curve", "plot_effect_curve", "plot_effects", "runs_by_name"]

EFFECTS = ("total", "nde", "nie")


def runs_by_name(runs: Any) -> dict[str, Any]:
    """``{name: run}`` from one run, a mapping of runs, or a sequence (named by model name)."""
    if isinstance(runs, Mapping):
        out = dict(runs)
    elif hasattr(runs, "idata") and hasattr(runs, "spec"):
        out = {runs.spec.name: runs}
    elif isinstance(runs, Sequence) and not isinstance(runs, str):
        out = {}
        for r in runs:
            name = r.spec.name
            while name in out:
                name += "'"
            out[name] = r
    else:
        raise PlotError(f"expected a Run, a dict of name -> Run or a list of runs, got {runs!r}")
    if not out:
        raise PlotError("no runs given; expected at least one Run")
    return out


def _effect_draws(name: str, run: Any) -> Any:
    if "effects" not in run.idata.children:
        raise PlotError(
            f"run {name!r} has no effects group (fitted with compute_effects=False?); "
            "expected idata['effects'] from embedcausal.fit"
        )
    return run.idata["effects"].to_dataset()


def plot_effects(
    runs: Any,
    *,
    rope: tuple[float, float] | None = None,
    hdi_prob: float = 0.9,
    effects: Sequence[str] = EFFECTS,
    ax: Axes | None = None,
) -> Figure:
    """Forest plot of the total, natural direct and natural indirect effects.

    Parameters
    ----------
    runs : Run, dict of str to Run, or list of Run
        One run, or rival mechanisms side by side (named by the dict's keys).
    rope : (float, float), optional
        A region of practical equivalence on the probability scale, drawn as a grey band.
    hdi_prob : float
        Probability of the highest-density intervals (draws pooled over chains).
    effects : sequence of str
        Effects to show, in order (``total``, ``nde``, ``nie``); a run without a mediator has
        only ``total``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    PlotError
        Bad ``rope``, ``hdi_prob`` or effect names, or a run without effect draws.
    """
    named = runs_by_name(runs)
    if not 0 < hdi_prob < 1:
        raise PlotError(f"plot_effects: hdi_prob = {hdi_prob!r}; expected a number in (0, 1)")
    unknown = [e for e in effects if e not in EFFECT_LABELS]
    if unknown:
        raise PlotError(
            f"plot_effects: unknown effect {unknown[0]!r}; expected some of {list(EFFECTS)}"
        )
    if rope is not None:
        try:
            lo, hi = (float(v) for v in rope)
        except (TypeError, ValueError):
            raise PlotError(f"plot_effects: rope = {rope!r}; expected two numbers") from None
        if not lo < hi:
            raise PlotError(f"plot_effects: rope = {rope!r}; expected (low, high) with low < high")
        rope = (lo, hi)
    draws = {name: _effect_draws(name, r) for name, r in named.items()}
    shown = [e for e in effects if any(e in ds for ds in draws.values())]
    if not shown:
        raise PlotError(f"plot_effects: none of {list(effects)} in the runs' effects")
    n_runs = len(named)
    rows = []  # (y, effect, run name, mean, lo, hi)
    y = 0.0
    centres = {}
    for e in shown:
        ys = []
        for name, ds in draws.items():
            if e not in ds:
                continue
            v = np.asarray(ds[e].values, dtype=float)
            lo_, hi_ = hdi(v, hdi_prob)
            rows.append((y, e, name, float(np.nanmean(v)), lo_, hi_))
            ys.append(y)
            y -= 1.0
        centres[e] = float(np.mean(ys))
        y -= 0.8
    height = 1.3 + 0.42 * len(rows) + 0.25 * len(shown)
    fig, (a,) = axes_for(ax, 1, figsize=(7.5, max(2.8, height)), what="plot_effects")
    if rope is not None:
        a.axvspan(*rope, color="0.85", zorder=0, label=f"ROPE [{rope[0]:g}, {rope[1]:g}]")
    a.axvline(0.0, color="0.3", lw=0.9, ls="--", zorder=1)
    colours = {name: RUN_COLOURS[i % len(RUN_COLOURS)] for i, name in enumerate(named)}
    labelled: set[str] = set()
    for yy, e, name, mean, lo_, hi_ in rows:
        colour = colours[name] if n_runs > 1 else EFFECT_COLOURS[e]
        label = _run_label(name, named) if n_runs > 1 and name not in labelled else None
        labelled.add(name)
        a.plot([lo_, hi_], [yy, yy], color=colour, lw=2.6, solid_capstyle="butt", label=label)
        a.plot([mean], [yy], "o", color=colour, ms=6.5, mec="white", mew=0.8)
    a.set_yticks(list(centres.values()))
    a.set_yticklabels([EFFECT_LABELS[e] for e in centres], fontsize=FONT["label"])
    a.set_ylim(y + 0.3, 0.7)
    a.tick_params(axis="x", labelsize=FONT["tick"])
    first = next(iter(named.values()))
    same = len({(contrast_text(r), r.spec.estimand.outcome) for r in named.values()}) == 1
    a.set_xlabel(
        effect_axis_label(first)
        if same
        else f"change in P({first.spec.estimand.outcome}) (probability scale; contrasts in legend)",
        fontsize=FONT["label"],
    )
    what = first.spec.name if n_runs == 1 else f"{n_runs} mechanisms"
    a.set_title(
        f"{what}: posterior mean and {hdi_prob:.0%} HDI (chains pooled)", fontsize=FONT["title"]
    )
    a.grid(axis="x", color="0.92", lw=0.8)
    a.set_axisbelow(True)
    if n_runs > 1 or rope is not None:
        a.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=FONT["small"],
            frameon=False,
            title="mechanism" if n_runs > 1 else None,
            title_fontsize=FONT["small"],
        )
    return fig


def _run_label(name: str, named: Mapping[str, Any]) -> str:
    contrasts = {contrast_text(r) for r in named.values()}
    return name if len(contrasts) == 1 else f"{name} ({contrast_text(named[name])})"


# -- effects along the treatment ------------------------------------------------------------------
class _Rescaled:
    """A compiled counterfactual for the contrast ``t0 → t0 + s·(t1 − t0)`` (duck-typed for
    :func:`embedcausal.gcomp`).

    Both linear predictors are affine in the treatment (see :mod:`embedcausal.effects`), so
    the outcome's log-odds change, its slope in the mediator and the mediator's change at the
    new value are those of the compiled contrast scaled by ``s``: one compilation serves every
    point of a curve.
    """

    def __init__(self, base: Any, design: Any, s: float) -> None:
        self.design = design
        self.inputs = base.inputs
        self.has_mediator = base.has_mediator
        self._base = base
        self._s = s

    def eta(self, params: dict[str, np.ndarray]) -> list[np.ndarray]:
        res = self._base.eta(params)
        s = self._s
        out = [res[0], res[1] * s]
        if self.has_mediator:
            g0, g1, m0, dm = res[2:6]
            out += [g0, g0 + (g1 - g0) * s, m0, dm * s]
        return out


def thin_posterior(idata: Any, draws: int | None) -> Any:
    """A DataTree with the posterior thinned evenly to at most ``draws`` draws in all.

    The data groups (``constant_data``, ``observed_data``) come along, so PyMC's posterior
    predictive sampling sees that the model's data are those the posterior was fitted to.
    """
    import xarray as xr

    post = idata["posterior"].to_dataset()
    total = post.sizes["chain"] * post.sizes["draw"]
    if draws is not None and total > draws:
        per_chain = max(1, draws // post.sizes["chain"])
        keep = np.unique(np.linspace(0, post.sizes["draw"] - 1, per_chain).round().astype(int))
        post = post.isel(draw=keep)
    groups = {"posterior": post}
    for g in ("constant_data", "observed_data"):
        if g in idata.children:
            groups[g] = idata[g].to_dataset()
    return xr.DataTree.from_dict(groups)


def effect_curve(
    run: Any,
    *,
    points: int = 9,
    quantiles: tuple[float, float] = (0.05, 0.95),
    draws: int | None = 200,
    hdi_prob: float = 0.9,
) -> pd.DataFrame:
    """Effects of moving the treatment from the contrast's ``from`` to values across its range.

    For each value ``t`` of a grid from the ``quantiles`` of the observed treatment (p5 to p95
    by default; the contrast's ``from`` and ``to`` are added), the total effect
    ``E(t, t) − E(t0, t0)``, the NDE ``E(t, t0) − E(t0, t0)`` and the NIE ``E(t, t) − E(t, t0)``
    of ``t0 → t`` are computed by g-computation (:func:`embedcausal.gcomp`) over the posterior
    thinned to ``draws`` draws (``None``: all), compiled once.

    Returns
    -------
    pandas.DataFrame
        Columns ``treatment_value, effect, mean, hdi_low, hdi_high``; ``attrs`` hold the
        treatment, outcome, ``contrast_from``, ``contrast_to``, ``hdi_prob``, ``draws`` and the
        run's name.

    Raises
    ------
    PlotError
        For fewer than 2 points, bad quantiles or ``hdi_prob``.
    """
    from embedcausal.effects import Counterfactual, gcomp

    if not isinstance(points, int) or points < 2:
        raise PlotError(f"effect_curve: points = {points!r}; expected an integer >= 2")
    q0, q1 = quantiles
    if not 0 <= q0 < q1 <= 1:
        raise PlotError(f"effect_curve: quantiles = {quantiles!r}; expected 0 <= low < high <= 1")
    if not 0 < hdi_prob < 1:
        raise PlotError(f"effect_curve: hdi_prob = {hdi_prob!r}; expected a number in (0, 1)")
    design = run.design
    d = design.data
    t0, t1 = (float(v) for v in d.contrast)
    observed = np.asarray(d.values[d.treatment], dtype=float)
    lo, hi = np.quantile(observed[np.isfinite(observed)], [q0, q1])
    grid = np.unique(np.round(np.r_[np.linspace(lo, hi, points), t0, t1], 12))
    thinned = thin_posterior(run.idata, draws)
    base = Counterfactual.compile(design, run.model)
    rows = []
    for t in grid:
        if t == t0:
            for e in ("total", "nde", "nie") if d.mediator else ("total",):
                rows.append((t, e, 0.0, 0.0, 0.0))
            continue
        shifted = dataclasses.replace(design, data=dataclasses.replace(d, contrast=(t0, float(t))))
        cf = _Rescaled(base, shifted, (t - t0) / (t1 - t0))
        ds = gcomp(thinned, shifted, counterfactual=cf)
        for e in ("total", "nde", "nie"):
            if e in ds:
                v = np.asarray(ds[e].values, dtype=float)
                rows.append((t, e, float(v.mean()), *hdi(v, hdi_prob)))
    table = pd.DataFrame(rows, columns=["treatment_value", "effect", "mean", "hdi_low", "hdi_high"])
    post = thinned["posterior"]
    table.attrs.update(
        {
            "name": run.spec.name,
            "treatment": d.treatment,
            "outcome": d.outcome,
            "contrast_from": t0,
            "contrast_to": t1,
            "quantiles": [float(q0), float(q1)],
            "range": [float(lo), float(hi)],
            "hdi_prob": hdi_prob,
            "draws": int(post.sizes["chain"] * post.sizes["draw"]),
        }
    )
    return table


def plot_effect_curve(
    run: Any,
    *,
    points: int = 9,
    draws: int | None = 200,
    hdi_prob: float = 0.9,
    effects: Sequence[str] = EFFECTS,
    curve: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Total, direct and indirect effects as the treatment moves across its observed range.

    Parameters
    ----------
    run : Run
    points, draws, hdi_prob
        See :func:`effect_curve`.
    effects : sequence of str
        Which curves to draw (the total's band is shaded; NDE and NIE get lighter bands).
    curve : pandas.DataFrame, optional
        A table from :func:`effect_curve` to draw instead of computing one.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = (
        curve
        if curve is not None
        else effect_curve(run, points=points, draws=draws, hdi_prob=hdi_prob)
    )
    missing = {"treatment_value", "effect", "mean", "hdi_low", "hdi_high"} - set(table.columns)
    if missing:
        raise PlotError(f"plot_effect_curve: curve table lacks columns {sorted(missing)}")
    at = table.attrs
    treatment = at.get("treatment", run.spec.estimand.treatment)
    t0 = at.get("contrast_from", run.contrast[0])
    t1 = at.get("contrast_to", run.contrast[1])
    prob = at.get("hdi_prob", hdi_prob)
    fig, (a,) = axes_for(ax, 1, figsize=(7.5, 4.6), what="plot_effect_curve")
    a.axhline(0.0, color="0.3", lw=0.9, ls="--")
    for e in effects:
        t = table[table["effect"] == e].sort_values("treatment_value")
        if t.empty:
            continue
        x = t["treatment_value"].to_numpy(float)
        colour = EFFECT_COLOURS[e]
        a.fill_between(
            x,
            t["hdi_low"].to_numpy(float),
            t["hdi_high"].to_numpy(float),
            color=colour,
            alpha=0.25 if e == "total" else 0.12,
            lw=0,
        )
        a.plot(
            x,
            t["mean"].to_numpy(float),
            color=colour,
            lw=2.2 if e == "total" else 1.5,
            ls="-" if e == "total" else ("--" if e == "nde" else ":"),
            marker="o",
            ms=3.5,
            label=EFFECT_LABELS[e],
        )
    a.axvline(t0, color="0.5", lw=0.8, ls=":")
    a.axvline(t1, color="0.5", lw=0.8, ls=":")
    ymax = a.get_ylim()[1]
    for v, text in ((t0, f"from {t0:g}"), (t1, f"to {t1:g}")):
        a.annotate(
            text,
            (v, ymax),
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
            fontsize=FONT["small"],
            color="0.35",
        )
    rng = at.get("quantiles", [0.05, 0.95])
    a.set_xlabel(
        f"{treatment} (data units; observed p{100 * rng[0]:g}–p{100 * rng[1]:g})",
        fontsize=FONT["label"],
    )
    a.set_ylabel(
        f"change in P({at.get('outcome', run.spec.estimand.outcome)}) vs {treatment} = {t0:g}\n"
        "(probability scale)",
        fontsize=FONT["label"],
    )
    a.set_title(
        f"{at.get('name', run.spec.name)}: effect of {treatment} {t0:g} → value "
        f"(mean, {prob:.0%} HDI, {at.get('draws', '?')} draws)",
        fontsize=FONT["title"],
    )
    a.tick_params(labelsize=FONT["tick"])
    a.grid(color="0.93", lw=0.8)
    a.set_axisbelow(True)
    a.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT["small"], frameon=False)
    return fig
