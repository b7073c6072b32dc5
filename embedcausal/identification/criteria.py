"""Graph criteria for identification, by d-separation, and the one definition of node roles.

Everything here is a question about the graph alone (no data, no DoWhy):

* :meth:`GraphCriteria.backdoor_valid`: a set ``Z`` of observed non-descendants of the
  treatment that d-separates treatment and outcome once the treatment's outgoing edges are
  removed (backdoor criterion);
* :meth:`GraphCriteria.frontdoor_sets`: sets that intercept every directed path, with no open
  backdoor path from the treatment into them and every backdoor path from them to the outcome
  blocked by the treatment (Pearl's frontdoor criterion);
* :meth:`GraphCriteria.instruments`: observed non-descendants of the treatment that are relevant
  (d-connected to it) and d-separated from the outcome once the treatment's outgoing edges are
  removed (exogeneity and exclusion);
* :meth:`GraphCriteria.mediation_failures` and :meth:`GraphCriteria.recanting_witnesses`: the
  conditions for natural direct and indirect effects;
* within-group variants: :meth:`GraphCriteria.pre_treatment` with ``latent_ok=True`` lets a
  latent node declared constant within a grouping column be adjusted for;
* :func:`node_roles`: treatment, mediator, outcome, confounder, instrument, latent or other for
  every node. The instrument role is :meth:`GraphCriteria.instruments`, the very test that
  gives :attr:`Identification.instruments`, so the roles ``embedcausal check`` prints and the
  drawing colours never disagree with ``identify``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import networkx as nx

from embedcausal.dag import CausalDAG
from embedcausal.errors import DAGError

__all__ = [
    "GraphCriteria",
    "dsep",
    "is_backdoor_set",
    "minimal_sets",
    "node_roles",
    "open_backdoor_paths",
]

#: most candidate nodes for an exhaustive search of minimal adjustment sets
MAX_EXHAUSTIVE = 14
#: most open paths listed
_MAX_OPEN = 50
#: most search steps when listing open paths
_MAX_STEPS = 200_000


# -- d-separation and paths -------------------------------------------------------------------
def without_out_edges(g: nx.DiGraph, nodes: Iterable[str]) -> nx.DiGraph:
    """A copy of ``g`` with the outgoing edges of ``nodes`` removed."""
    h = g.copy()
    for n in nodes:
        h.remove_edges_from(list(g.out_edges(n)))
    return h


def dsep(g: nx.DiGraph, x: Iterable[str], y: Iterable[str], z: Iterable[str]) -> bool:
    """Whether ``z`` d-separates ``x`` and ``y`` in ``g`` (never, if ``x`` and ``y`` overlap)."""
    x, y, z = set(x), set(y), set(z)
    if x & y:
        return False
    return nx.is_d_separator(g, x, y, z - x - y)


def _fmt_path(g: nx.DiGraph, path: Sequence[str]) -> str:
    parts = [path[0]]
    for a, b in itertools.pairwise(path):
        parts.append(f"-> {b}" if g.has_edge(a, b) else f"<- {b}")
    return " ".join(parts)


def open_backdoor_paths(g: nx.DiGraph, source: str, target: str, z: Iterable[str]) -> list[str]:
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


def minimal_sets(
    candidates: Sequence[str],
    valid: Callable[[set[str]], bool],
    *,
    seeds: Iterable[Iterable[str]] = (),
    max_sets: int = 50,
) -> list[tuple[str, ...]]:
    """All inclusion-minimal subsets of ``candidates`` for which ``valid`` holds.

    Exhaustive (smallest first) for up to ``MAX_EXHAUSTIVE`` candidates; otherwise the first
    valid set among ``seeds`` and the full candidate set is pruned greedily to a minimal one.
    """
    cands = sorted(candidates)
    if len(cands) > MAX_EXHAUSTIVE:
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


# -- the criteria -----------------------------------------------------------------------------
@dataclass
class GraphCriteria:
    """The identification criteria of one DAG (networkx graph and cut graphs cached).

    Build it with :meth:`of`.
    """

    dag: CausalDAG
    g: nx.DiGraph
    observed: frozenset[str]
    adjustable_latent: frozenset[str]  # latent nodes constant within a group
    _cuts: dict[frozenset[str], nx.DiGraph] = field(default_factory=dict)

    @classmethod
    def of(cls, dag: CausalDAG) -> GraphCriteria:
        """The criteria of ``dag``."""
        g = dag.to_networkx()
        return cls(dag, g, frozenset(dag.observed), frozenset(dag.constant_within))

    def cut(self, nodes: Iterable[str]) -> nx.DiGraph:
        """The graph with the outgoing edges of ``nodes`` removed (cached)."""
        key = frozenset(nodes)
        if key not in self._cuts:
            self._cuts[key] = without_out_edges(self.g, key)
        return self._cuts[key]

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
        if len(cands) <= MAX_EXHAUSTIVE:
            return []
        z = nx.find_minimal_d_separator(self.cut([t]), {t}, {y}, restricted=set(cands))
        return [set(z)] if z is not None else []

    def backdoor_valid(self, t: str, y: str, z: set[str]) -> bool:
        """Whether ``z`` satisfies the backdoor criterion for ``t`` -> ``y``."""
        if z & (nx.descendants(self.g, t) | {t, y}):
            return False
        return dsep(self.cut([t]), {t}, {y}, z)

    def mediation_failures(self, t: str, m: str, y: str, w: set[str]) -> list[str]:
        """Which natural-effect conditions fail for adjustment set ``w`` (empty: all hold)."""
        g_t, g_m = self.cut([t]), self.cut([m])
        fails = []
        if not dsep(g_t, {t}, {y}, w):
            fails.append("ty")
        if not dsep(g_t, {t}, {m}, w):
            fails.append("tm")
        if not dsep(g_m, {m}, {y}, w | {t}):
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
        """Minimal observed sets satisfying the frontdoor criterion for ``t`` -> ``y``."""
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
            if not dsep(g_t, {t}, z, set()):
                return False
            return dsep(self.cut(z), z, {y}, {t})

        return minimal_sets(on_paths, valid)

    def instruments(self, t: str, y: str) -> list[str]:
        """Observed unconditional instruments for ``t`` -> ``y``, sorted: non-descendants of
        ``t``, d-connected to ``t`` (relevance) and d-separated from ``y`` once ``t``'s
        outgoing edges are removed (exogeneity and exclusion)."""
        g_t = self.cut([t])
        out = []
        for z in sorted(self.observed - {t, y}):
            if z in nx.descendants(self.g, t):
                continue
            relevant = not dsep(self.g, {z}, {t}, set())
            if relevant and dsep(g_t, {z}, {y}, set()):
                out.append(z)
        return out

    def confounders(self, t: str, targets: Sequence[str]) -> list[str]:
        """Observed common causes of ``t`` and one of ``targets`` (by a path that avoids ``t``),
        sorted; the targets themselves are left out."""
        anc_t = nx.ancestors(self.g, t)
        g_wo_t = self.g.copy()
        g_wo_t.remove_node(t)
        out: set[str] = set()
        for target in targets:
            out |= anc_t & nx.ancestors(g_wo_t, target)
        return sorted(n for n in out if n in self.observed and n not in targets)


def node_roles(
    dag: CausalDAG,
    treatment: str | None = None,
    outcome: str | None = None,
    mediator: str | None = None,
) -> dict[str, str]:
    """The role of every node: treatment, mediator, outcome, confounder, instrument, latent or
    other.

    The treatment, mediator and outcome are the nodes named or, when none is named, those the
    DAG declares (:meth:`CausalDAG.with_roles <embedcausal.dag.CausalDAG.with_roles>`; a model
    file's DAG declares its estimand's). The other roles follow from the graph:

    * ``confounder``: an observed common cause of the treatment and the outcome or the
      mediator (an ancestor of the treatment with a directed path to them that avoids it);
    * ``instrument``: an observed node that passes identification's instrument test for the
      treatment and the outcome (:meth:`GraphCriteria.instruments`: a non-descendant of the
      treatment, d-connected to it, and d-separated from the outcome once the treatment's
      outgoing edges are removed), exactly the nodes :attr:`Identification.instruments` lists;
    * ``latent`` for latent nodes, ``other`` for the rest.

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    treatment, outcome, mediator : str, optional
        The estimand's nodes (default: the DAG's declared ones).

    Returns
    -------
    dict of str to str
        Node -> role, sorted by node.

    Raises
    ------
    DAGError
        If a node named is unknown or latent, or two roles name the same node.

    Examples
    --------
    >>> dag = CausalDAG.from_edges(["l -> z", "l -> t", "t -> y"], latent=["l"])
    >>> node_roles(dag, "t", "y")
    {'l': 'latent', 't': 'treatment', 'y': 'outcome', 'z': 'instrument'}
    """
    if treatment is not None or outcome is not None or mediator is not None:
        dag = dag.with_roles(treatment=treatment, mediator=mediator, outcome=outcome)
    roles = dag.roles
    declared = {r: n for n, r in roles.items() if r in ("treatment", "mediator", "outcome")}
    t, y, m = declared.get("treatment"), declared.get("outcome"), declared.get("mediator")
    if t is None:
        return roles
    graph = GraphCriteria.of(dag)
    derived = graph.confounders(t, [n for n in (y, m) if n is not None])
    for n in derived:
        if roles[n] == "other":
            roles[n] = "confounder"
    if y is not None:
        for n in graph.instruments(t, y):
            if roles[n] == "other":
                roles[n] = "instrument"
    return roles


def is_backdoor_set(
    dag: CausalDAG, treatment: str, outcome: str, adjustment: Iterable[str]
) -> bool:
    """Whether ``adjustment`` satisfies the backdoor criterion for ``treatment`` -> ``outcome``.

    The set must consist of observed non-descendants of the treatment and d-separate treatment
    and outcome once the treatment's outgoing edges are removed.

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    treatment, outcome : str
        The nodes.
    adjustment : iterable of str
        The candidate adjustment set.

    Returns
    -------
    bool

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
    return GraphCriteria.of(dag).backdoor_valid(treatment, outcome, adjustment)
