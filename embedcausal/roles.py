"""Node roles: the vocabulary, the roles a graph declares, and their colours.

Every node of a causal DAG has one role of :data:`ROLES`. A :class:`~embedcausal.dag.CausalDAG`
carries only the *declared* roles, :data:`DECLARED_ROLES` (the estimand's treatment, mediator
and outcome, at most one node each), and ``latent`` or ``other`` for the rest. The *derived*
roles, :data:`DERIVED_ROLES`, follow from the graph and the identification criteria:
:func:`embedcausal.identification.node_roles` computes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from embedcausal.errors import DAGError, expected, shown

__all__ = [
    "DECLARED_ROLES",
    "DERIVED_ROLES",
    "ROLES",
    "ROLE_COLOURS",
    "declared_roles",
    "override_roles",
]

#: every role a node can have, in the order legends list them
ROLES = ("treatment", "mediator", "outcome", "confounder", "instrument", "latent", "other")
#: roles a graph carries because the estimand names them (at most one node each)
DECLARED_ROLES = ("treatment", "mediator", "outcome")
#: roles that follow from the graph (:func:`embedcausal.identification.node_roles`)
DERIVED_ROLES = ("confounder", "instrument")

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


def _expected(value: str, options: Iterable[str]) -> str:
    return expected(value, options, n=3)


def declared_roles(
    nodes: Iterable[str], latent: Set[str], roles: Mapping[str, str]
) -> dict[str, str]:
    """The role of every node of a graph from the roles declared for some of them.

    Parameters
    ----------
    nodes : iterable of str
        The graph's nodes.
    latent : set of str
        Its latent nodes.
    roles : mapping
        Node -> declared role: one of :data:`DECLARED_ROLES` (each for at most one node), or
        ``"latent"`` / ``"other"`` where they hold.

    Returns
    -------
    dict of str to str
        Every node's role (undeclared nodes ``"latent"`` or ``"other"``), sorted by node.

    Raises
    ------
    DAGError
        For an unknown node, an unknown or derived role, a latent node with another role than
        ``"latent"`` (or the reverse), or a declared role given to two nodes.
    """
    nodes = list(nodes)
    out: dict[str, str] = {}
    declared: dict[str, str] = {}
    for n, r in roles.items():
        if n not in nodes:
            raise DAGError(f"role given for unknown node {shown(n)}; {_expected(n, nodes)}")
        if r in DERIVED_ROLES:
            raise DAGError(
                f"role {shown(r)} for node {shown(n)} follows from the graph and cannot be "
                "declared; "
                f"expected one of {', '.join(map(repr, DECLARED_ROLES))} "
                "(embedcausal.identification.node_roles derives the others)"
            )
        if r not in ROLES:
            raise DAGError(
                f"unknown role {shown(r)} for node {shown(n)}; "
                f"{_expected(r, (*DECLARED_ROLES, 'latent', 'other'))} "
                f"({' and '.join(map(repr, DERIVED_ROLES))} follow from the graph)"
            )
        if n in latent and r != "latent":
            raise DAGError(
                f"node {shown(n)} is latent but given the role {shown(r)}; a latent node's role "
                "is 'latent'"
            )
        if r == "latent" and n not in latent:
            raise DAGError(
                f"node {shown(n)} has the role 'latent' but is not declared latent; "
                "expected it in the latent nodes"
            )
        if r in DECLARED_ROLES:
            if r in declared:
                raise DAGError(
                    f"role {shown(r)} given to both {shown(declared[r])} and {shown(n)}; expected "
                    f"one {r} node"
                )
            declared[r] = n
        out[n] = r
    for n in nodes:
        out.setdefault(n, "latent" if n in latent else "other")
    return dict(sorted(out.items()))


def override_roles(base: Mapping[str, str], roles: Mapping[str, str] | None) -> dict[str, str]:
    """``base`` (every node's role) with the roles in ``roles`` put over it, sorted by node.

    Raises
    ------
    DAGError
        If ``roles`` names a node not in ``base`` or a role not in :data:`ROLES`.
    """
    out = dict(base)
    for n, r in (roles or {}).items():
        if n not in base:
            raise DAGError(f"role given for unknown node {shown(n)}; {_expected(n, base)}")
        if r not in ROLES:
            raise DAGError(f"unknown role {shown(r)} for node {shown(n)}; {_expected(r, ROLES)}")
        out[n] = r
    return dict(sorted(out.items()))
