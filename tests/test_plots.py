"""Drawing DAGs (embedcausal.plots): object-oriented matplotlib, roles coloured, latent dashed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from embedcausal.dag import ROLE_COLOURS, ROLES, CausalDAG
from embedcausal.errors import DAGError
from embedcausal.identification import node_roles
from embedcausal.plots import draw_dag, plot_dag

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def dag() -> CausalDAG:
    return CausalDAG.from_edges(
        ["u -> t", "u -> y", "t -> m", "m -> y", "c -> t", "c -> y"], latent=["u"]
    ).with_roles(treatment="t", mediator="m", outcome="y")


def _node_collections(fig: Figure):
    ax = fig.axes[0]
    return [c for c in ax.collections if len(c.get_offsets()) and c.get_sizes().size]


def test_plot_dag_returns_a_figure_with_roles_coloured_and_a_legend(dag):
    fig = plot_dag(dag)
    assert isinstance(fig, Figure)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # by default the declared roles and the derived ones (c confounds t and y)
    assert legend == ["treatment", "mediator", "outcome", "confounder", "latent"]
    observed, latent = _node_collections(fig)
    colours = [tuple(c) for c in observed.get_facecolors()]
    roles = node_roles(dag)
    expected = [to_rgba(ROLE_COLOURS[roles[n]]) for n in dag.observed]
    assert colours == expected
    assert latent.get_linestyle()[0][1] is not None  # dashed outline
    assert observed.get_linestyle()[0][1] is None


def test_plot_dag_uses_given_roles_and_axes(dag):
    host = Figure()
    ax = host.add_subplot()
    fig = plot_dag(dag, roles=dag.roles, ax=ax)  # the declared roles only
    assert fig is host and fig.axes == [ax]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [r for r in ROLES if r in set(dag.roles.values())]
    assert "other" in legend and "confounder" not in legend


def test_plot_dag_leaves_pyplot_alone(dag):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_dag(dag)
    assert plt.get_fignums() == before


def test_bad_roles_are_named(dag, tmp_path):
    with pytest.raises(DAGError, match=r"unknown role 'cause' for node 'c'"):
        plot_dag(dag, roles={"c": "cause"})
    with pytest.raises(DAGError, match=r"unknown node 'q'"):
        draw_dag(dag, tmp_path / "g.png", roles={"q": "confounder"})
    assert not list(tmp_path.iterdir())


def test_draw_dag_missing_directory(dag, tmp_path):
    with pytest.raises(DAGError, match=r"directory .* not found"):
        draw_dag(dag, tmp_path / "nope" / "g.svg")


def test_library_never_switches_the_matplotlib_backend():
    calls = [
        f"{p.relative_to(REPO)}:{i}"
        for p in sorted((REPO / "embedcausal").rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\b(matplotlib|mpl)\.use\(", line)
    ]
    assert calls == []
