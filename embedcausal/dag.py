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

import re
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from embedcausal.errors import DAGError, close_matches, expected

__all__ = ["DECLARED_ROLES", "DERIVED_ROLES", "ROLES", "ROLE_COLOURS", "CausalDAG", "parse_edge"]

#: every role a node can have, in the order legends list them
ROLES = ("treatment", "mediator", "outcome", "confounder", "instrument", "latent", "other")
#: roles a graph carries because the estimand names them (at most one node each)
DECLARED_ROLES = ("treatment", "mediator", "outcome")
#: roles that follow from the graph (:func:`embedcausal.identification.node_roles`)
DERIVED_ROLES = ("confounder", "instrument")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(rf"^{_NAME}$")
_EDGE_RE = re.compile(rf"^\s*({_NAME})\s*->\s*({_NAME})\s*$")

#: fill colours of the roles in DOT output and drawings
ROLE_COLOURS = {
    "treatment": "#8ecae6",
    "mediator": "#ffd166",
    "outcome": "#ef8a62",
    "confounder": "#b8e0b8",
    "instrument": "#cdb4db",
    "latent": "#e0e0e0",
    "other": "#ffffff",
}


def parse_edge(text: str) -> tuple[str, str]:
    """Parse an edge written ``"parent -> child"``.

    Parameters
    ----------
    text : str
        The edge; whitespace around names and the arrow is ignored.

    Returns
    -------
    tuple of str
        ``(parent, child)``.

    Raises
    ------
    DAGError
        If the text is not of the form ``parent -> child`` with identifier names, or is a
        self-loop.
    """
    if not isinstance(text, str):
        raise DAGError(f"bad edge {text!r}; expected a string of the form 'parent -> child'")
    m = _EDGE_RE.match(text)
    if m is None:
        raise DAGError(
            f"bad edge {text!r}; expected the form 'parent -> child' with names made of "
            "letters, digits and '_' (not starting with a digit)"
        )
    parent, child = m.group(1), m.group(2)
    if parent == child:
        raise DAGError(f"self-loop {text!r}; a node cannot cause itself")
    return parent, child


def _expected(value: str, options: Iterable[str], *, what: str = "one of") -> str:
    return expected(value, options, what=what, n=3)


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DAGError(
            f"bad {what} name {name!r}; expected an identifier (letters, digits and '_', "
            "not starting with a digit)"
        )
    return name


def _coerce_edge(edge: tuple[str, str] | str) -> tuple[str, str]:
    if isinstance(edge, str):
        return parse_edge(edge)
    try:
        parent, child = edge
    except (TypeError, ValueError):
        raise DAGError(
            f"bad edge {edge!r}; expected 'parent -> child' or a (parent, child) pair"
        ) from None
    _check_name(parent, "node")
    _check_name(child, "node")
    if parent == child:
        raise DAGError(f"self-loop '{parent} -> {child}'; a node cannot cause itself")
    return parent, child


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
            g.add_node(_check_name(n, "node"))
        for edge in edges:
            g.add_edge(*_coerce_edge(edge))
        _check_acyclic(g)
        latent_set = frozenset(latent if not isinstance(latent, str) else [latent])
        for n in sorted(latent_set):
            if n not in g:
                raise DAGError(f"latent node {n!r} is not in the graph; {_expected(n, g.nodes)}")
        within = dict(constant_within or {})
        for n, group in sorted(within.items()):
            if n not in g:
                raise DAGError(
                    f"constant_within names node {n!r}, which is not in the graph; "
                    f"{_expected(n, sorted(latent_set) or g.nodes)}"
                )
            if n not in latent_set:
                raise DAGError(
                    f"constant_within names {n!r}, which is not latent; expected a latent node "
                    f"({', '.join(map(repr, sorted(latent_set))) or 'none declared'})"
                )
            if not isinstance(group, str) or not group.strip():
                raise DAGError(
                    f"constant_within[{n!r}] = {group!r}; expected the name of a grouping column"
                )
        return cls(g, latent_set, _resolve_roles(g, latent_set, roles or {}), within)

    @classmethod
    def from_dot(
        cls,
        dot: str,
        *,
        latent: Iterable[str] = (),
        roles: Mapping[str, str] | None = None,
    ) -> CausalDAG:
        """Build a DAG from DOT source (read with pydot's grammar).

        One ``[strict] digraph [name] { ... }`` with edge statements (chains ``a -> b -> c``),
        node statements (``a;`` or ``a [attrs]``), attribute statements (``rankdir=LR``,
        ``node [...]``, ``edge [...]``, and edge attributes, all ignored), ``//``, ``#`` and
        ``/* */`` comments and quoted identifiers. A node is latent if listed in ``latent``,
        or if its attributes say ``latent``, ``latent=true`` or ``style=dashed``; ``role=...``
        and ``constant_within=...`` node attributes are read back (as :meth:`to_dot` writes
        them; the derived roles ``confounder`` and ``instrument`` are skipped).

        Parameters
        ----------
        dot : str
            The DOT source.
        latent : iterable of str
            Nodes to take as latent besides those the attributes mark.
        roles : mapping, optional
            Declared roles, over those in the attributes (see :meth:`from_edges`).

        Raises
        ------
        DAGError
            If the text is not valid DOT (the message gives the line, column and what the
            parser expected), is not one ``digraph``, uses undirected edges, subgraphs or
            ``{ }`` groups, names a node that is not an identifier, or the graph is invalid
            (see :meth:`from_edges`).
        """
        return _parse_dot(cls, dot, latent=latent, roles=roles)

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
                raise DAGError(f"{role} {node!r} is latent; the {role} must be an observed node")
            if node in seen:
                raise DAGError(f"{node!r} is both {seen[node]} and {role}; expected distinct nodes")
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
            raise DAGError(f"unknown node {node!r}; {_expected(node, self._graph.nodes)}")

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
        cols = [str(c) for c in columns]
        present = set(cols)
        for n in sorted(self._latent):
            if n in present:
                raise DAGError(
                    f"latent node {n!r} appears as a column in {source}; a latent node must "
                    "not be observed"
                )
        missing = [n for n in self.observed if n not in present]
        if missing:
            hints = []
            for n in missing:
                close = close_matches(n, sorted(present), n=3)
                if close:
                    hints.append(f"{n!r} (close: {', '.join(map(repr, close))})")
                else:
                    hints.append(repr(n))
            raise DAGError(
                f"observed node(s) missing from the columns of {source}: {', '.join(hints)}; "
                f"expected every observed node of the DAG as a column"
            )

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
        out = dict(self._roles)
        for n, r in (roles or {}).items():
            if n not in self._graph:
                raise DAGError(f"role given for unknown node {n!r}; {_expected(n, self.nodes)}")
            if r not in ROLES:
                raise DAGError(f"unknown role {r!r} for node {n!r}; {_expected(r, ROLES)}")
            out[n] = r
        return dict(sorted(out.items()))

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
        role_of = self.role_map(roles)
        lines = [
            "digraph {",
            "  rankdir=LR;",
            '  node [shape=ellipse, style=filled, fontname="Helvetica"];',
        ]
        for n in self.nodes:
            role = role_of[n]
            style = "filled,dashed" if n in self._latent else "filled"
            attrs = [f'style="{style}"', f'fillcolor="{ROLE_COLOURS[role]}"', f'role="{role}"']
            if n in self._constant_within:
                attrs.append(f'constant_within="{self._constant_within[n]}"')
            lines.append(f"  {n} [{', '.join(attrs)}];")
        for a, b in self.edges:
            extra = " [style=dashed]" if a in self._latent else ""
            lines.append(f"  {a} -> {b}{extra};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _check_acyclic(g: nx.DiGraph) -> None:
    if nx.is_directed_acyclic_graph(g):
        return
    cycle = nx.find_cycle(g)
    nodes = [a for a, _ in cycle]
    # rotate so that the cycle starts at its smallest node (deterministic messages)
    i = nodes.index(min(nodes))
    nodes = nodes[i:] + nodes[:i]
    text = " -> ".join([*nodes, nodes[0]])
    raise DAGError(f"the graph has a cycle: {text}; expected a directed acyclic graph")


def _resolve_roles(
    g: nx.DiGraph, latent: frozenset[str], roles: Mapping[str, str]
) -> dict[str, str]:
    out: dict[str, str] = {}
    declared: dict[str, str] = {}
    for n, r in roles.items():
        if n not in g:
            raise DAGError(f"role given for unknown node {n!r}; {_expected(n, g.nodes)}")
        if r in DERIVED_ROLES:
            raise DAGError(
                f"role {r!r} for node {n!r} follows from the graph and cannot be declared; "
                f"expected one of {', '.join(map(repr, DECLARED_ROLES))} "
                "(embedcausal.identification.node_roles derives the others)"
            )
        if r not in ROLES:
            raise DAGError(
                f"unknown role {r!r} for node {n!r}; "
                f"{_expected(r, (*DECLARED_ROLES, 'latent', 'other'))} "
                f"({' and '.join(map(repr, DERIVED_ROLES))} follow from the graph)"
            )
        if n in latent and r != "latent":
            raise DAGError(
                f"node {n!r} is latent but given the role {r!r}; a latent node's role is 'latent'"
            )
        if r == "latent" and n not in latent:
            raise DAGError(
                f"node {n!r} has the role 'latent' but is not declared latent; "
                "expected it in the latent nodes"
            )
        if r in DECLARED_ROLES:
            if r in declared:
                raise DAGError(
                    f"role {r!r} given to both {declared[r]!r} and {n!r}; expected one {r} node"
                )
            declared[r] = n
        out[n] = r
    for n in g.nodes:
        out.setdefault(n, "latent" if n in latent else "other")
    return dict(sorted(out.items()))


# -- reading DOT (pydot's grammar) ------------------------------------------------------------
#: pydot's pyparsing grammar is not thread-safe (pydot says so): one parse at a time
_DOT_LOCK = threading.Lock()
#: pyparsing's names of DOT punctuation, as written in DOT
_DOT_PUNCTUATION = {
    "lbrace": "'{'",
    "rbrace": "'}'",
    "lbrack": "'['",
    "rbrack": "']'",
    "equals": "'='",
    "semi": "';'",
    "comma": "','",
    "colon": "':'",
}
_DOT_FORM = "expected a digraph of edges, e.g. 'digraph { a -> b; b -> c }'"
#: DOT keywords that pydot returns as node names for ``node [...]``, ``edge [...]``, ...
_DOT_DEFAULTS = ("node", "edge", "graph")


def _dot_grammar() -> Any:
    """pydot's DOT grammar (a pyparsing element).

    pydot 4 builds it with pyparsing's old camelCase method names, which pyparsing >= 3.3
    warns about (``PyparsingDeprecationWarning``) while ``pydot.dot_parser`` is imported. The
    warnings are about pydot's code, not about the DOT read, so pyparsing's warnings are
    filtered during that import only.
    """
    import pyparsing

    with warnings.catch_warnings():
        category = getattr(pyparsing, "PyparsingWarning", None)  # pyparsing >= 3.3
        if category is not None:
            warnings.filterwarnings("ignore", category=category)
        from pydot.dot_parser import GraphParser
    return GraphParser.parser


def _read_dot(text: str) -> Any:
    """The one ``digraph`` in ``text``, as a ``pydot.Dot``."""
    from pyparsing import ParseBaseException

    with _DOT_LOCK:
        try:
            # the grammar itself: pydot.graph_from_dot_data would print a parse error to
            # stdout and return None
            graphs = list(_dot_grammar().parse_string(text, parse_all=True))
        except ParseBaseException as exc:
            near = text[exc.loc : exc.loc + 20].split("\n")[0].strip()
            wanted = re.sub(r"^Expected\s+", "", exc.msg)
            wanted = re.sub(r"\b\w+\b", lambda m: _DOT_PUNCTUATION.get(m[0], m[0]), wanted)
            where = f"near {near!r}" if near else "at the end"
            raise DAGError(
                f"cannot parse DOT at line {exc.lineno}, column {exc.col}, {where}: the parser "
                f"wanted {wanted.lower()}; {_DOT_FORM}"
            ) from None
    if len(graphs) != 1:
        raise DAGError(f"DOT source holds {len(graphs)} graphs; {_DOT_FORM}")
    graph = graphs[0]
    if graph.get_type() != "digraph":
        raise DAGError(f"DOT source is an undirected {graph.get_type()!r}; {_DOT_FORM}")
    if _has_undirected_edge(text):
        raise DAGError("DOT undirected edge '--' found; expected directed edges 'a -> b'")
    if graph.get_subgraphs() or any(
        not isinstance(end, str) for e in graph.get_edges() for end in e.obj_dict["points"]
    ):
        raise DAGError(
            "DOT subgraphs and '{ }' groups are not supported; write one edge per statement"
        )
    return graph


def _has_undirected_edge(text: str) -> bool:
    """Whether DOT code (outside strings and comments) has the undirected edge ``--``; pydot
    reads ``a -- b`` in a digraph as ``a -> b``."""
    from pyparsing import QuotedString, cpp_style_comment, python_style_comment

    not_code = QuotedString('"', esc_char="\\", multiline=True) | cpp_style_comment
    code = (not_code | python_style_comment).suppress().transform_string(text)
    return "--" in code


def _unquote(text: str) -> str:
    """A DOT ID without its double quotes (pydot keeps them)."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _dot_node(text: str) -> str:
    return _check_name(_unquote(text), "node")


def _parse_dot(
    cls: type[CausalDAG],
    dot: str,
    *,
    latent: Iterable[str],
    roles: Mapping[str, str] | None,
) -> CausalDAG:
    if not isinstance(dot, str):
        raise DAGError(f"DOT source must be a string, got {type(dot).__name__}")
    graph = _read_dot(dot)
    edges = [(_dot_node(e.get_source()), _dot_node(e.get_destination())) for e in graph.get_edges()]
    nodes: list[str] = []
    node_attrs: dict[str, dict[str, str]] = {}
    for node in graph.get_nodes():
        if node.get_name() in _DOT_DEFAULTS:  # node [...], edge [...]: defaults, ignored
            continue
        name = _dot_node(node.get_name())
        nodes.append(name)
        attrs = node_attrs.setdefault(name, {})
        for key, value in node.get_attributes().items():
            # a bare attribute (``u [latent]``) has no value: it is a flag
            attrs[_unquote(key)] = "true" if value is None else _unquote(value)
    latent_set = set(latent if not isinstance(latent, str) else [latent])
    role_map: dict[str, str] = {}
    within: dict[str, str] = {}
    for n, attrs in node_attrs.items():
        style = attrs.get("style", "").lower()
        if attrs.get("latent", "false").lower() in ("true", "1", "yes") or "dashed" in style:
            latent_set.add(n)
        # derived roles (as to_dot(roles=...) writes them) follow from the graph again
        if "role" in attrs and attrs["role"] not in ("other", "latent", *DERIVED_ROLES):
            role_map[n] = attrs["role"]
        if "constant_within" in attrs:
            within[n] = attrs["constant_within"]
    role_map.update(roles or {})
    return cls.from_edges(
        edges, latent=latent_set, nodes=nodes, roles=role_map, constant_within=within
    )
