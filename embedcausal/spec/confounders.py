"""The ``[dag] confounders`` shorthand: common causes of treatment, mediator and outcome.

A study with fifteen baseline covariates should not need forty-five hand-written edges:
``confounders = ["threat", "alliance"]`` means an edge from each to the treatment, the mediator
(when there is one) and the outcome. :func:`confounder_edges` expands the list into the edges
not already drawn; ``embedcausal check`` prints them as "of which from dag.confounders".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from embedcausal.errors import SpecError, shown


def confounder_edges(
    confounders: Sequence[str],
    roles: dict[str, str],
    edges: list[tuple[str, str]],
    err: Callable[[str, str], SpecError],
) -> list[tuple[str, str]]:
    """The edges ``confounder -> node`` for every node of ``roles`` that ``edges`` lacks.

    Parameters
    ----------
    confounders : sequence of str
        ``dag.confounders`` of the model file.
    roles : dict
        Node -> its role (``"treatment"``, ``"mediator"``, ``"outcome"``).
    edges : list of (str, str)
        The edges drawn by hand (kept; only new edges are returned).
    err : callable
        ``err(key, message)`` -> the :class:`~embedcausal.errors.SpecError` to raise.

    Raises
    ------
    SpecError
        A confounder that is itself the treatment, the mediator or the outcome.
    """
    seen, new = set(edges), []
    for i, c in enumerate(confounders):
        if c in roles:
            raise err(
                f"dag.confounders[{i}]",
                f"{shown(c)} is the {roles[c]}; expected a common cause of "
                + ", ".join(shown(n) for n in roles),
            )
        for target in roles:
            if (c, target) not in seen:
                seen.add((c, target))
                new.append((c, target))
    return new
