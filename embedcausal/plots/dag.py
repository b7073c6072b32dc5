"""Drawing a causal DAG: latent nodes dashed, roles coloured, with a legend.

:func:`plot_dag` draws on a matplotlib figure (layered left to right, a layer per
topological generation); :func:`draw_dag` writes an ``.svg`` or ``.png`` file, with Graphviz's
``dot`` when it is installed and :func:`plot_dag` otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

from embedcausal.dag import CausalDAG
from embedcausal.errors import DAGError
from embedcausal.files import atomic_write
from embedcausal.identification import node_roles
from embedcausal.roles import ROLE_COLOURS, ROLES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["draw_dag", "plot_dag"]

#: node size (points squared) in matplotlib drawings
_NODE_SIZE = 3800


def _roles(dag: CausalDAG, roles: Mapping[str, str] | None) -> dict[str, str]:
    """``roles`` over the graph's own, or by default the declared and derived roles."""
    return dag.role_map(node_roles(dag) if roles is None else roles)


def plot_dag(
    dag: CausalDAG, *, roles: Mapping[str, str] | None = None, ax: Axes | None = None
) -> Figure:
    """Draw the DAG with matplotlib: latent nodes and their edges dashed, roles as colours.

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    roles : mapping, optional
        Node -> role (one of :data:`embedcausal.roles.ROLES`) for the colours and the legend;
        nodes left out keep the DAG's own roles. By default
        :func:`embedcausal.identification.node_roles`: the DAG's declared treatment, mediator
        and outcome, and the confounders and instruments they imply.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; by default a new :class:`matplotlib.figure.Figure` sized to the graph.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    DAGError
        If ``roles`` names an unknown node or role.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    role_of = _roles(dag, roles)
    g = dag.to_networkx()
    pos = _layout(g)
    if ax is None:
        depth = max((x for x, _ in pos.values()), default=0.0)
        height = max((abs(y) for _, y in pos.values()), default=0.0)
        fig = Figure(figsize=(2.6 * (depth + 1) + 1.5, 1.4 * (2 * height + 1) + 1.2))
        ax = fig.add_subplot()
    fig = ax.figure
    while not isinstance(fig, Figure):  # a SubFigure
        fig = fig.figure
    ax.set_axis_off()
    latent = dag.latent
    common = {"ax": ax, "arrows": True, "arrowsize": 14, "node_size": _NODE_SIZE}
    for a, b in dag.edges:
        skip = abs(pos[b][0] - pos[a][0]) > 1 or pos[a][0] == pos[b][0]
        # edges that skip a layer bend away from the middle, so they do not hide others
        rad = (-0.25 if pos[a][1] > pos[b][1] else 0.25) if skip else 0.0
        nx.draw_networkx_edges(
            g,
            pos,
            edgelist=[(a, b)],
            style="dashed" if a in latent else "solid",
            connectionstyle=f"arc3,rad={rad}",
            **common,
        )
    for latent_flag in (False, True):
        nodelist = [n for n in dag.nodes if (n in latent) == latent_flag]
        if not nodelist:
            continue
        nx.draw_networkx_nodes(
            g,
            pos,
            nodelist=nodelist,
            node_color=[ROLE_COLOURS[role_of[n]] for n in nodelist],
            edgecolors="black",
            linewidths=1.2,
            node_size=_NODE_SIZE,
            ax=ax,
        ).set_linestyle("--" if latent_flag else "-")
    labels = {n: _wrap_label(n) for n in dag.nodes}
    nx.draw_networkx_labels(g, pos, labels=labels, font_size=7, ax=ax)
    used = [r for r in ROLES if r in set(role_of.values())]
    handles = [
        Patch(
            facecolor=ROLE_COLOURS[r],
            edgecolor="black",
            linestyle="--" if r == "latent" else "-",
            label=r,
        )
        for r in used
    ]
    if handles:
        ax.legend(
            handles=handles,
            loc="lower center",
            ncols=min(len(handles), 4),
            bbox_to_anchor=(0.5, -0.05),
            frameon=False,
            fontsize=8,
        )
    ax.margins(0.15)
    return fig


def draw_dag(
    dag: CausalDAG, path: str | os.PathLike, *, roles: Mapping[str, str] | None = None
) -> Path:
    """Draw the DAG to an ``.svg`` or ``.png`` file.

    Uses the ``dot`` program of Graphviz when it is on ``PATH`` (fed :meth:`CausalDAG.to_dot`),
    else :func:`plot_dag`. Latent nodes are dashed, roles coloured. The file is written
    atomically (:func:`embedcausal.files.atomic_write`).

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    path : str or path-like
        The file to write; its suffix, ``.svg`` or ``.png``, picks the format.
    roles : mapping, optional
        Node -> role for the colours, as in :func:`plot_dag`.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    DAGError
        If the suffix is not ``.svg`` or ``.png``, the directory does not exist, or ``roles``
        names an unknown node or role.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise DAGError(
            f"cannot draw to {str(path)!r}: unknown suffix {path.suffix!r}; expected .svg or .png"
        )
    if not path.parent.is_dir():
        raise DAGError(f"cannot draw to {str(path)!r}: directory {str(path.parent)!r} not found")
    role_of = _roles(dag, roles)

    def write(tmp: Path) -> None:
        dot = shutil.which("dot")
        if dot is None or not _draw_graphviz(dot, dag.to_dot(roles=role_of), fmt, tmp):
            plot_dag(dag, roles=role_of).savefig(tmp, format=fmt, bbox_inches="tight")

    return atomic_write(path, write)


def _layout(g: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Layers left to right (topological generations), each centred vertically."""
    pos: dict[str, tuple[float, float]] = {}
    for depth, layer in enumerate(nx.topological_generations(g)):
        layer = sorted(layer)
        for i, n in enumerate(layer):
            pos[n] = (float(depth), (len(layer) - 1) / 2.0 - i)
    return pos


def _wrap_label(name: str, width: int = 11) -> str:
    """Break a long node name at underscores so that it fits inside its circle."""
    if len(name) <= width or "_" not in name:
        return name
    lines, line = [], ""
    for part in name.split("_"):
        piece = part if not line else "_" + part
        if line and len(line) + len(piece) > width:
            lines.append(line + "_")
            line = part
        else:
            line += piece
    lines.append(line)
    return "\n".join(lines)


def _draw_graphviz(dot: str, source: str, fmt: str, out: Path) -> bool:
    try:
        res = subprocess.run(
            [dot, f"-T{fmt}", "-o", str(out)],
            input=source.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and out.exists() and os.path.getsize(out) > 0
