"""Effects along the treatment: g-computation over a grid of treatment values, drawn.

:func:`effect_curve` computes, by the library's g-computation (:func:`embedcausal.gcomp`) on a
thinned posterior, the total, direct and indirect effects of moving the treatment from the
contrast's ``from`` value to each of a grid of values across its observed range;
:func:`plot_effect_curve` draws them with bands.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embedcausal.errors import shown
from embedcausal.plots.base import (
    EFFECT_COLOURS,
    EFFECT_LABELS,
    EFFECTS,
    FONT,
    PlotError,
    axes_for,
    hdi,
    thin_posterior,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["effect_curve", "plot_effect_curve"]


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
        For fewer than 2 points, bad quantiles or ``hdi_prob``, or a categorical treatment
        (two levels: no values between them).
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
    if d.contrast_labels is not None:
        raise PlotError(
            f"effect_curve: treatment {shown(d.treatment)} is categorical (levels "
            f"{shown(d.contrast_labels[0])} and {shown(d.contrast_labels[1])}); a curve needs a "
            "numeric "
            "treatment (the forest plot shows the contrast of the two levels)"
        )
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
