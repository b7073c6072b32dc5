"""Causal DAGs: nodes, edges, latent nodes and declared roles; DOT, GML and networkx export.

A :class:`CausalDAG` is an immutable directed acyclic graph whose nodes are identifiers
(``[A-Za-z_][A-Za-z0-9_]*``). Some nodes may be *latent* (never a data column); a latent node
may be declared constant within a grouping column (a time-invariant confounder such as a
country's disposition to cooperate), which :mod:`embedcausal.identification` uses for
within-group identification.

The graph carries only the roles a model file *declares*: the estimand's treatment, mediator
and outcome (:meth:`CausalDAG.with_roles`); every other node is ``latent`` or ``other``. The
derived roles, ``confounder`` and ``instrument``, follow from identification's criteria and are
computed by :func:`embedcausal.identification.node_roles` where they are needed (``embedcausal
check``, drawing); :meth:`CausalDAG.to_dot` and :func:`embedcausal.plots.draw_dag` take them as
``roles=``.

Examples
--------
>>> dag = CausalDAG.from_edges(["u -> x", "u -> y", "x -> y"], latent=["u"])
>>> dag.observed
('x', 'y')
>>> sorted(dag.parents("y"))
['u', 'x']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from embedcausal.dag_checks import (
    check_acyclic,
    check_constant_within,
    check_data_columns,
    check_latent,
    expected_node,
)
from embedcausal.dot import read_dot, write_dot
from embedcausal.errors import DAGError, shown
from embedcausal.names import check_name, coerce_edge, parse_edge
from embedcausal.roles import (
    DECLARED_ROLES,
    DERIVED_ROLES,
    ROLE_COLOURS,
    ROLES,
    declared_roles,
    override_roles,
)

__all__ = ["DECLARED_ROLES", "DERIVED_ROLES", "ROLES", "ROLE_COLOURS", "CausalDAG", "parse_edge"]


class CausalDAG:
    """A causal directed acyclic graph with latent nodes and declared node roles.

    Build one with :meth:`from_edges` or :meth:`from_dot`; instances are not meant to be
    changed (methods such as :meth:`with_roles` return a new graph).

    Attributes
    ----------
    nodes : tuple of str
        All nodes, sorted.
    edges : tuple of (str, str)
        All edges ``(parent, child)``, sorted.
    latent : frozenset of str
        Latent (unobserved) nodes.
    observed : tuple of str
        Observed nodes, sorted.
    roles : dict
        Role of every node: its declared role (one of :data:`DECLARED_ROLES`), ``"latent"`` or
        ``"other"``.
    constant_within : dict
        Latent node -> grouping column within which the latent node is constant.
    """

    __slots__ = ("_constant_within", "_graph", "_latent", "_roles")

    def __init__(
        self,
        graph: nx.DiGraph,
        latent: frozenset[str],
        roles: dict[str, str],
        constant_within: dict[str, str],
    ) -> None:
        self._graph = graph
        self._latent = latent
        self._roles = roles
        self._constant_within = constant_within

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[str, str] | str],
        *,
        latent: Iterable[str] = (),
        nodes: Iterable[str] = (),
        roles: Mapping[str, str] | None = None,
        constant_within: Mapping[str, str] | None = None,
    ) -> CausalDAG:
        """Build a DAG from edges.

        Parameters
        ----------
        edges : iterable of str or (str, str)
            Edges as ``"parent -> child"`` strings or ``(parent, child)`` pairs.
        latent : iterable of str
            Nodes that are never observed.
        nodes : iterable of str
            Extra (isolated) nodes.
        roles : mapping, optional
            Node -> declared role (one of :data:`DECLARED_ROLES`, each for at most one node;
            ``"latent"`` and ``"other"`` are accepted where they hold).
        constant_within : mapping, optional
            Latent node -> grouping column within which it is constant, e.g.
            ``{"disposition": "country"}``.

        Raises
        ------
        DAGError
            On a bad edge, a self-loop, a cycle (the message prints it), a latent node or role
            for a node not in the graph, an unknown or derived role, a declared role given to
            two nodes, or a ``constant_within`` entry for a node that is not latent.
        """
        if isinstance(edges, str):
            edges = [edges]
        g = nx.DiGraph()
        for n in [nodes] if isinstance(nodes, str) else nodes:
            g.add_node(check_name(n, "node"))
        for edge in edges:
            g.add_edge(*coerce_edge(edge))
        check_acyclic(g)
        latent_set = frozenset(latent if not isinstance(latent, str) else [latent])
        check_latent(latent_set, g)
        within = dict(constant_within or {})
        check_constant_within(within, latent_set, g)
        return cls(g, latent_set, declared_roles(g.nodes, latent_set, roles or {}), within)

    @classmethod
    def from_dot(
        cls,
        dot: str,
        *,
        latent: Iterable[str] = (),
        roles: Mapping[str, str] | None = None,
    ) -> CausalDAG:
        """Build a DAG from DOT source, as :meth:`to_dot` or a Graphviz user writes it.

        The text is read by :func:`embedcausal.dot.read_dot` (pydot's grammar). A node is
        latent if listed in ``latent`` or if its attributes say ``latent``, ``latent=true`` or
        ``style=dashed``; ``role`` (declared roles) and ``constant_within`` node attributes are
        read back.

        Parameters
        ----------
        dot : str
            The DOT source: one ``digraph``.
        latent : iterable of str
            Nodes to take as latent besides those the attributes mark.
        roles : mapping, optional
            Declared roles, over those in the attributes (see :meth:`from_edges`).

        Raises
        ------
        DAGError
            If the text is not one valid ``digraph`` of ``a -> b`` edges (the message names the
            line, column and what was expected), or the graph is invalid (see
            :meth:`from_edges`).
        """
        read = read_dot(dot)
        extra = [latent] if isinstance(latent, str) else latent
        return cls.from_edges(
            read.edges,
            latent=read.latent | set(extra),
            nodes=read.nodes,
            roles={**read.roles, **(roles or {})},
            constant_within=read.constant_within,
        )

    def with_roles(
        self,
        *,
        treatment: str | None = None,
        mediator: str | None = None,
        outcome: str | None = None,
    ) -> CausalDAG:
        """Return a copy with the estimand's roles declared.

        Roles declared before are replaced; every other node is ``"latent"`` or ``"other"``.
        The derived roles (confounder, instrument) come from
        :func:`embedcausal.identification.node_roles`.

        Parameters
        ----------
        treatment, mediator, outcome : str, optional
            The nodes; each observed, and distinct.

        Raises
        ------
        DAGError
            If a named node is unknown or latent, or two roles name the same node.
        """
        named = {"treatment": treatment, "mediator": mediator, "outcome": outcome}
        seen: dict[str, str] = {}
        for role, node in named.items():
            if node is None:
                continue
            self._require(node)
            if node in self._latent:
                raise DAGError(
                    f"{role} {shown(node)} is latent; the {role} must be an observed node"
                )
            if node in seen:
                raise DAGError(
                    f"{shown(node)} is both {seen[node]} and {role}; expected distinct nodes"
                )
            seen[node] = role
        roles = {n: "latent" if n in self._latent else "other" for n in self._graph.nodes}
        roles.update(seen)
        return CausalDAG(
            self._graph, self._latent, dict(sorted(roles.items())), dict(self._constant_within)
        )

    # -- read-only views --------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        """All nodes, sorted."""
        return tuple(sorted(self._graph.nodes))

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        """All edges ``(parent, child)``, sorted."""
        return tuple(sorted(self._graph.edges))

    @property
    def latent(self) -> frozenset[str]:
        """The latent nodes."""
        return self._latent

    @property
    def observed(self) -> tuple[str, ...]:
        """The observed (non-latent) nodes, sorted."""
        return tuple(n for n in self.nodes if n not in self._latent)

    @property
    def roles(self) -> dict[str, str]:
        """Role of every node: declared, ``"latent"`` or ``"other"`` (a copy)."""
        return dict(self._roles)

    @property
    def constant_within(self) -> dict[str, str]:
        """Latent node -> grouping column it is constant within (a copy)."""
        return dict(self._constant_within)

    def __contains__(self, node: object) -> bool:
        return node in self._graph

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalDAG):
            return NotImplemented
        return (
            self.nodes == other.nodes
            and self.edges == other.edges
            and self._latent == other._latent
            and self._roles == other._roles
            and self._constant_within == other._constant_within
        )

    def __hash__(self) -> int:
        return hash((self.nodes, self.edges, self._latent))

    def __repr__(self) -> str:
        edges = ", ".join(f"{a} -> {b}" for a, b in self.edges)
        latent = f", latent={sorted(self._latent)}" if self._latent else ""
        return f"CausalDAG([{edges}]{latent})"

    # -- graph queries ----------------------------------------------------------------------
    def _require(self, node: str) -> None:
        if node not in self._graph:
            raise DAGError(f"unknown node {shown(node)}; {expected_node(node, self._graph.nodes)}")

    def parents(self, node: str) -> frozenset[str]:
        """Direct causes of ``node``."""
        self._require(node)
        return frozenset(self._graph.predecessors(node))

    def children(self, node: str) -> frozenset[str]:
        """Direct effects of ``node``."""
        self._require(node)
        return frozenset(self._graph.successors(node))

    def ancestors(self, node: str) -> frozenset[str]:
        """All nodes with a directed path into ``node`` (excluding ``node``)."""
        self._require(node)
        return frozenset(nx.ancestors(self._graph, node))

    def descendants(self, node: str) -> frozenset[str]:
        """All nodes reachable from ``node`` along directed paths (excluding ``node``)."""
        self._require(node)
        return frozenset(nx.descendants(self._graph, node))

    def check_data_columns(self, columns: Iterable[str], *, source: str = "data") -> None:
        """Check that the observed nodes, and no latent node, are among ``columns``.

        Parameters
        ----------
        columns : iterable of str
            Column names of a data set (already mapped to node names).
        source : str
            Name of the data set, for messages (e.g. the file path).

        Raises
        ------
        DAGError
            If a latent node appears as a column, or an observed node is missing.
        """
        check_data_columns(self.observed, self._latent, columns, source=source)

    # -- export -----------------------------------------------------------------------------
    def to_networkx(self) -> nx.DiGraph:
        """A copy as a :class:`networkx.DiGraph` with node attributes ``role``,
        ``observed`` (``"yes"``/``"no"``, as DoWhy uses it) and, where declared,
        ``constant_within``."""
        g = nx.DiGraph()
        for n in self.nodes:
            attrs = {
                "role": self._roles.get(n, "other"),
                "observed": "no" if n in self._latent else "yes",
            }
            if n in self._constant_within:
                attrs["constant_within"] = self._constant_within[n]
            g.add_node(n, **attrs)
        g.add_edges_from(self.edges)
        return g

    def to_gml(self) -> str:
        """The graph in GML, the form DoWhy's ``CausalModel(graph=...)`` prefers."""
        return "\n".join(nx.generate_gml(self.to_networkx()))

    def role_map(self, roles: Mapping[str, str] | None = None) -> dict[str, str]:
        """Role of every node: from ``roles`` where given, else the graph's own :attr:`roles`.

        Parameters
        ----------
        roles : mapping, optional
            Node -> role (one of :data:`ROLES`), e.g. the derived roles of
            :func:`embedcausal.identification.node_roles`.

        Raises
        ------
        DAGError
            If ``roles`` names a node not in the graph or an unknown role.
        """
        return override_roles(self._roles, roles)

    def to_dot(self, *, roles: Mapping[str, str] | None = None) -> str:
        """The graph in DOT: latent nodes and their edges dashed, roles as fill colours.

        Node attributes ``role`` and ``constant_within`` are written too, so that
        :meth:`from_dot` reads the same graph back.

        Parameters
        ----------
        roles : mapping, optional
            Node -> role to write and colour instead of the graph's own (see
            :meth:`role_map`).
        """
        return write_dot(
            self.nodes, self.edges, self._latent, self.role_map(roles), self._constant_within
        )
