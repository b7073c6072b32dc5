"""A PSIS-LOO comparison drawn: ELPD per model, differences to the best, Pareto k.

:func:`plot_loo` draws a :class:`~embedcausal.compare.Comparison`: ELPD with its standard
error, differences to the best model, and Pareto-k counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcausal.plots.base import FONT, PlotError, axes_for

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_loo"]


def plot_loo(comparison: Any, *, ax: Sequence[Axes] | None = None) -> Figure:
    """A PSIS-LOO comparison: ELPD ± se per model, differences to the best, Pareto-k counts.

    Parameters
    ----------
    comparison : Comparison
        From :func:`embedcausal.compare_runs`.
    ax : sequence of two Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = getattr(comparison, "table", None)
    if table is None or not {"elpd", "se", "elpd_diff", "dse"} <= set(table.columns):
        raise PlotError(
            "plot_loo: expected a Comparison from embedcausal.compare_runs (a table with elpd, "
            "se, elpd_diff, dse)"
        )
    table = table.sort_values("elpd", ascending=False)
    names = [str(i) for i in table.index]
    fig, (a_elpd, a_k) = axes_for(ax, 2, figsize=(10.0, 1.8 + 0.55 * len(names)), what="plot_loo")
    y = -np.arange(len(names), dtype=float)
    a_elpd.errorbar(
        table["elpd"], y, xerr=table["se"], fmt="o", color="black", capsize=3, label="ELPD ± se"
    )
    best = float(table["elpd"].iloc[0])
    diff = best - table["elpd_diff"].to_numpy(float)
    a_elpd.errorbar(
        diff[1:],
        y[1:] - 0.25,
        xerr=table["dse"].to_numpy(float)[1:],
        fmt="^",
        color="#D55E00",
        mfc="white",
        capsize=3,
        label="difference to best ± se",
    )
    a_elpd.axvline(best, color="0.6", lw=0.8, ls="--")
    a_elpd.set_yticks(y)
    a_elpd.set_yticklabels(names, fontsize=FONT["label"])
    a_elpd.set_xlabel("ELPD (PSIS-LOO; higher predicts better)", fontsize=FONT["label"])
    a_elpd.tick_params(axis="x", labelsize=FONT["tick"])
    a_elpd.set_ylim(y[-1] - 0.7, 0.6)
    a_elpd.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, -0.22),
        fontsize=FONT["small"],
        ncols=2,
        frameon=False,
    )
    a_elpd.set_title(
        f"expected log predictive density ({comparison.n_obs} rows)", fontsize=FONT["label"]
    )
    cats = ["k ≤ good_k", "good_k < k ≤ 1", "k > 1"]
    colours = ["#009E73", "#E69F00", "#D55E00"]
    counts = []
    for name in names:
        k = np.asarray(comparison.loo[name].pareto_k, dtype=float).ravel()
        good = comparison.good_k[name]
        counts.append(
            [int((k <= good).sum()), int(((k > good) & (k <= 1)).sum()), int((k > 1).sum())]
        )
    counts = np.asarray(counts)
    left = np.zeros(len(names))
    for j, cat in enumerate(cats):
        a_k.barh(y, counts[:, j], left=left, color=colours[j], height=0.6, label=cat)
        left += counts[:, j]
    for yy, row in zip(y, counts, strict=True):
        bad = int(row[1] + row[2])
        a_k.annotate(
            f"{bad} above good_k" if bad else "all good",
            (0, yy),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=FONT["small"],
            color="white" if row[0] > 0.3 * row.sum() else "black",
        )
    a_k.set_yticks(y)
    a_k.set_yticklabels([])
    a_k.set_ylim(y[-1] - 0.7, 0.6)
    a_k.set_xlabel("observations (by Pareto k)", fontsize=FONT["label"])
    a_k.tick_params(axis="x", labelsize=FONT["tick"])
    thresholds = sorted({round(v, 2) for v in comparison.good_k.values()})
    a_k.set_title(
        "Pareto k (good_k = " + ", ".join(f"{t:g}" for t in thresholds) + ")",
        fontsize=FONT["label"],
    )
    a_k.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, -0.22),
        fontsize=FONT["small"],
        ncols=3,
        frameon=False,
    )
    return fig
