"""The :func:`identify` procedure: DoWhy's estimand, checked against the graph's criteria.

For a total effect the graph is asked, in order, for a backdoor set, a set that works within a
group (a latent confounder constant within a grouping column), a frontdoor set and
instruments; for natural effects, for a set meeting the mediation conditions, directly or
within a group. DoWhy's answer is recorded beside it and every disagreement is noted.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from embedcausal.dag import CausalDAG
from embedcausal.errors import DAGError, EmbedcausalError
from embedcausal.identification import assumptions as words
from embedcausal.identification.criteria import GraphCriteria, minimal_sets, open_backdoor_paths
from embedcausal.identification.dowhy_adapter import (
    dowhy_record,
    natural_disagreements,
    total_disagreements,
)
from embedcausal.identification.result import ESTIMANDS, Identification

__all__ = ["identify"]


def _resolve_inputs(
    spec_or_dag: Any,
    treatment: str | None,
    outcome: str | None,
    estimand: str,
    mediator: str | None,
) -> tuple[CausalDAG, str, str, str | None]:
    if isinstance(spec_or_dag, CausalDAG):
        dag = spec_or_dag
    elif callable(getattr(spec_or_dag, "dag", None)):
        dag = spec_or_dag.dag()
        est = getattr(spec_or_dag, "estimand", None)
        treatment = treatment or getattr(est, "treatment", None)
        outcome = outcome or getattr(est, "outcome", None)
        mediator = mediator or getattr(est, "mediator", None)
    else:
        raise EmbedcausalError(
            f"identify() got {type(spec_or_dag).__name__}; expected a CausalDAG or a ModelSpec"
        )
    if not isinstance(dag, CausalDAG):
        raise EmbedcausalError(f"spec.dag() returned {type(dag).__name__}; expected a CausalDAG")
    if estimand not in ESTIMANDS:
        hint = " (the total effect is 'ate')" if estimand == "total" else ""
        raise EmbedcausalError(
            f"unknown estimand {estimand!r}{hint}; expected one of "
            f"{', '.join(map(repr, ESTIMANDS))}"
        )
    for role, node in (("treatment", treatment), ("outcome", outcome)):
        if node is None:
            raise EmbedcausalError(f"identify() needs a {role}; pass {role}=<node name>")
    if estimand in ("nde", "nie") and mediator is None:
        raise EmbedcausalError(
            f"estimand {estimand!r} needs a mediator; pass mediator=<node name> or use 'ate'"
        )
    if estimand == "ate":
        mediator = None
    seen: dict[str, str] = {}
    for role, node in (("treatment", treatment), ("outcome", outcome), ("mediator", mediator)):
        if node is None:
            continue
        if node not in dag:
            raise DAGError(
                f"unknown {role} node {node!r}; expected one of {', '.join(map(repr, dag.nodes))}"
            )
        if node in dag.latent:
            raise DAGError(f"{role} {node!r} is latent; the {role} must be an observed node")
        if node in seen:
            raise DAGError(f"{node!r} is both {seen[node]} and {role}; expected distinct nodes")
        seen[node] = role
    return dag, treatment, outcome, mediator  # type: ignore[return-value]


def identify(
    spec_or_dag: Any,
    treatment: str | None = None,
    outcome: str | None = None,
    estimand: str = "ate",
    mediator: str | None = None,
) -> Identification:
    """Identify a total (``"ate"``), natural direct (``"nde"``) or indirect (``"nie"``) effect.

    Parameters
    ----------
    spec_or_dag : CausalDAG or ModelSpec
        The graph, or an object whose ``.dag()`` returns one and whose ``.estimand`` has
        ``treatment``, ``outcome`` and ``mediator`` attributes (used as defaults).
    treatment, outcome : str, optional
        Node names (defaults from the spec).
    estimand : {"ate", "nde", "nie"}
        The effect.
    mediator : str, optional
        The mediator; required for ``"nde"`` and ``"nie"``.

    Returns
    -------
    Identification
        Whether and how the effect is identified, the adjustment set, the open paths when it is
        not, the assumptions relied on, and what DoWhy said.

    Raises
    ------
    EmbedcausalError
        On an unknown estimand or a missing treatment, outcome or mediator.
    DAGError
        If a named node is not in the graph (the message lists the nodes) or is latent.

    Examples
    --------
    >>> from embedcausal.dag import CausalDAG
    >>> dag = CausalDAG.from_edges(["z -> x", "z -> y", "x -> y"])
    >>> identify(dag, "x", "y").adjustment_set
    ('z',)
    """
    dag, t, y, m = _resolve_inputs(spec_or_dag, treatment, outcome, estimand, mediator)
    graph = GraphCriteria.of(dag)
    record = dowhy_record(dag, t, y, estimand)
    if estimand == "ate":
        return _identify_total(graph, t, y, record)
    assert m is not None
    return _identify_natural(graph, estimand, t, m, y, record)


def _within_choice(
    graph: GraphCriteria, sets: list[tuple[str, ...]]
) -> tuple[tuple[str, ...], str, list[str]] | None:
    """The first set whose latent members are all constant within one group."""
    within = graph.dag.constant_within
    for s in sets:
        latents = sorted(n for n in s if n not in graph.observed)
        groups = {within[n] for n in latents}
        if latents and len(groups) == 1:
            return s, groups.pop(), latents
    return None


def _within_note(group: str, open_paths: list[str], latents: list[str]) -> str:
    return (
        f"identified only within {group}: the open path(s) {words.paths_text(open_paths)} run "
        f"through {', '.join(latents)}, declared constant within {group}"
    )


def _identify_total(graph: GraphCriteria, t: str, y: str, record: dict) -> Identification:
    notes: list[str] = []
    cands = graph.pre_treatment(t, [y], latent_ok=False)
    sets = minimal_sets(
        cands, lambda z: graph.backdoor_valid(t, y, z), seeds=graph.separator_seed(t, y, cands)
    )
    frontdoor = graph.frontdoor_sets(t, y)
    instruments = graph.instruments(t, y)
    if not nx.has_path(graph.g, t, y):
        notes.append(f"there is no directed path from {t} to {y}: the DAG says the effect is zero")
    kind: str | None = None
    chosen: tuple[str, ...] | None = None
    within_group = None
    open_paths: list[str] = []
    assumptions: list[str] = []
    if sets:
        kind, chosen = "backdoor", sets[0]
        assumptions += words.backdoor_assumptions(t, y, chosen)
    else:
        open_paths = open_backdoor_paths(graph.g, t, y, cands)
        wcands = graph.pre_treatment(t, [y], latent_ok=True)
        wsets = minimal_sets(
            wcands,
            lambda z: graph.backdoor_valid(t, y, z),
            seeds=graph.separator_seed(t, y, wcands),
        )
        choice = _within_choice(graph, wsets)
        if choice is not None:
            full, within_group, latents = choice
            kind = "within"
            chosen = tuple(n for n in full if n in graph.observed)
            sets = [tuple(n for n in s if n in graph.observed) for s in wsets]
            # the paths the latent node blocks: open given the observed part of the set
            open_paths = open_backdoor_paths(graph.g, t, y, chosen)
            assumptions += words.within_total_assumptions(t, y, chosen, latents, within_group)
            notes.append(_within_note(within_group, open_paths, latents))
        elif frontdoor:
            kind, chosen = "frontdoor", None
            assumptions += words.frontdoor_assumptions(t, y, frontdoor[0])
        elif instruments:
            kind, chosen = "iv", None
            assumptions += words.instrument_assumptions(t, y, instruments)
    if kind is not None:
        assumptions.append(words.dag_assumption())
    else:
        assumptions.append(words.not_identified_total(t, y))
    notes += total_disagreements(
        graph, t, y, record, kind, chosen, frontdoor, instruments, open_paths
    )
    return Identification(
        estimand="ate",
        treatment=t,
        outcome=y,
        mediator=None,
        identified=kind is not None,
        kind=kind,
        adjustment_set=chosen,
        adjustment_sets=tuple(sets),
        frontdoor_set=frontdoor[0] if frontdoor else None,
        instruments=tuple(instruments),
        within_group=within_group,
        open_paths=tuple(open_paths),
        assumptions=tuple(assumptions),
        dowhy=record,
        notes=tuple(notes),
    )


def _identify_natural(
    graph: GraphCriteria, estimand: str, t: str, m: str, y: str, record: dict
) -> Identification:
    notes: list[str] = []
    witnesses = graph.recanting_witnesses(t, m, y)
    if m not in nx.descendants(graph.g, t) or y not in nx.descendants(graph.g, m):
        notes.append(
            f"{m} is not on a directed path from {t} to {y}: the DAG says the indirect effect "
            "is zero"
        )

    def valid(w: set[str]) -> bool:
        return not witnesses and not graph.mediation_failures(t, m, y, w)

    observed_cands = graph.pre_treatment(t, [m, y], latent_ok=False)
    not_after_m = nx.descendants(graph.g, m)
    sets = minimal_sets(observed_cands, valid, seeds=[set(observed_cands) - not_after_m])
    kind: str | None = None
    chosen: tuple[str, ...] | None = None
    within_group = None
    open_paths: list[str] = []
    assumptions: list[str] = []
    if sets:
        kind, chosen = "mediation", sets[0]
    else:
        open_paths = _natural_open_paths(graph, t, m, y, set(observed_cands))
        wcands = graph.pre_treatment(t, [m, y], latent_ok=True)
        wsets = minimal_sets(wcands, valid, seeds=[set(wcands) - not_after_m])
        choice = _within_choice(graph, wsets)
        if choice is not None:
            full, within_group, latents = choice
            kind = "within"
            chosen = tuple(n for n in full if n in graph.observed)
            sets = [tuple(n for n in s if n in graph.observed) for s in wsets]
            open_paths = _natural_open_paths(graph, t, m, y, set(chosen))
            assumptions.append(words.within_assumption(latents, within_group))
            notes.append(_within_note(within_group, open_paths, latents))
    if kind is not None:
        assumptions += words.natural_assumptions(t, m, y, chosen or (), within_group)
    else:
        for n in witnesses:
            notes.append(
                f"{n} is a {m}–{y} confounder affected by {t} (a recanting witness): natural "
                "effects are not identified whatever is adjusted for"
            )
        assumptions.append(words.not_identified_natural(t, m, y))
    notes += natural_disagreements(record, kind, m, open_paths)
    return Identification(
        estimand=estimand,
        treatment=t,
        outcome=y,
        mediator=m,
        identified=kind is not None,
        kind=kind,
        adjustment_set=chosen,
        adjustment_sets=tuple(sets),
        frontdoor_set=None,
        instruments=(),
        within_group=within_group,
        open_paths=tuple(open_paths),
        assumptions=tuple(assumptions),
        dowhy=record,
        notes=tuple(notes),
    )


def _natural_open_paths(graph: GraphCriteria, t: str, m: str, y: str, w: set[str]) -> list[str]:
    paths = open_backdoor_paths(graph.g, t, y, w)
    paths += open_backdoor_paths(graph.g, t, m, w)
    paths += open_backdoor_paths(graph.g, m, y, w | {t})
    return list(dict.fromkeys(paths))
