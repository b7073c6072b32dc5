"""Posterior predictive checks: observed participation against its predictive distribution.

:func:`posterior_predictive` draws the outcome (and mediator) from the run's own model on a
thinned posterior; :func:`ppc_table` tabulates observed and predicted rates per level of a
grouping such as ``mission``, or per group of countries binned by their predicted rate;
:func:`plot_ppc` draws those rates, and the mediator's observed distribution against predictive
draws.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embedcausal.plots.base import FONT, PlotError, axes_for, thin_posterior

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_ppc", "posterior_predictive", "ppc_table"]

COUNTRY_GROUP = "country_group"
MAX_LEVELS = 60


def posterior_predictive(run: Any, *, draws: int = 200, seed: int = 0) -> Any:
    """Posterior predictive draws of the outcome (and mediator) on a thinned posterior.

    ``pm.sample_posterior_predictive`` on the run's own model (:attr:`Run.model`), with the
    posterior thinned evenly to at most ``draws`` draws. Returns the DataTree PyMC returns
    (group ``posterior_predictive``, dims ``chain, draw, obs``).
    """
    import pymc as pm

    e = run.spec.estimand
    names = [e.outcome, *([e.mediator] if e.mediator else [])]
    thinned = thin_posterior(run.idata, draws)
    log = logging.getLogger("pymc")
    level = log.level
    log.setLevel(max(level, logging.WARNING))  # PyMC logs "Sampling: [...]" at INFO
    try:
        return pm.sample_posterior_predictive(
            thinned, model=run.model, var_names=names, random_seed=seed, progressbar=False
        )
    finally:
        log.setLevel(level)


def _check_by(run: Any, by: str) -> None:
    groupings = list(run.prepared.group_codes)
    if by != COUNTRY_GROUP and by not in groupings:
        from embedcausal.errors import expected

        raise PlotError(
            f"plot_ppc: by = {by!r}; "
            + expected(by, [*groupings, COUNTRY_GROUP], what="a grouping of the model:")
        )


def ppc_table(
    run: Any, by: str = "mission", *, pp: Any = None, prob: float = 0.9, bins: int = 10
) -> pd.DataFrame:
    """Observed and predicted participation rates per group.

    Parameters
    ----------
    run : Run
    by : str
        A grouping of the model (``mission``, ``country``, ``region``, …) or
        ``"country_group"``: countries (or, without a ``country`` grouping, rows) binned into
        ``bins`` groups of equal size by their posterior-predictive rate.
    pp : DataTree, optional
        Posterior predictive draws (:func:`posterior_predictive`; computed when omitted).
    prob : float
        Probability of the predictive interval (equal-tailed).

    Returns
    -------
    pandas.DataFrame
        ``group, n, observed, predicted, low, high`` sorted by the observed rate (by
        predicted rate for ``country_group``).
    """
    d = run.prepared
    outcome = run.spec.estimand.outcome
    if pp is None:
        pp = posterior_predictive(run)
    sim = np.asarray(pp["posterior_predictive"][outcome].values, dtype=float)
    sim = sim.reshape(-1, sim.shape[-1])  # (draws, rows)
    y = np.asarray(d.y, dtype=float)
    if by == COUNTRY_GROUP:
        if "country" in d.group_codes:
            unit = np.asarray(d.group_codes["country"])
        else:
            unit = np.arange(len(y))
        units = np.unique(unit)
        rate = np.array([sim[:, unit == u].mean() for u in units])
        order = np.argsort(rate, kind="stable")
        k = min(bins, len(units))
        bin_of_unit = np.empty(len(units), dtype=int)
        for i, chunk in enumerate(np.array_split(order, k)):
            bin_of_unit[chunk] = i
        codes = bin_of_unit[np.searchsorted(units, unit)]
        labels = [f"{i + 1}" for i in range(k)]
    else:
        _check_by(run, by)
        codes = np.asarray(d.group_codes[by])
        levels = np.asarray(d.coords[by])
        names = d.group_names.get(by)
        labels = [
            str(names[i]) if names is not None else str(levels[i]) for i in range(len(levels))
        ]
    rows = []
    a = (1 - prob) / 2
    for i, label in enumerate(labels):
        mask = codes == i
        if not mask.any():
            continue
        rates = sim[:, mask].mean(axis=1)
        lo, hi = np.quantile(rates, [a, 1 - a])
        rows.append(
            {
                "group": label,
                "n": int(mask.sum()),
                "observed": float(y[mask].mean()),
                "predicted": float(rates.mean()),
                "low": float(lo),
                "high": float(hi),
            }
        )
    table = pd.DataFrame(rows, columns=["group", "n", "observed", "predicted", "low", "high"])
    key = "predicted" if by == COUNTRY_GROUP else "observed"
    table = table.sort_values(key, kind="stable").reset_index(drop=True)
    table.attrs.update({"by": by, "prob": prob, "draws": int(sim.shape[0]), "outcome": outcome})
    return table


def plot_ppc(
    run: Any,
    *,
    by: str = "mission",
    draws: int = 200,
    prob: float = 0.9,
    seed: int = 0,
    pp: Any = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Posterior predictive check of participation by group, and of the mediator.

    Left: the observed participation rate of each group (dots) against the posterior
    predictive interval of that rate (bars) and its mean. Right (with a mediator): the
    observed mediator's histogram against the 90% band of the predictive draws' histograms.

    Parameters
    ----------
    run : Run
    by : str
        ``"mission"`` (or another grouping of the model) or ``"country_group"`` (countries
        binned into deciles of predicted rate); see :func:`ppc_table`.
    draws : int
        Posterior draws used (the posterior is thinned evenly).
    prob : float
        Probability of the predictive intervals.
    seed : int
    pp : DataTree, optional
        Posterior predictive draws to reuse (:func:`posterior_predictive`).
    ax : Axes or sequence of Axes, optional
        One axes per panel (two with a mediator).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not 0 < prob < 1:
        raise PlotError(f"plot_ppc: prob = {prob!r}; expected a number in (0, 1)")
    e = run.spec.estimand
    _check_by(run, by)
    if pp is None:
        pp = posterior_predictive(run, draws=draws, seed=seed)
    table = ppc_table(run, by, pp=pp, prob=prob)
    n_panels = 2 if e.mediator else 1
    width = min(14.0, 4.5 + 0.16 * len(table)) if by != COUNTRY_GROUP else 6.5
    fig, axes = axes_for(
        ax,
        n_panels,
        figsize=(width + (4.5 if e.mediator else 0), 4.6),
        what="plot_ppc",
    )
    if e.mediator and ax is None:
        gs = axes[0].get_gridspec()
        gs.set_width_ratios([width, 4.5])
    _draw_rates(axes[0], table, e.outcome, by, prob)
    if e.mediator:
        _draw_mediator(axes[1], run, pp)
    fig.suptitle(
        f"{run.spec.name}: posterior predictive check ({table.attrs['draws']} draws)",
        fontsize=FONT["title"],
    )
    return fig


def _draw_rates(a: Axes, table: pd.DataFrame, outcome: str, by: str, prob: float) -> None:
    x = np.arange(len(table))
    a.vlines(x, table["low"], table["high"], color="#9ecae1", lw=5, label=f"{prob:.0%} predictive")
    a.plot(x, table["predicted"], "_", color="#08519c", ms=10, mew=2, label="predictive mean")
    a.plot(x, table["observed"], "o", color="black", ms=4.5, label="observed")
    if by == COUNTRY_GROUP:
        a.set_xticks(x)
        a.set_xticklabels(table["group"], fontsize=FONT["tick"])
        a.set_xlabel("group of countries (deciles of predicted rate)", fontsize=FONT["label"])
    else:
        shown = len(table) <= MAX_LEVELS
        a.set_xticks(x if shown else [])
        if shown:
            a.set_xticklabels(table["group"], rotation=90, fontsize=FONT["small"])
        a.set_xlabel(f"{by} (sorted by observed rate)", fontsize=FONT["label"])
    a.set_ylabel(f"rate of {outcome} (share of rows = 1)", fontsize=FONT["label"])
    a.set_ylim(-0.03, 1.03)
    a.tick_params(axis="y", labelsize=FONT["tick"])
    a.grid(axis="y", color="0.93", lw=0.8)
    a.set_axisbelow(True)
    a.legend(loc="upper left", fontsize=FONT["small"], frameon=True, framealpha=0.9)
    a.set_title(f"{outcome} by {by.replace('_', ' ')}", fontsize=FONT["label"])


def _draw_mediator(a: Axes, run: Any, pp: Any) -> None:
    m = run.spec.estimand.mediator
    obs = np.asarray(run.prepared.values[m], dtype=float)
    sim = np.asarray(pp["posterior_predictive"][m].values, dtype=float)
    sim = sim.reshape(-1, sim.shape[-1])
    family = run.prepared.mediator_family
    lo = float(min(obs.min(), np.quantile(sim, 0.005)))
    hi = float(max(obs.max(), np.quantile(sim, 0.995)))
    if family in ("bernoulli", "poisson", "negbinomial"):
        edges = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.5)
        if len(edges) > 60:
            edges = np.linspace(lo, hi, 41)
    else:
        edges = np.linspace(lo, hi, 31)
    hists = np.array([np.histogram(row, bins=edges, density=True)[0] for row in sim])
    lo_h, med, hi_h = np.quantile(hists, [0.05, 0.5, 0.95], axis=0)
    a.stairs(hi_h, edges, baseline=lo_h, fill=True, color="#9ecae1", label="90% predictive")
    a.stairs(med, edges, color="#08519c", lw=1.0, label="predictive median")
    h, _ = np.histogram(obs, bins=edges, density=True)
    a.stairs(h, edges, color="black", lw=1.8, label="observed")
    a.set_xlabel(f"{m} (data units)", fontsize=FONT["label"])
    a.set_ylabel("density", fontsize=FONT["label"])
    a.tick_params(labelsize=FONT["tick"])
    a.legend(loc="upper right", fontsize=FONT["small"], frameon=True, framealpha=0.9)
    a.set_title(f"mediator {m} ({family})", fontsize=FONT["label"])
