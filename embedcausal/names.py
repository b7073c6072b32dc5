"""Node names and edges written as text: ``parent -> child`` with identifier names.

A node name is an identifier (``[A-Za-z_][A-Za-z0-9_]*``), so that it can be a data column, a
DOT ID and a PyMC coordinate alike; an edge is written ``"parent -> child"`` (model files'
``dag.edges``) or given as a ``(parent, child)`` pair.
"""

from __future__ import annotations

import re

from embedcausal.errors import DAGError, shown

__all__ = ["check_name", "coerce_edge", "parse_edge"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(rf"^{_NAME}$")
_EDGE_RE = re.compile(rf"^\s*({_NAME})\s*->\s*({_NAME})\s*$")


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
        raise DAGError(f"bad edge {shown(text)}; expected a string of the form 'parent -> child'")
    m = _EDGE_RE.match(text)
    if m is None:
        raise DAGError(
            f"bad edge {shown(text)}; expected the form 'parent -> child' with names made of "
            "letters, digits and '_' (not starting with a digit)"
        )
    parent, child = m.group(1), m.group(2)
    if parent == child:
        raise DAGError(f"self-loop {shown(text)}; a node cannot cause itself")
    return parent, child


def check_name(name: object, what: str) -> str:
    """``name`` if it is an identifier; ``what`` names it in the error ("node", ...).

    Raises
    ------
    DAGError
        If ``name`` is not a string of letters, digits and ``_`` not starting with a digit.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DAGError(
            f"bad {what} name {shown(name)}; expected an identifier (letters, digits and '_', "
            "not starting with a digit)"
        )
    return name


def coerce_edge(edge: tuple[str, str] | str) -> tuple[str, str]:
    """An edge given as ``"parent -> child"`` or a ``(parent, child)`` pair, as a pair.

    Raises
    ------
    DAGError
        For a bad edge text or pair, a bad node name, or a self-loop.
    """
    if isinstance(edge, str):
        return parse_edge(edge)
    try:
        parent, child = edge
    except (TypeError, ValueError):
        raise DAGError(
            f"bad edge {shown(edge)}; expected 'parent -> child' or a (parent, child) pair"
        ) from None
    check_name(parent, "node")
    check_name(child, "node")
    if parent == child:
        raise DAGError(f"self-loop '{parent} -> {child}'; a node cannot cause itself")
    return parent, child
