"""Figures. Each module draws one kind of object with matplotlib's object-oriented API
(``matplotlib.figure.Figure`` with constrained layout, no pyplot state, no backend switch),
returns the figure, and accepts ``ax=`` (the caller's axes; a sequence of them for figures with
several panels). Statistics come from ArviZ 1.x (``arviz-stats``: HDIs of draws pooled over
chains, R-hat, ESS, PSIS-LOO); :func:`save_figure` writes any of them atomically.

``dag``
    The causal DAG: :func:`plot_dag` (a figure) and :func:`draw_dag` (a file).
``effects``
    :func:`plot_effects` (forest of total/NDE/NIE, one run or rival mechanisms side by side).
``curve``
    :func:`effect_curve` / :func:`plot_effect_curve` (effects along the treatment's range).
``ppc``
    :func:`plot_ppc` (posterior predictive checks), :func:`posterior_predictive`,
    :func:`ppc_table`.
``diagnostics``
    :func:`plot_diagnostics` (trace and rank plots of the parameters the diagnostics name).
``loo``
    :func:`plot_loo` (PSIS-LOO comparison).
``sensitivity``
    :func:`plot_confounding` (latent-confounder grid: contours, tipping line, benchmarks) and
    :func:`plot_rho` (an effect against a sensitivity parameter ρ).
``base``
    :func:`save_figure`, :func:`clipped_text`, :class:`PlotError`, :func:`thin_posterior`.
"""

from __future__ import annotations

from embedcausal.plots.base import PlotError, clipped_text, figure_bytes, save_figure
from embedcausal.plots.curve import effect_curve, plot_effect_curve
from embedcausal.plots.dag import draw_dag, plot_dag
from embedcausal.plots.diagnostics import plot_diagnostics
from embedcausal.plots.effects import plot_effects
from embedcausal.plots.loo import plot_loo
from embedcausal.plots.ppc import plot_ppc, posterior_predictive, ppc_table
from embedcausal.plots.sensitivity import plot_confounding, plot_rho, tipping_line

__all__ = [
    "PlotError",
    "clipped_text",
    "draw_dag",
    "effect_curve",
    "figure_bytes",
    "plot_confounding",
    "plot_dag",
    "plot_diagnostics",
    "plot_effect_curve",
    "plot_effects",
    "plot_loo",
    "plot_ppc",
    "plot_rho",
    "posterior_predictive",
    "ppc_table",
    "save_figure",
    "tipping_line",
]
