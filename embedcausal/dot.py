"""DOT, Graphviz's graph language: the text :meth:`CausalDAG.to_dot
<embedcausal.dag.CausalDAG.to_dot>` writes and :meth:`~embedcausal.dag.CausalDAG.from_dot`
reads.

:func:`write_dot` styles the graph (latent nodes and their edges dashed, roles as fill
colours) and writes the node attributes ``role`` and ``constant_within`` so that the graph
reads back. :func:`read_dot` parses DOT with pydot's grammar and returns plain data; checking
it as a graph (node names, cycles, roles) is :class:`~embedcausal.dag.CausalDAG`'s job.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from embedcausal.errors import DAGError, shown
from embedcausal.roles import DERIVED_ROLES, ROLE_COLOURS

__all__ = ["DotGraph", "read_dot", "write_dot"]


def write_dot(
    nodes: Iterable[str],
    edges: Iterable[tuple[str, str]],
    latent: Set[str],
    roles: Mapping[str, str],
    constant_within: Mapping[str, str],
) -> str:
    """A graph in DOT: latent nodes and their edges dashed, roles as fill colours.

    Parameters
    ----------
    nodes, edges : iterable
        The nodes and the ``(parent, child)`` edges, in the order to write them.
    latent : set of str
        Latent nodes.
    roles : mapping
        Role of every node (one of :data:`embedcausal.roles.ROLES`).
    constant_within : mapping
        Latent node -> grouping column.

    Returns
    -------
    str
        The DOT source, ending with a newline.
    """
    lines = [
        "digraph {",
        "  rankdir=LR;",
        '  node [shape=ellipse, style=filled, fontname="Helvetica"];',
    ]
    for n in nodes:
        role = roles[n]
        style = "filled,dashed" if n in latent else "filled"
        attrs = [f'style="{style}"', f'fillcolor="{ROLE_COLOURS[role]}"', f'role="{role}"']
        if n in constant_within:
            attrs.append(f'constant_within="{constant_within[n]}"')
        lines.append(f"  {n} [{', '.join(attrs)}];")
    for a, b in edges:
        extra = " [style=dashed]" if a in latent else ""
        lines.append(f"  {a} -> {b}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DotGraph:
    """What :func:`read_dot` found: names unquoted, not yet checked as a graph.

    Attributes
    ----------
    nodes : tuple of str
        Nodes of node statements (``a;``, ``a [attrs]``), in order.
    edges : tuple of (str, str)
        Edges of edge statements (chains split), in order.
    latent : frozenset of str
        Nodes whose attributes say ``latent``, ``latent=true`` or ``style=dashed``.
    roles : dict
        Node -> ``role`` attribute, except ``other``, ``latent`` and the derived roles (which
        follow from the graph again).
    constant_within : dict
        Node -> ``constant_within`` attribute.
    """

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    latent: frozenset[str] = frozenset()
    roles: dict[str, str] = field(default_factory=dict)
    constant_within: dict[str, str] = field(default_factory=dict)


def read_dot(text: str) -> DotGraph:
    """Parse DOT source: one ``[strict] digraph [name] { ... }``.

    Edge statements (chains ``a -> b -> c``), node statements, attribute statements
    (``rankdir=LR``, ``node [...]``, ``edge [...]``, edge attributes: ignored), ``//``, ``#``
    and ``/* */`` comments and quoted identifiers are read, with pydot's grammar.

    Raises
    ------
    DAGError
        One line: for text that is not DOT (with the line, column and what the grammar
        wanted), not one ``digraph``, or uses undirected edges, subgraphs or ``{ }`` groups.
    """
    if not isinstance(text, str):
        raise DAGError(f"DOT source must be a string, got {type(text).__name__}")
    graph = _read_dot(text)
    edges = tuple(
        (_unquote(e.get_source()), _unquote(e.get_destination())) for e in graph.get_edges()
    )
    nodes: list[str] = []
    node_attrs: dict[str, dict[str, str]] = {}
    for node in graph.get_nodes():
        if node.get_name() in _DOT_DEFAULTS:  # node [...], edge [...]: defaults, ignored
            continue
        name = _unquote(node.get_name())
        nodes.append(name)
        attrs = node_attrs.setdefault(name, {})
        for key, value in node.get_attributes().items():
            # a bare attribute (``u [latent]``) has no value: it is a flag
            attrs[_unquote(key)] = "true" if value is None else _unquote(value)
    latent: set[str] = set()
    roles: dict[str, str] = {}
    within: dict[str, str] = {}
    for n, attrs in node_attrs.items():
        style = attrs.get("style", "").lower()
        if attrs.get("latent", "false").lower() in ("true", "1", "yes") or "dashed" in style:
            latent.add(n)
        # derived roles (as to_dot(roles=...) writes them) follow from the graph again
        if "role" in attrs and attrs["role"] not in ("other", "latent", *DERIVED_ROLES):
            roles[n] = attrs["role"]
        if "constant_within" in attrs:
            within[n] = attrs["constant_within"]
    return DotGraph(tuple(nodes), edges, frozenset(latent), roles, within)


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
            where = f"near {shown(near)}" if near else "at the end"
            raise DAGError(
                f"cannot parse DOT at line {exc.lineno}, column {exc.col}, {where}: the parser "
                f"wanted {wanted.lower()}; {_DOT_FORM}"
            ) from None
    if len(graphs) != 1:
        raise DAGError(f"DOT source holds {len(graphs)} graphs; {_DOT_FORM}")
    graph = graphs[0]
    if graph.get_type() != "digraph":
        raise DAGError(f"DOT source is an undirected {shown(graph.get_type())}; {_DOT_FORM}")
    if _has_undirected_edge(text):
        raise DAGError("DOT undirected edge '--' found; expected directed edges 'a -> b'")
    if graph.get_subgraphs() or any(
        not isinstance(end, str)  # an anonymous group, { a b } -> c
        for e in graph.get_edges()
        for end in (e.get_source(), e.get_destination())
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
