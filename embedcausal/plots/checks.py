"""Figures that check a fit: posterior predictive checks, sampler diagnostics, PSIS-LOO.

:func:`plot_ppc` compares observed participation with its posterior predictive distribution
(per level of a grouping such as ``mission``, or per group of countries binned by their
predicted rate) and the mediator's observed distribution with predictive draws.
:func:`plot_diagnostics` draws trace and rank plots of the parameters the diagnostics name
(:attr:`embedcausal.Diagnostics.worst`), or of the lowest-ESS ones when every check passed.
:func:`plot_loo` draws a :class:`~embedcausal.compare.Comparison`: ELPD with its standard
error, differences to the best model, and Pareto-k counts.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embedcausal.plots.base import FONT, RUN_COLOURS, PlotError, axes_for
from embedcausal.plots.effects import thin_posterior

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "diagnostic_parameters",
    "plot_diagnostics",
    "plot_loo",
    "plot_ppc",
    "posterior_predictive",
    "ppc_table",
]

COUNTRY_GROUP = "country_group"
MAX_LEVELS = 60


# -- posterior predictive checks ----------------------------------------------------------------
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


# -- sampler diagnostics ------------------------------------------------------------------------
_WORST = re.compile(r"^(?P<var>[^\[\s(]+)(?:\[(?P<idx>[^\]]*)\])?(?: \((?P<value>[^)]*)\))?$")


def _element(post: Any, label: str) -> tuple[str, dict[str, Any]] | None:
    """``("y_country", {"country": "C02"})`` for ``"y_country[C02] (1.11)"`` (None: unknown)."""
    m = _WORST.match(label.strip())
    if m is None or m["var"] not in post:
        return None
    da = post[m["var"]]
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not m["idx"]:
        return (m["var"], {}) if not dims else None
    parts = m["idx"].split(",")
    if len(parts) != len(dims):
        return None
    sel = {}
    for dim, part in zip(dims, parts, strict=True):
        values = np.asarray(da[dim].values)
        hits = [v for v in values if str(v) == part]
        if not hits:
            return None
        sel[dim] = hits[0]
    return m["var"], sel


def diagnostic_parameters(run: Any, n: int = 4) -> list[tuple[str, dict[str, Any]]]:
    """The parameters to look at: those the diagnostics name, else the ``n`` lowest-ESS ones.

    Returns ``(variable, selection)`` pairs (``selection`` maps dims to coordinate values).
    """
    import arviz as az

    from embedcausal.diagnostics import _sampled

    post = run.idata["posterior"].to_dataset()
    chosen: list[tuple[str, dict[str, Any]]] = []
    for key in ("r_hat", "ess_bulk", "ess_tail"):
        for label in run.diagnostics.worst.get(key, []):
            el = _element(post, label)
            if el is not None and el not in chosen:
                chosen.append(el)
    if chosen:
        return chosen[: max(n, 1) + 2]
    names = [v for v in _sampled(run.idata) if v in post]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ess = az.ess(post[names], method="bulk")
    ess = ess.to_dataset() if hasattr(ess, "to_dataset") else ess
    flat = []
    for v in ess.data_vars:
        da = ess[v]
        if da.ndim == 0:
            flat.append((float(da), v, {}))
            continue
        st = da.stack(_el=da.dims)
        for idx, val in zip(st.indexes["_el"], st.values, strict=True):
            idx = idx if isinstance(idx, tuple) else (idx,)
            flat.append((float(val), v, dict(zip(da.dims, idx, strict=True))))
    flat.sort(key=lambda t: (np.isnan(t[0]), t[0]))
    return [(v, sel) for _, v, sel in flat[:n]]


def _label(var: str, sel: dict[str, Any]) -> str:
    return var + (f"[{','.join(map(str, sel.values()))}]" if sel else "")


def plot_diagnostics(
    run: Any,
    *,
    parameters: Sequence[tuple[str, dict[str, Any]]] | None = None,
    n: int = 4,
    bins: int = 20,
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """Trace and rank plots of the parameters the sampler diagnostics name.

    For each parameter (from :attr:`Diagnostics.worst`, or the ``n`` with the lowest bulk ESS
    when every check passed): its trace per chain (left) and the histogram of its ranks over
    all chains, per chain (right; uniform when the chains agree, with the 99% band of a
    uniform histogram). Each row is titled with the parameter's R-hat and ESS against the
    thresholds; the figure's title says whether the run passed.

    Parameters
    ----------
    run : Run
    parameters : sequence of (str, dict), optional
        ``(variable, {dim: value})`` pairs to draw instead (see :func:`diagnostic_parameters`).
    n : int
        How many lowest-ESS parameters to draw when the diagnostics name none.
    bins : int
        Rank histogram bins at most (fewer with short chains: at least 10 draws per bin).
    ax : sequence of Axes, optional
        Two axes per parameter (trace, rank), row by row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import arviz as az
    from scipy import stats

    params = list(parameters) if parameters is not None else diagnostic_parameters(run, n=n)
    if not params:
        raise PlotError("plot_diagnostics: the posterior has no parameters to draw")
    post = run.idata["posterior"].to_dataset()
    for var, _ in params:
        if var not in post:
            raise PlotError(f"plot_diagnostics: no posterior variable {var!r}")
    diag = run.diagnostics
    th = diag.thresholds
    fig, axes = axes_for(
        ax,
        2 * len(params),
        figsize=(10.0, 1.2 + 2.1 * len(params)),
        ncols=2,
        what="plot_diagnostics",
    )
    nchain = post.sizes["chain"]
    colours = [RUN_COLOURS[i % len(RUN_COLOURS)] for i in range(nchain)]
    for row, (var, sel) in enumerate(params):
        da = post[var].sel(sel) if sel else post[var]
        values = np.asarray(da.transpose("chain", "draw").values, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rhat = float(az.rhat(da))
            ess_b = float(az.ess(da, method="bulk"))
            ess_t = float(az.ess(da, method="tail"))
        a_tr, a_rk = axes[2 * row], axes[2 * row + 1]
        for c in range(nchain):
            a_tr.plot(values[c], color=colours[c], lw=0.7, alpha=0.85, label=f"chain {c}")
        a_tr.set_ylabel(_label(var, sel), fontsize=FONT["small"])
        a_tr.tick_params(labelsize=FONT["small"])
        flags = []
        flags.append(f"R-hat {rhat:.3f}" + (" ✗" if not rhat <= th["r_hat"] else ""))
        flags.append(f"bulk ESS {ess_b:.0f}" + (" ✗" if not ess_b >= th["ess_bulk"] else ""))
        flags.append(f"tail ESS {ess_t:.0f}" + (" ✗" if not ess_t >= th["ess_tail"] else ""))
        a_tr.set_title(
            f"{_label(var, sel)}: " + ", ".join(flags), fontsize=FONT["small"], loc="left"
        )
        ranks = stats.rankdata(values.ravel()).reshape(values.shape)
        nb = int(min(bins, max(4, values.shape[1] // 10)))  # ~10 draws per bin at least
        edges = np.linspace(0.5, values.size + 0.5, nb + 1)
        per_bin = values.shape[1] / nb
        lo, hi = stats.binom.interval(0.99, values.shape[1], 1 / nb)
        a_rk.axhspan(lo, hi, color="0.9", lw=0, label="99% band if uniform")
        a_rk.axhline(per_bin, color="0.5", lw=0.8, ls="--")
        for c in range(nchain):
            h, _ = np.histogram(ranks[c], bins=edges)
            a_rk.stairs(h, edges, color=colours[c], lw=1.3)
        a_rk.set_yticks([])
        a_rk.tick_params(labelsize=FONT["small"])
        a_rk.set_title("rank histogram per chain", fontsize=FONT["small"], loc="left")
        if row == len(params) - 1:
            a_tr.set_xlabel("draw", fontsize=FONT["label"])
            a_rk.set_xlabel("rank over all chains", fontsize=FONT["label"])
    status = "all checks passed" if diag.ok else f"{len(diag.problems)} problem(s)"
    fig.suptitle(
        f"{run.spec.name}: {status} — thresholds R-hat ≤ {th['r_hat']:g}, bulk and tail ESS ≥ "
        f"{th['ess_bulk']:.0f}, no divergences ({diag.divergences} found)",
        fontsize=FONT["label"],
    )
    handles, labels = axes[0].get_legend_handles_labels()
    band = axes[1].get_legend_handles_labels()
    fig.legend(
        handles + band[0],
        labels + band[1],
        loc="outside lower center",
        ncols=min(len(labels) + 1, 6),
        fontsize=FONT["small"],
        frameon=False,
    )
    return fig


# -- PSIS-LOO -----------------------------------------------------------------------------------
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
