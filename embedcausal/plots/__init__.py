"""Figures. Each module draws one kind of object with matplotlib's object-oriented API
(``matplotlib.figure.Figure``, no pyplot state, no backend switch) and imports matplotlib
only when called.

``dag``
    The causal DAG: :func:`plot_dag` (a figure) and :func:`draw_dag` (a file).
"""

from __future__ import annotations

from embedcausal.plots.dag import draw_dag, plot_dag

__all__ = ["draw_dag", "plot_dag"]
