"""Figures of sensitivity analyses, drawn from their result tables.

:func:`plot_confounding` draws the latent-confounder grid of
:func:`embedcausal.confounding_sweep` (its ``ConfoundingResult``, or the ``confounder.csv`` a
sweep directory holds): one panel per effect with the posterior mean's contours over the
confounder's strengths on the treatment and on the outcome, the tipping line where the effect's
interval starts to include 0, and observed covariates at 1, 2 and 3 times their strength.
:func:`plot_rho` draws an effect against a sensitivity parameter ρ with its band and the
value of ρ where the effect crosses 0.

Both take tables, so they work on results read back from disk and on hand-made tables.
"""

from __future__ import annotations

from collections.abc import Sequence
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
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_confounding", "plot_rho", "tipping_line"]

CONFOUNDING_COLUMNS = ("on_treatment", "on_outcome", "effect", "mean", "hdi_low", "hdi_high")
RHO_COLUMNS = ("rho", "effect", "mean", "hdi_low", "hdi_high")
X_LABEL = "confounder → treatment\n(SD of treatment per SD of U)"
Y_LABEL = "confounder → outcome\n(log-odds per SD of U)"


def _need(table: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise PlotError(f"{what}: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PlotError(
            f"{what}: table lacks column(s) {missing}; expected {list(columns)} "
            f"(got {list(table.columns)})"
        )
    if table.empty:
        raise PlotError(f"{what}: the table is empty")
    return table


def _margin(t: pd.DataFrame) -> np.ndarray:
    """Distance of each interval from 0: positive when it excludes 0, ≤ 0 when it includes it."""
    return np.maximum(t["hdi_low"].to_numpy(float), -t["hdi_high"].to_numpy(float))


def tipping_line(table: pd.DataFrame, effect: str = "total") -> pd.DataFrame:
    """Per ``on_treatment``, the smallest ``on_outcome`` at which the interval includes 0.

    Interpolated linearly between grid points (``None`` where no grid point's interval
    includes 0); the same line :func:`plot_confounding` draws, as a table.
    """
    t = _need(table, CONFOUNDING_COLUMNS, "tipping_line")
    t = t[t["effect"] == effect]
    rows = []
    for gt, grp in t.groupby("on_treatment"):
        grp = grp.sort_values("on_outcome")
        y = grp["on_outcome"].to_numpy(float)
        z = _margin(grp)
        hit = None
        if len(z) and z[0] <= 0:
            hit = float(y[0])
        else:
            for i in range(1, len(z)):
                if z[i - 1] > 0 >= z[i]:
                    hit = float(y[i - 1] + (y[i] - y[i - 1]) * z[i - 1] / (z[i - 1] - z[i]))
                    break
        rows.append({"on_treatment": float(gt), "on_outcome": hit})
    return pd.DataFrame(rows, columns=["on_treatment", "on_outcome"])


def plot_confounding(
    result: Any,
    *,
    effects: Sequence[str] = ("total", "nde", "nie"),
    benchmarks: pd.DataFrame | None = None,
    on_mediator: float | None = None,
    ks: Sequence[float] = (1, 2, 3),
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """Contours of total, NDE and NIE over the latent confounder's strengths (one panel each).

    Parameters
    ----------
    result : ConfoundingResult or pandas.DataFrame
        The grid: a ``ConfoundingResult`` (its ``table`` and ``benchmarks``) or a table with
        columns ``on_treatment, on_outcome, effect, mean, hdi_low, hdi_high`` (and optionally
        ``on_mediator``), e.g. ``confounder.csv`` of a sweep directory.
    effects : sequence of str
        Effects to draw, one panel each (those absent from the table are skipped).
    benchmarks : pandas.DataFrame, optional
        ``benchmark, on_treatment, on_outcome`` per SD of an observed covariate (default: the
        result's ``benchmarks``), drawn at each ``k`` of ``ks`` times their strength.
    on_mediator : float, optional
        The slice of the grid on the mediator axis (default: the value closest to 0).
    ax : sequence of Axes, optional
        One axes per drawn effect.

    Returns
    -------
    matplotlib.figure.Figure
        Filled contours of the posterior mean (probability scale; 0 is white), grid points
        filled where the interval excludes 0 and hollow where it includes 0, the tipping line
        (black) and the benchmarks (diamonds); the legend sits below the panels.
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D

    table = getattr(result, "table", result)
    table = _need(table, CONFOUNDING_COLUMNS, "plot_confounding")
    if benchmarks is None:
        benchmarks = getattr(result, "benchmarks", None)
    if benchmarks is not None and len(benchmarks):
        _need(benchmarks, ("benchmark", "on_treatment", "on_outcome"), "plot_confounding")
    if "on_mediator" in table.columns:
        levels = np.unique(table["on_mediator"].to_numpy(float))
        chosen = (
            float(levels[np.argmin(np.abs(levels))]) if on_mediator is None else float(on_mediator)
        )
        if not np.isclose(levels, chosen).any():
            raise PlotError(
                f"plot_confounding: on_mediator = {on_mediator!r} is not in the grid "
                f"{levels.tolist()}"
            )
        table = table[np.isclose(table["on_mediator"].to_numpy(float), chosen)]
    else:
        chosen = None
    shown = [e for e in effects if (table["effect"] == e).any()]
    if not shown:
        raise PlotError(
            f"plot_confounding: none of {list(effects)} in the table's effects "
            f"{sorted(table['effect'].unique())}"
        )
    fig, axes = axes_for(
        ax, len(shown), figsize=(max(7.8, 4.6 * len(shown) + 0.6), 5.2), what="plot_confounding"
    )
    for a, e in zip(axes, shown, strict=True):
        t = table[table["effect"] == e]
        piv = t.pivot_table(index="on_outcome", columns="on_treatment", values="mean")
        xs, ys = piv.columns.to_numpy(float), piv.index.to_numpy(float)
        z = piv.to_numpy(float)
        if len(xs) > 1 and len(ys) > 1 and np.isfinite(z).all():
            lim = float(np.nanmax(np.abs(z))) or 1.0
            norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
            cf = a.contourf(xs, ys, z, levels=12, cmap="RdBu_r", norm=norm, alpha=0.85)
            cb = fig.colorbar(cf, ax=a, shrink=0.9, pad=0.02)
            cb.set_label("posterior mean (probability scale)", fontsize=FONT["small"])
            cb.ax.tick_params(labelsize=FONT["small"])
            marg = t.pivot_table(index="on_outcome", columns="on_treatment", values="hdi_low")
            high = t.pivot_table(index="on_outcome", columns="on_treatment", values="hdi_high")
            m = np.maximum(marg.to_numpy(float), -high.to_numpy(float))
            if np.nanmin(m) < 0 < np.nanmax(m):
                a.contour(xs, ys, m, levels=[0.0], colors="black", linewidths=2.2)
        inc = t[_margin(t) <= 0]
        exc = t[_margin(t) > 0]
        a.scatter(exc["on_treatment"], exc["on_outcome"], c="black", s=18, zorder=3)
        a.scatter(
            inc["on_treatment"],
            inc["on_outcome"],
            facecolors="white",
            edgecolors="black",
            s=22,
            zorder=3,
        )
        xmax, ymax = float(xs.max()), float(ys.max())
        if benchmarks is not None:
            for i, b in enumerate(benchmarks.itertuples(index=False)):
                colour = RUN_COLOURS[(i + 1) % len(RUN_COLOURS)]
                for k in ks:
                    bx, by = k * float(b.on_treatment), k * float(b.on_outcome)
                    xmax, ymax = max(xmax, bx), max(ymax, by)
                    a.scatter([bx], [by], marker="D", color=colour, s=26, zorder=4)
                    a.annotate(
                        f"{k:g}×",
                        (bx, by),
                        xytext=(4, 3),
                        textcoords="offset points",
                        fontsize=FONT["small"],
                        color=colour,
                    )
        x0, y0 = float(min(xs.min(), 0)), float(min(ys.min(), 0))
        a.set_xlim(x0 - 0.04 * (xmax - x0 or 1), xmax + 0.12 * (xmax - x0 or 1))
        a.set_ylim(y0 - 0.04 * (ymax - y0 or 1), ymax + 0.08 * (ymax - y0 or 1))
        a.set_xlabel(X_LABEL, fontsize=FONT["label"])
        a.set_ylabel(Y_LABEL, fontsize=FONT["label"])
        a.tick_params(labelsize=FONT["tick"])
        a.set_title(EFFECT_LABELS.get(e, e), fontsize=FONT["title"])
    handles = [
        Line2D([], [], color="black", lw=2.2, label="tipping line: interval includes 0 beyond"),
        Line2D([], [], ls="", marker="o", color="black", ms=5, label="interval excludes 0"),
        Line2D(
            [], [], ls="", marker="o", mfc="white", mec="black", ms=5, label="interval includes 0"
        ),
    ]
    if benchmarks is not None:
        for i, b in enumerate(benchmarks.itertuples(index=False)):
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="D",
                    color=RUN_COLOURS[(i + 1) % len(RUN_COLOURS)],
                    ms=5,
                    label=f"{b.benchmark} × " + ", ".join(f"{k:g}" for k in ks),
                )
            )
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 3 if len(shown) > 1 else 2),
        fontsize=FONT["small"],
        frameon=False,
    )
    prob = table["hdi_prob"].iloc[0] if "hdi_prob" in table.columns else None
    fig.suptitle(
        "Effects under a latent confounder U of fixed strength"
        + (f" (U → mediator = {chosen:g})" if chosen is not None else "")
        + (f"\nintervals: {float(prob):.0%} HDI" if prob is not None else ""),
        fontsize=FONT["title"],
    )
    return fig


def plot_rho(
    table: pd.DataFrame,
    *,
    effects: Sequence[str] | None = None,
    xlabel: str = "ρ (sensitivity parameter)",
    ylabel: str = "effect (probability scale)",
    ax: Axes | None = None,
) -> Figure:
    """An effect against a sensitivity parameter ρ, with its band and its zero crossing.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``rho, effect, mean, hdi_low, hdi_high`` (one row per ρ and effect).
    effects : sequence of str, optional
        Effects to draw (default: every effect in the table).
    xlabel, ylabel : str
        Axis labels (name the parameter and the scale).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Posterior mean (line) and interval (band); points whose interval includes 0 hollow;
        each value of ρ where the mean crosses 0 marked by a dotted line and labelled.
    """
    t = _need(table, RHO_COLUMNS, "plot_rho")
    names = list(effects) if effects is not None else list(dict.fromkeys(t["effect"]))
    fig, (a,) = axes_for(ax, 1, figsize=(7.5, 4.6), what="plot_rho")
    a.axhline(0.0, color="0.3", lw=0.9, ls="--")
    for i, e in enumerate(names):
        g = t[t["effect"] == e].sort_values("rho")
        if g.empty:
            raise PlotError(f"plot_rho: no rows for effect {e!r}")
        colour = EFFECT_COLOURS.get(e, RUN_COLOURS[i % len(RUN_COLOURS)])
        x = g["rho"].to_numpy(float)
        mean = g["mean"].to_numpy(float)
        a.fill_between(x, g["hdi_low"], g["hdi_high"], color=colour, alpha=0.2, lw=0)
        a.plot(x, mean, color=colour, lw=2, label=EFFECT_LABELS.get(e, e))
        inc = _margin(g) <= 0
        a.scatter(x[~inc], mean[~inc], color=colour, s=16, zorder=3)
        a.scatter(x[inc], mean[inc], facecolors="white", edgecolors=colour, s=20, zorder=3)
        for r in zero_crossings(x, mean):
            a.axvline(r, color=colour, lw=1.0, ls=":")
            a.annotate(
                f"mean = 0 at ρ = {r:.2g}",
                (r, 0.0),
                xytext=(4, 6),
                textcoords="offset points",
                fontsize=FONT["small"],
                color=colour,
            )
    a.set_xlabel(xlabel, fontsize=FONT["label"])
    a.set_ylabel(ylabel, fontsize=FONT["label"])
    a.tick_params(labelsize=FONT["tick"])
    a.grid(color="0.93", lw=0.8)
    a.set_axisbelow(True)
    a.set_title("Effect as ρ varies (hollow: interval includes 0)", fontsize=FONT["title"])
    a.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT["small"], frameon=False)
    return fig


def zero_crossings(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Values of ``x`` where the piecewise-linear ``y`` crosses 0 (exact zeros included)."""
    out = []
    for i in range(len(x)):
        if y[i] == 0:
            out.append(float(x[i]))
        elif i and y[i - 1] * y[i] < 0:
            out.append(float(x[i - 1] - y[i - 1] * (x[i] - x[i - 1]) / (y[i] - y[i - 1])))
    return out
