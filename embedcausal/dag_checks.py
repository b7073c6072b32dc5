"""What makes a graph a valid causal DAG, and a data set fit it: the checks and their messages.

:class:`~embedcausal.dag.CausalDAG` builds its graph and calls these: :func:`check_acyclic`
(the cycle printed, starting at its smallest node, so messages are deterministic),
:func:`check_latent` and :func:`check_constant_within` (declarations naming nodes of the
graph), and :func:`check_data_columns` (the observed nodes, and no latent one, among a data
set's columns). Each raises :class:`~embedcausal.errors.DAGError` with a one-line message that
names the value and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from embedcausal.errors import DAGError, close_matches, expected, shown

__all__ = [
    "check_acyclic",
    "check_constant_within",
    "check_data_columns",
    "check_latent",
    "expected_node",
]


def expected_node(value: str, options: Iterable[str]) -> str:
    """``expected one of …`` for a node name, with the three closest as "did you mean"."""
    return expected(value, options, n=3)


def check_acyclic(g: nx.DiGraph) -> None:
    """Raise :class:`DAGError` printing a cycle of ``g``, if it has one."""
    if nx.is_directed_acyclic_graph(g):
        return
    cycle = nx.find_cycle(g)
    nodes = [a for a, _ in cycle]
    # rotate so that the cycle starts at its smallest node (deterministic messages)
    i = nodes.index(min(nodes))
    nodes = nodes[i:] + nodes[:i]
    text = " -> ".join([*nodes, nodes[0]])
    raise DAGError(f"the graph has a cycle: {text}; expected a directed acyclic graph")


def check_latent(latent: Iterable[str], g: nx.DiGraph) -> None:
    """Raise :class:`DAGError` for a latent node that is not in ``g``."""
    for n in sorted(latent):
        if n not in g:
            raise DAGError(
                f"latent node {shown(n)} is not in the graph; {expected_node(n, g.nodes)}"
            )


def check_constant_within(within: Mapping[str, str], latent: frozenset[str], g: nx.DiGraph) -> None:
    """Raise :class:`DAGError` unless each ``constant_within`` entry maps a latent node of ``g``
    to a grouping column's name."""
    for n, group in sorted(within.items()):
        if n not in g:
            raise DAGError(
                f"constant_within names node {shown(n)}, which is not in the graph; "
                f"{expected_node(n, sorted(latent) or g.nodes)}"
            )
        if n not in latent:
            raise DAGError(
                f"constant_within names {shown(n)}, which is not latent; expected a latent "
                "node "
                f"({', '.join(map(repr, sorted(latent))) or 'none declared'})"
            )
        if not isinstance(group, str) or not group.strip():
            raise DAGError(
                f"constant_within[{shown(n)}] = {shown(group)}; expected the name of a "
                "grouping column"
            )


def check_data_columns(
    observed: Iterable[str], latent: Iterable[str], columns: Iterable[str], *, source: str
) -> None:
    """Raise :class:`DAGError` if a latent node is among ``columns`` or an observed one is not.

    ``source`` names the data set in the message (e.g. its file path).
    """
    cols = [str(c) for c in columns]
    present = set(cols)
    for n in sorted(latent):
        if n in present:
            raise DAGError(
                f"latent node {shown(n)} appears as a column in {source}; a latent node must "
                "not be observed"
            )
    missing = [n for n in observed if n not in present]
    if missing:
        hints = [
            f"{shown(n)} (close: {', '.join(map(repr, close))})" if close else repr(n)
            for n in missing
            for close in [close_matches(n, sorted(present), n=3)]
        ]
        raise DAGError(
            f"observed node(s) missing from the columns of {source}: {', '.join(hints)}; "
            f"expected every observed node of the DAG as a column"
        )
