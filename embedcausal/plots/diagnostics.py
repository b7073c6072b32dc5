"""Sampler diagnostics drawn: trace and rank plots of the parameters at fault.

:func:`plot_diagnostics` draws trace and rank plots of the parameters the diagnostics name
(:attr:`embedcausal.Diagnostics.worst`), or of the lowest-ESS ones when every check passed
(:func:`diagnostic_parameters` picks them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcausal.plots.base import FONT, RUN_COLOURS, PlotError, axes_for

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["diagnostic_parameters", "plot_diagnostics"]

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
    # degenerate draws (constant, non-finite) divide 0 by 0 inside ArviZ: a NaN, sorted last
    # below; numpy's floating-point warnings are the only warnings that raises (np.errstate)
    with np.errstate(invalid="ignore", divide="ignore"):
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
        with np.errstate(invalid="ignore", divide="ignore"):  # degenerate draws: NaN, flagged ✗
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
