"""Figures of mechanism effects: a forest of total/NDE/NIE, one run or rival mechanisms.

:func:`plot_effects` draws the posterior of each effect (mean and HDI of the draws pooled over
chains) for one run or for rival mechanisms side by side. Effects along the treatment's range
are :mod:`embedcausal.plots.curve`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcausal.plots.base import (
    EFFECT_COLOURS,
    EFFECT_LABELS,
    EFFECTS,
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

__all__ = ["EFFECTS", "plot_effects", "runs_by_name"]


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
