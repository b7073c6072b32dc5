"""Identification of causal effects from a DAG, checked against the graph.

:func:`identify` asks DoWhy (``CausalModel.identify_effect``) for the estimand and then checks
the answer against the graph itself, with d-separation:

* **backdoor** (total effect): a set ``Z`` of observed non-descendants of the treatment that
  d-separates treatment and outcome once the treatment's outgoing edges are removed;
* **frontdoor**: a set that intercepts every directed path, with no open backdoor path from
  the treatment into it and every backdoor path from it to the outcome blocked by the
  treatment;
* **iv**: an observed node that is relevant (d-connected to the treatment) and d-separated
  from the outcome once the treatment's outgoing edges are removed (exogeneity and exclusion);
* **mediation** (natural direct and indirect effects): a set ``W`` of observed
  non-descendants of the treatment that blocks the treatment–outcome, treatment–mediator and
  (with the treatment) mediator–outcome backdoor paths, and no mediator–outcome confounder is
  affected by the treatment;
* **within**: the same criteria where a latent node declared constant within a grouping column
  (``constant_within``) may be adjusted for by within-group variation (group fixed effects or a
  Mundlak decomposition).

Where DoWhy disagrees (it returns a mediation estimand for the natural effects even when the
treatment–outcome backdoor path is open, for example) the graph wins and the disagreement is
recorded in :attr:`Identification.notes`.

:func:`implied_independences` lists the conditional independences the DAG implies among the
observed nodes and :func:`test_implications` tests them against data.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from embedcausal.dag import CausalDAG
from embedcausal.errors import DAGError, DataError, EmbedcausalError

__all__ = [
    "ESTIMANDS",
    "Identification",
    "Independence",
    "contradicted",
    "identify",
    "implied_independences",
    "is_backdoor_set",
    "test_implications",
]

#: estimands :func:`identify` understands, with DoWhy's name for each
ESTIMANDS = {"ate": "nonparametric-ate", "nde": "nonparametric-nde", "nie": "nonparametric-nie"}

#: most candidate nodes for an exhaustive search of minimal adjustment sets
_MAX_EXHAUSTIVE = 14
#: most open paths listed
_MAX_OPEN = 50
#: most search steps when listing open paths
_MAX_STEPS = 200_000


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identification:
    """What the DAG identifies for one estimand, how, and on what assumptions.

    Attributes
    ----------
    estimand : str
        ``"ate"``, ``"nde"`` or ``"nie"``.
    treatment, outcome : str
        The treatment and outcome nodes.
    mediator : str or None
        The mediator (natural effects only).
    identified : bool
        Whether the effect is identified (``kind`` says how).
    kind : str or None
        ``"backdoor"``, ``"frontdoor"``, ``"iv"``, ``"mediation"``, ``"within"`` or ``None``.
    adjustment_set : tuple of str or None
        The minimal adjustment set used (observed nodes only); ``None`` when no set is used.
    adjustment_sets : tuple of tuple of str
        All minimal valid sets found (observed parts), smallest first.
    frontdoor_set : tuple of str or None
        A valid frontdoor set for the total effect, if one exists.
    instruments : tuple of str
        Valid (unconditional) instruments for the total effect.
    within_group : str or None
        Grouping column within which the effect is identified (kind ``"within"``).
    open_paths : tuple of str
        Backdoor paths left open by the best observed adjustment, e.g.
        ``"inst_ties <- disposition -> participation"``.
    assumptions : tuple of str
        The assumptions relied on, in plain words.
    dowhy : dict
        What DoWhy said (estimand type, estimands found, their variables), for the record.
    notes : tuple of str
        Disagreements with DoWhy and other remarks.
    """

    estimand: str
    treatment: str
    outcome: str
    mediator: str | None
    identified: bool
    kind: str | None
    adjustment_set: tuple[str, ...] | None
    adjustment_sets: tuple[tuple[str, ...], ...] = ()
    frontdoor_set: tuple[str, ...] | None = None
    instruments: tuple[str, ...] = ()
    within_group: str | None = None
    open_paths: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    dowhy: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field (tuples become lists)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = [list(v) if isinstance(v, tuple) else v for v in value]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Identification:
        """Inverse of :meth:`to_dict` (lists become tuples again), for saved runs."""

        def tup(value):
            if isinstance(value, list):
                return tuple(tup(v) for v in value)
            return value

        return cls(**{k: (v if k == "dowhy" else tup(v)) for k, v in data.items()})

    def __str__(self) -> str:
        what = f"{self.estimand} of {self.treatment} on {self.outcome}"
        if self.mediator:
            what += f" via {self.mediator}"
        status = f"identified ({self.kind})" if self.identified else "NOT identified"
        lines = [f"{what}: {status}"]
        if self.adjustment_set is not None:
            lines.append(f"  adjustment set: {{{', '.join(self.adjustment_set)}}}")
        if self.within_group:
            lines.append(f"  within: {self.within_group}")
        lines += [f"  open path: {p}" for p in self.open_paths]
        lines += [f"  assumes: {a}" for a in self.assumptions]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True, order=True)
class Independence:
    """A conditional independence ``x ⟂ y | given`` implied by a DAG."""

    x: str
    y: str
    given: tuple[str, ...] = ()

    def __str__(self) -> str:
        given = f" | {', '.join(self.given)}" if self.given else ""
        return f"{self.x} ⟂ {self.y}{given}"


# -- graph helpers ----------------------------------------------------------------------------
def _without_out_edges(g: nx.DiGraph, nodes: Iterable[str]) -> nx.DiGraph:
    h = g.copy()
    for n in nodes:
        h.remove_edges_from(list(g.out_edges(n)))
    return h


def _dsep(g: nx.DiGraph, x: Iterable[str], y: Iterable[str], z: Iterable[str]) -> bool:
    x, y, z = set(x), set(y), set(z)
    if x & y:
        return False
    return nx.is_d_separator(g, x, y, z - x - y)


def _paths_text(paths: Sequence[str], most: int = 3) -> str:
    """Paths joined by '; ', at most ``most`` of them and a count of the rest."""
    text = "; ".join(paths[:most])
    if len(paths) > most:
        text += f" (and {len(paths) - most} more)"
    return text


def _fmt_path(g: nx.DiGraph, path: Sequence[str]) -> str:
    parts = [path[0]]
    for a, b in itertools.pairwise(path):
        parts.append(f"-> {b}" if g.has_edge(a, b) else f"<- {b}")
    return " ".join(parts)


def _open_backdoor_paths(g: nx.DiGraph, source: str, target: str, z: Iterable[str]) -> list[str]:
    """Backdoor paths (starting with an edge into ``source``) from source to target left
    open by conditioning on ``z``; sorted by length, then text.

    A depth-first search that extends only open prefixes, so blocked paths cost little; it
    stops after ``_MAX_OPEN`` open paths or ``_MAX_STEPS`` steps (graphs far larger than a
    model file's).
    """
    z = set(z)
    # a collider is open iff it or one of its descendants is conditioned on
    opens_collider = {n for n in g if n in z or nx.descendants(g, n) & z}
    und = {n: sorted(set(g.predecessors(n)) | set(g.successors(n))) for n in g}
    found: list[tuple[str, ...]] = []
    steps = 0

    def extend(path: list[str]) -> None:
        nonlocal steps
        cur, prev = path[-1], path[-2]
        for nb in und[cur]:
            steps += 1
            if nb in path or len(found) >= _MAX_OPEN or steps > _MAX_STEPS:
                continue
            collider = g.has_edge(prev, cur) and g.has_edge(nb, cur)
            if (collider and cur not in opens_collider) or (not collider and cur in z):
                continue
            if nb == target:
                found.append((*path, nb))
            else:
                path.append(nb)
                extend(path)
                path.pop()

    for parent in sorted(g.predecessors(source)):
        if parent == target:
            found.append((source, target))
        else:
            extend([source, parent])
    texts = {_fmt_path(g, p): len(p) for p in found}
    return sorted(texts, key=lambda t: (texts[t], t))


def _minimal_sets(
    candidates: Sequence[str],
    valid: Any,
    *,
    seeds: Iterable[Iterable[str]] = (),
    max_sets: int = 50,
) -> list[tuple[str, ...]]:
    """All inclusion-minimal subsets of ``candidates`` for which ``valid`` holds.

    Exhaustive (smallest first) for up to ``_MAX_EXHAUSTIVE`` candidates; otherwise the first
    valid set among ``seeds`` and the full candidate set is pruned greedily to a minimal one.
    """
    cands = sorted(candidates)
    if len(cands) > _MAX_EXHAUSTIVE:
        for seed in [*seeds, cands]:
            chosen = sorted(set(seed) & set(cands))
            if not valid(set(chosen)):
                continue
            for n in list(chosen):
                trial = [c for c in chosen if c != n]
                if valid(set(trial)):
                    chosen = trial
            return [tuple(chosen)]
        return []
    found: list[tuple[str, ...]] = []
    for size in range(len(cands) + 1):
        for combo in itertools.combinations(cands, size):
            if any(set(f) <= set(combo) for f in found):
                continue
            if valid(set(combo)):
                found.append(combo)
                if len(found) >= max_sets:
                    return found
    return found


# -- the graph's own answers ------------------------------------------------------------------
@dataclass
class _Graph:
    dag: CausalDAG
    g: nx.DiGraph
    observed: frozenset[str]
    adjustable_latent: frozenset[str]  # latent nodes constant within a group
    _cuts: dict[frozenset[str], nx.DiGraph] = field(default_factory=dict)

    def cut(self, nodes: Iterable[str]) -> nx.DiGraph:
        """The graph with the outgoing edges of ``nodes`` removed (cached)."""
        key = frozenset(nodes)
        if key not in self._cuts:
            self._cuts[key] = _without_out_edges(self.g, key)
        return self._cuts[key]

    @classmethod
    def of(cls, dag: CausalDAG) -> _Graph:
        g = dag.to_networkx()
        return cls(dag, g, frozenset(dag.observed), frozenset(dag.constant_within))

    def pre_treatment(self, t: str, targets: Iterable[str], *, latent_ok: bool) -> list[str]:
        """Candidate adjustment nodes: ancestors of ``t`` and ``targets``, not descendants of
        ``t``, observed (or constant-within latent when ``latent_ok``)."""
        anc: set[str] = set()
        for n in (t, *targets):
            anc |= nx.ancestors(self.g, n)
        anc -= nx.descendants(self.g, t)
        anc -= {t, *targets}
        pool = self.observed | (self.adjustable_latent if latent_ok else frozenset())
        return sorted(anc & pool)

    def separator_seed(self, t: str, y: str, cands: Sequence[str]) -> list[set[str]]:
        """A minimal backdoor set among ``cands`` found by networkx (for large searches)."""
        if len(cands) <= _MAX_EXHAUSTIVE:
            return []
        z = nx.find_minimal_d_separator(self.cut([t]), {t}, {y}, restricted=set(cands))
        return [set(z)] if z is not None else []

    def backdoor_valid(self, t: str, y: str, z: set[str]) -> bool:
        if z & (nx.descendants(self.g, t) | {t, y}):
            return False
        return _dsep(self.cut([t]), {t}, {y}, z)

    def mediation_failures(self, t: str, m: str, y: str, w: set[str]) -> list[str]:
        """Which natural-effect conditions fail for adjustment set ``w`` (empty: all hold)."""
        g_t, g_m = self.cut([t]), self.cut([m])
        fails = []
        if not _dsep(g_t, {t}, {y}, w):
            fails.append("ty")
        if not _dsep(g_t, {t}, {m}, w):
            fails.append("tm")
        if not _dsep(g_m, {m}, {y}, w | {t}):
            fails.append("my")
        return fails

    def recanting_witnesses(self, t: str, m: str, y: str) -> list[str]:
        """Descendants of ``t`` that cause ``m`` and, not through ``m``, ``y``."""
        g_no_m = self.g.copy()
        g_no_m.remove_node(m)
        out = []
        for n in sorted(nx.descendants(self.g, t) - {m, y}):
            if n in nx.ancestors(self.g, m) and n in g_no_m and y in nx.descendants(g_no_m, n):
                out.append(n)
        return out

    def frontdoor_sets(self, t: str, y: str) -> list[tuple[str, ...]]:
        on_paths = sorted(
            (nx.descendants(self.g, t) & nx.ancestors(self.g, y) & self.observed) - {t, y}
        )
        if not nx.has_path(self.g, t, y):
            return []
        g_t = self.cut([t])

        def valid(z: set[str]) -> bool:
            if not z:
                return False
            cut = self.g.copy()
            cut.remove_nodes_from(z)
            if nx.has_path(cut, t, y):
                return False
            if not _dsep(g_t, {t}, z, set()):
                return False
            return _dsep(self.cut(z), z, {y}, {t})

        return _minimal_sets(on_paths, valid)

    def instruments(self, t: str, y: str) -> list[str]:
        g_t = self.cut([t])
        out = []
        for z in sorted(self.observed - {t, y}):
            if z in nx.descendants(self.g, t):
                continue
            relevant = not _dsep(self.g, {z}, {t}, set())
            if relevant and _dsep(g_t, {z}, {y}, set()):
                out.append(z)
        return out


# -- DoWhy -----------------------------------------------------------------------------------
@contextlib.contextmanager
def quiet_dowhy() -> Iterator[None]:
    """Mute DoWhy: its warnings, its log records, numpy floating-point warnings and prints."""
    logger = logging.getLogger("dowhy")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            np.errstate(all="ignore"),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _strs(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return sorted(str(v) for v in value)


def _ask_dowhy(dag: CausalDAG, t: str, y: str, estimand: str) -> dict:
    """What DoWhy's identifier says, as a plain dict (``{"error": ...}`` if it failed)."""
    record: dict[str, Any] = {"estimand_type": ESTIMANDS[estimand]}
    try:
        with quiet_dowhy():
            import dowhy

            data = pd.DataFrame({c: pd.Series(dtype=float) for c in dag.observed})
            model = dowhy.CausalModel(data=data, treatment=t, outcome=y, graph=dag.to_gml())
            est = model.identify_effect(
                estimand_type=ESTIMANDS[estimand], proceed_when_unidentifiable=False
            )
    except Exception as exc:  # DoWhy is a second opinion; its failure is recorded, not fatal
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    estimands = est.estimands or {}
    record["estimands"] = sorted(
        k
        for k, v in estimands.items()
        if v is not None and k in ("backdoor", "frontdoor", "iv", "mediation", "general_adjustment")
    )
    backdoor = (est.backdoor_variables or {}).get("backdoor")
    record["backdoor_variables"] = _strs(backdoor) if estimands.get("backdoor") else None
    record["frontdoor_variables"] = _strs(est.frontdoor_variables) or []
    record["instrumental_variables"] = _strs(est.instrumental_variables) or []
    record["mediator_variables"] = _strs(est.mediator_variables) or []
    return record


# -- assumptions in words ---------------------------------------------------------------------
def _set_text(nodes: Iterable[str]) -> str:
    nodes = sorted(nodes)
    return "{" + ", ".join(nodes) + "}" if nodes else "the empty set"


def _given(nodes: Sequence[str], group: str | None = None) -> str:
    parts = list(nodes)
    if group:
        parts.append(f"{group} (fixed effects)")
    return f"given {', '.join(parts)}" if parts else "(no adjustment needed)"


def _dag_assumption() -> str:
    return (
        "the DAG is complete: no common cause of two of its nodes is missing from it, and "
        "its edges point the right way"
    )


def _positivity(t: str, z: Sequence[str]) -> str:
    given = f" at every value of {_set_text(z)}" if z else ""
    return f"positivity: every level of {t} compared occurs{given}"


def _within_assumption(latents: Sequence[str], group: str) -> str:
    names = " and ".join(latents)
    verb = "does" if len(latents) == 1 else "do"
    return (
        f"{names} {verb} not vary within {group}; the effect is identified from within-{group} "
        f"variation of the treatment ({group} fixed effects / Mundlak decomposition); "
        "time-varying confounders must still be adjusted for"
    )


# -- the public API ---------------------------------------------------------------------------
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
    graph = _Graph.of(dag)
    record = _ask_dowhy(dag, t, y, estimand)
    if estimand == "ate":
        return _identify_total(graph, t, y, record)
    assert m is not None
    return _identify_natural(graph, estimand, t, m, y, record)


def is_backdoor_set(
    dag: CausalDAG, treatment: str, outcome: str, adjustment: Iterable[str]
) -> bool:
    """Whether ``adjustment`` satisfies the backdoor criterion for ``treatment`` -> ``outcome``.

    The set must consist of observed non-descendants of the treatment and d-separate treatment
    and outcome once the treatment's outgoing edges are removed.

    Raises
    ------
    DAGError
        If a node named is not in the graph.
    """
    adjustment = set(adjustment)
    for n in sorted({treatment, outcome} | adjustment):
        if n not in dag:
            raise DAGError(f"unknown node {n!r}; expected one of {', '.join(map(repr, dag.nodes))}")
    if adjustment & dag.latent:
        return False
    return _Graph.of(dag).backdoor_valid(treatment, outcome, adjustment)


def _within_choice(
    graph: _Graph, sets: list[tuple[str, ...]]
) -> tuple[tuple[str, ...], str, list[str]] | None:
    """The first set whose latent members are all constant within one group."""
    within = graph.dag.constant_within
    for s in sets:
        latents = sorted(n for n in s if n not in graph.observed)
        groups = {within[n] for n in latents}
        if latents and len(groups) == 1:
            return s, groups.pop(), latents
    return None


def _identify_total(graph: _Graph, t: str, y: str, record: dict) -> Identification:
    notes: list[str] = []
    cands = graph.pre_treatment(t, [y], latent_ok=False)
    sets = _minimal_sets(
        cands, lambda z: graph.backdoor_valid(t, y, z), seeds=graph.separator_seed(t, y, cands)
    )
    frontdoor = graph.frontdoor_sets(t, y)
    instruments = graph.instruments(t, y)
    base = {
        "estimand": "ate",
        "treatment": t,
        "outcome": y,
        "mediator": None,
        "frontdoor_set": frontdoor[0] if frontdoor else None,
        "instruments": tuple(instruments),
        "dowhy": record,
    }
    if not nx.has_path(graph.g, t, y):
        notes.append(f"there is no directed path from {t} to {y}: the DAG says the effect is zero")
    kind: str | None = None
    chosen: tuple[str, ...] | None = None
    within_group = None
    open_paths: list[str] = []
    assumptions: list[str] = []
    if sets:
        kind, chosen = "backdoor", sets[0]
        assumptions += [
            f"no unmeasured confounding of {t} and {y} given {_set_text(chosen)}: it blocks "
            f"every backdoor path from {t} to {y}",
            _positivity(t, chosen),
        ]
    else:
        open_paths = _open_backdoor_paths(graph.g, t, y, cands)
        wcands = graph.pre_treatment(t, [y], latent_ok=True)
        wsets = _minimal_sets(
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
            open_paths = _open_backdoor_paths(graph.g, t, y, chosen)
            assumptions += [
                _within_assumption(latents, within_group),
                f"no unmeasured confounding of {t} and {y} {_given(chosen, within_group)}: "
                f"with {', '.join(latents)} held fixed by {within_group}, every backdoor path "
                "is blocked",
                _positivity(t, chosen) + f", with variation of {t} within {within_group}",
            ]
            notes.append(
                f"identified only within {within_group}: the open path(s) "
                f"{_paths_text(open_paths)} run through {', '.join(latents)}, declared constant "
                f"within {within_group}"
            )
        elif frontdoor:
            kind, chosen = "frontdoor", None
            fd = frontdoor[0]
            assumptions += [
                f"{_set_text(fd)} intercepts every directed path from {t} to {y} (full mediation)",
                f"no unmeasured confounding of {t} and {_set_text(fd)}",
                f"every backdoor path from {_set_text(fd)} to {y} is blocked by {t}",
                _positivity(t, ()),
            ]
        elif instruments:
            kind, chosen = "iv", None
            zs = _set_text(instruments)
            assumptions += [
                f"relevance: {zs} affect(s) {t}",
                f"exogeneity: {zs} share(s) no unblocked common cause with {y}",
                f"exclusion: {zs} affect(s) {y} only through {t}",
                "point identification needs more than the DAG: a homogeneous (e.g. linear) "
                "effect, or monotonicity for a local average effect",
            ]
    if kind is not None:
        assumptions.append(_dag_assumption())
    else:
        assumptions.append(
            f"none: no observed set blocks every backdoor path from {t} to {y}, and no "
            "frontdoor set or instrument exists"
        )
    notes += _compare_total(graph, t, y, record, kind, chosen, frontdoor, instruments, open_paths)
    return Identification(
        **base,
        identified=kind is not None,
        kind=kind,
        adjustment_set=chosen,
        adjustment_sets=tuple(sets),
        within_group=within_group,
        open_paths=tuple(open_paths),
        assumptions=tuple(assumptions),
        notes=tuple(notes),
    )


def _compare_total(
    graph: _Graph,
    t: str,
    y: str,
    record: dict,
    kind: str | None,
    chosen: tuple[str, ...] | None,
    frontdoor: list[tuple[str, ...]],
    instruments: list[str],
    open_paths: list[str],
) -> list[str]:
    if "error" in record:
        return [f"DoWhy failed ({record['error']}); the graph's own answer is reported"]
    notes = []
    bd = record.get("backdoor_variables")
    if bd is not None and not graph.backdoor_valid(t, y, set(bd)):
        opened = _paths_text(open_paths) or "a backdoor path"
        notes.append(
            f"DoWhy returned the backdoor set {_set_text(bd)} although {opened} stays open; "
            "overridden"
        )
    elif bd is None and kind == "backdoor":
        notes.append(f"DoWhy found no backdoor set; the graph gives {_set_text(chosen or ())}")
    fd = record.get("frontdoor_variables") or []
    if fd and tuple(fd) not in frontdoor:
        notes.append(f"DoWhy's frontdoor set {_set_text(fd)} fails the frontdoor criterion")
    if kind == "frontdoor" and not fd:
        notes.append(f"DoWhy found no frontdoor set; the graph gives {_set_text(frontdoor[0])}")
    iv = record.get("instrumental_variables") or []
    if sorted(iv) != sorted(instruments):
        notes.append(
            f"DoWhy's instruments {_set_text(iv)} differ from those the graph gives "
            f"{_set_text(instruments)}"
        )
    return notes


def _identify_natural(
    graph: _Graph, estimand: str, t: str, m: str, y: str, record: dict
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
    sets = _minimal_sets(observed_cands, valid, seeds=[set(observed_cands) - not_after_m])
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
        wsets = _minimal_sets(wcands, valid, seeds=[set(wcands) - not_after_m])
        choice = _within_choice(graph, wsets)
        if choice is not None:
            full, within_group, latents = choice
            kind = "within"
            chosen = tuple(n for n in full if n in graph.observed)
            sets = [tuple(n for n in s if n in graph.observed) for s in wsets]
            open_paths = _natural_open_paths(graph, t, m, y, set(chosen))
            assumptions.append(_within_assumption(latents, within_group))
            notes.append(
                f"identified only within {within_group}: the open path(s) "
                f"{_paths_text(open_paths)} run through {', '.join(latents)}, declared constant "
                f"within {within_group}"
            )
    if kind is not None:
        given = _given(chosen or (), within_group)
        given_t = _given((t, *(chosen or ())), within_group)
        assumptions += [
            f"no unmeasured {t}–{y} confounding {given}",
            f"no unmeasured {m}–{y} confounding {given_t}",
            f"no unmeasured {t}–{m} confounding {given}",
            f"no {m}–{y} confounder is affected by {t} (no recanting witness)",
            _positivity(t, chosen or ()) + f"; every level of {m} occurs at every level of {t}",
            _dag_assumption(),
        ]
    else:
        for n in witnesses:
            notes.append(
                f"{n} is a {m}–{y} confounder affected by {t} (a recanting witness): natural "
                "effects are not identified whatever is adjusted for"
            )
        assumptions.append(
            f"none: the conditions for natural effects (no unblocked {t}–{y}, {m}–{y} or "
            f"{t}–{m} confounding, no {m}–{y} confounder affected by {t}) fail"
        )
    notes += _compare_natural(record, kind, m, open_paths)
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


def _natural_open_paths(graph: _Graph, t: str, m: str, y: str, w: set[str]) -> list[str]:
    paths = _open_backdoor_paths(graph.g, t, y, w)
    paths += _open_backdoor_paths(graph.g, t, m, w)
    paths += _open_backdoor_paths(graph.g, m, y, w | {t})
    return list(dict.fromkeys(paths))


def _compare_natural(record: dict, kind: str | None, m: str, open_paths: list[str]) -> list[str]:
    if "error" in record:
        return [f"DoWhy failed ({record['error']}); the graph's own answer is reported"]
    notes = []
    claims = "mediation" in record.get("estimands", [])
    if claims and kind is None:
        if open_paths:
            what = f"the backdoor path {_paths_text(open_paths)} is open"
        else:
            what = "the graph's conditions for natural effects fail"
        notes.append(f"DoWhy returned a mediation estimand although {what}; overridden")
    if claims and kind == "within":
        notes.append(
            "DoWhy returned a mediation estimand without adjusting for the latent confounder; "
            "the graph identifies the effect only within group"
        )
    if not claims and kind == "mediation":
        notes.append("DoWhy returned no mediation estimand; the graph's own check identifies it")
    dm = record.get("mediator_variables") or []
    if claims and dm and dm != [m]:
        notes.append(f"DoWhy picked the mediator {_set_text(dm)}; embedcausal uses {m}")
    return notes


# -- testable implications --------------------------------------------------------------------
def implied_independences(dag: CausalDAG, *, max_conditioning: int = 3) -> list[Independence]:
    """Conditional independences among observed nodes implied by the DAG.

    For each non-adjacent pair of observed nodes, the smallest set of observed nodes (at most
    ``max_conditioning``) that d-separates them in the full graph (latent nodes included, never
    conditioned on). Pairs that no such set separates imply nothing testable here.

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    max_conditioning : int
        Largest conditioning set considered.

    Returns
    -------
    list of Independence
        Sorted by ``(x, y)`` with ``x < y``.
    """
    if not isinstance(max_conditioning, int) or max_conditioning < 0:
        raise EmbedcausalError(f"max_conditioning = {max_conditioning!r}; expected an integer >= 0")
    g = dag.to_networkx()
    observed = list(dag.observed)
    out = []
    for x, y in itertools.combinations(observed, 2):
        if g.has_edge(x, y) or g.has_edge(y, x):
            continue
        cands = sorted((nx.ancestors(g, x) | nx.ancestors(g, y)) & set(observed) - {x, y})
        given = _smallest_separator(g, x, y, cands, max_conditioning)
        if given is not None:
            out.append(Independence(x, y, given))
    return sorted(out)


def _smallest_separator(
    g: nx.DiGraph, x: str, y: str, cands: list[str], max_size: int
) -> tuple[str, ...] | None:
    if len(cands) > 2 * _MAX_EXHAUSTIVE:
        try:
            z = nx.find_minimal_d_separator(g, {x}, {y}, restricted=set(cands))
        except nx.NetworkXError:
            return None
        if z is None or len(z) > max_size:
            return None
        return tuple(sorted(z))
    for size in range(min(max_size, len(cands)) + 1):
        for combo in itertools.combinations(cands, size):
            if nx.is_d_separator(g, {x}, {y}, set(combo)):
                return combo
    return None


_TEST_COLUMNS = [
    "x",
    "y",
    "given",
    "test",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "rejected",
    "n",
]
_ADDED = ("p_adjusted", "rejected")


def test_implications(
    dag: CausalDAG,
    data: pd.DataFrame,
    *,
    alpha: float = 0.05,
    method: str = "holm",
    max_conditioning: int = 3,
    columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Test the DAG's implied conditional independences against data.

    Each implication ``x ⟂ y | Z`` is tested with a partial correlation (Fisher's z) when
    neither ``x`` nor ``y`` is binary, and with a likelihood-ratio test in a logistic regression
    of the binary one on the other and ``Z`` otherwise. P-values are adjusted for multiple
    testing with :func:`statsmodels.stats.multitest.multipletests`.

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    data : pandas.DataFrame
        One column per observed node involved (rows with missing values are dropped per test).
    alpha : float
        Family-wise (or false-discovery) level.
    method : str
        A ``multipletests`` method, e.g. ``"holm"``, ``"bonferroni"``, ``"fdr_bh"``.
    max_conditioning : int
        Passed to :func:`implied_independences`.
    columns : dict, optional
        Node -> column name, where they differ.

    Returns
    -------
    pandas.DataFrame
        Columns ``x, y, given, test, statistic, df, p_value, p_adjusted, rejected, n``;
        ``table.attrs["contradicted"]`` is True when any implication is rejected (see
        :func:`contradicted`).

    Raises
    ------
    DataError
        If columns are missing, or a column is neither numeric nor binary.
    """
    from statsmodels.stats.multitest import multipletests

    methods = (
        "bonferroni",
        "sidak",
        "holm-sidak",
        "holm",
        "simes-hochberg",
        "hommel",
        "fdr_bh",
        "fdr_by",
        "fdr_tsbh",
        "fdr_tsbky",
    )
    if method not in methods:
        raise EmbedcausalError(
            f"unknown multiple-testing method {method!r}; expected one of "
            f"{', '.join(map(repr, methods))}"
        )
    if not 0 < alpha < 1:
        raise EmbedcausalError(f"alpha = {alpha!r}; expected a number between 0 and 1")
    implications = implied_independences(dag, max_conditioning=max_conditioning)
    columns = dict(columns or {})
    needed = sorted({n for i in implications for n in (i.x, i.y, *i.given)})
    missing = [n for n in needed if columns.get(n, n) not in data.columns]
    if missing:
        raise DataError(
            f"data lacks the column(s) {', '.join(repr(columns.get(n, n)) for n in missing)} "
            f"needed to test the DAG's implications; expected a column per observed node"
        )
    frame = pd.DataFrame({n: _numeric(data[columns.get(n, n)], columns.get(n, n)) for n in needed})
    rows = [_test_one(frame, i) for i in implications]
    table = pd.DataFrame(rows, columns=[c for c in _TEST_COLUMNS if c not in _ADDED])
    p = table["p_value"].to_numpy(dtype=float)
    ok = np.isfinite(p)
    adjusted = np.full(len(p), np.nan)
    rejected = np.zeros(len(p), dtype=bool)
    if ok.any():
        rej, padj, _, _ = multipletests(p[ok], alpha=alpha, method=method)
        adjusted[ok] = padj
        rejected[ok] = rej
    table["p_adjusted"] = adjusted
    table["rejected"] = rejected
    table = table[_TEST_COLUMNS]
    table.attrs["contradicted"] = bool(rejected.any())
    table.attrs["alpha"] = alpha
    table.attrs["method"] = method
    return table


def contradicted(table: pd.DataFrame) -> bool:
    """Whether a :func:`test_implications` table rejects any implication of the DAG."""
    if "rejected" not in table.columns:
        raise EmbedcausalError("expected a table from test_implications (no 'rejected' column)")
    return bool(table["rejected"].astype(bool).any())


def _numeric(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64")
    levels = sorted(col.dropna().unique().tolist(), key=str)
    if len(levels) == 2:
        return col.map({levels[0]: 0.0, levels[1]: 1.0}).astype("float64")
    raise DataError(
        f"column {name!r} is neither numeric nor binary (levels: "
        f"{', '.join(map(repr, levels[:5]))}{', ...' if len(levels) > 5 else ''}); "
        "expected numbers or two levels"
    )


def _is_binary(values: np.ndarray) -> bool:
    return len(np.unique(values)) == 2


def _test_one(frame: pd.DataFrame, ind: Independence) -> dict:
    cols = [ind.x, ind.y, *ind.given]
    sub = frame[cols].dropna()
    n = len(sub)
    row = {"x": ind.x, "y": ind.y, "given": ", ".join(ind.given), "n": n}
    x, y = sub[ind.x].to_numpy(), sub[ind.y].to_numpy()
    z = sub[list(ind.given)].to_numpy()
    if _is_binary(y) or _is_binary(x):
        response, predictor = (y, x) if _is_binary(y) else (x, y)
        stat, p = _logistic_lr(response, predictor, z)
        row.update(test="logistic likelihood ratio", statistic=stat, df=1, p_value=p)
    else:
        stat, p = _partial_correlation(x, y, z)
        row.update(test="partial correlation", statistic=stat, df=n - z.shape[1] - 3, p_value=p)
    return row


def _design(z: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(z)), z]) if z.size else np.ones((len(z), 1))


def _partial_correlation(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Fisher's z statistic of the partial correlation of x and y given z, and its p-value."""
    from scipy import stats

    k = z.shape[1] if z.ndim == 2 else 0
    n = len(x)
    if n - k - 3 < 1:
        return math.nan, math.nan
    d = _design(z)
    rx = x - d @ np.linalg.lstsq(d, x, rcond=None)[0]
    ry = y - d @ np.linalg.lstsq(d, y, rcond=None)[0]
    sx, sy = np.sqrt(rx @ rx), np.sqrt(ry @ ry)
    if sx == 0 or sy == 0:
        return math.nan, math.nan
    r = float(np.clip(rx @ ry / (sx * sy), -0.9999999, 0.9999999))
    stat = math.atanh(r) * math.sqrt(n - k - 3)
    return stat, float(2 * stats.norm.sf(abs(stat)))


def _logistic_lr(response: np.ndarray, predictor: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Likelihood-ratio statistic and p-value for ``predictor`` in a logistic regression."""
    import statsmodels.api as sm
    from scipy import stats

    yv = (response == np.max(response)).astype(float)
    base = _design(z)
    full = np.column_stack([base, predictor])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            llf_full = sm.Logit(yv, full).fit(disp=0, maxiter=200).llf
            llf_base = sm.Logit(yv, base).fit(disp=0, maxiter=200).llf
    except (np.linalg.LinAlgError, ValueError) as exc:  # singular design, separation
        del exc
        return math.nan, math.nan
    stat = max(0.0, 2.0 * (llf_full - llf_base))
    return float(stat), float(stats.chi2.sf(stat, 1))


# pytest would otherwise collect the function wherever it is imported into a test module
test_implications.__test__ = False  # type: ignore[attr-defined]
