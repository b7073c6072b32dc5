"""Identification against textbook DAGs with known answers, and testable implications."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedcausal.dag import CausalDAG
from embedcausal.errors import DAGError, DataError, EmbedcausalError
from embedcausal.identification import (
    Independence,
    contradicted,
    identify,
    implied_independences,
    is_backdoor_set,
    node_roles,
    test_implications,
)

T, M, Y, U = "inst_ties", "personal_ties", "participation", "disposition"
#: I -> P -> Y with a latent U confounding I and Y
MEDIATION_UY = [f"{U} -> {T}", f"{U} -> {Y}", f"{T} -> {M}", f"{M} -> {Y}"]
#: the same without U -> Y
MEDIATION_OK = [f"{U} -> {T}", f"{T} -> {M}", f"{M} -> {Y}", f"{T} -> {Y}"]
OPEN_UY = f"{T} <- {U} -> {Y}"


# -- total effects ----------------------------------------------------------------------------
def test_confounded_pair_needs_z():
    dag = CausalDAG.from_edges(["z -> x", "z -> y", "x -> y"])
    res = identify(dag, "x", "y")
    assert res.identified and res.kind == "backdoor"
    assert res.adjustment_set == ("z",)
    assert res.adjustment_sets == (("z",),)
    assert res.open_paths == ()
    assert any("no unmeasured confounding of x and y given {z}" in a for a in res.assumptions)
    assert res.dowhy["backdoor_variables"] == ["z"]  # DoWhy agrees here


def test_unconfounded_pair_needs_nothing():
    res = identify(CausalDAG.from_edges(["x -> y"]), "x", "y")
    assert res.identified and res.adjustment_set == ()


def test_frontdoor_smoking_tar_cancer():
    dag = CausalDAG.from_edges(
        ["genotype -> smoking", "genotype -> cancer", "smoking -> tar", "tar -> cancer"],
        latent=["genotype"],
    )
    res = identify(dag, "smoking", "cancer")
    assert res.identified and res.kind == "frontdoor"
    assert res.frontdoor_set == ("tar",)
    assert res.adjustment_set is None and res.adjustment_sets == ()
    assert res.open_paths == ("smoking <- genotype -> cancer",)
    assert any("intercepts every directed path" in a for a in res.assumptions)


def test_frontdoor_fails_when_mediator_is_confounded():
    dag = CausalDAG.from_edges(
        ["g -> smoking", "g -> cancer", "smoking -> tar", "tar -> cancer", "g -> tar"],
        latent=["g"],
    )
    res = identify(dag, "smoking", "cancer")
    assert not res.identified and res.kind is None and res.frontdoor_set is None
    assert res.open_paths[0] == "smoking <- g -> cancer"


def test_instrument():
    dag = CausalDAG.from_edges(["z -> x", "x -> y", "u -> x", "u -> y"], latent=["u"])
    res = identify(dag, "x", "y")
    assert res.identified and res.kind == "iv"
    assert res.instruments == ("z",)
    assert res.open_paths == ("x <- u -> y",)
    assert any(a.startswith("exclusion") for a in res.assumptions)
    assert res.dowhy["instrumental_variables"] == ["z"]


@pytest.mark.parametrize(
    ("extra", "why"),
    [(["z -> y"], "exclusion"), (["u -> z"], "exogeneity")],
    ids=["direct-effect", "confounded"],
)
def test_invalid_instrument_is_not_used(extra, why):
    dag = CausalDAG.from_edges(["z -> x", "x -> y", "u -> x", "u -> y", *extra], latent=["u"])
    res = identify(dag, "x", "y")
    assert res.instruments == (), why
    assert not res.identified


@pytest.mark.parametrize("latent", [(), ("a", "b")], ids=["observed", "latent"])
def test_m_bias_collider_not_adjusted(latent):
    dag = CausalDAG.from_edges(["a -> x", "a -> m", "b -> m", "b -> y", "x -> y"], latent=latent)
    res = identify(dag, "x", "y")
    assert res.identified and res.kind == "backdoor"
    assert res.adjustment_set == ()
    assert all("m" not in s for s in res.adjustment_sets)
    if not latent:
        assert not is_backdoor_set(dag, "x", "y", ["m"])  # the collider opens x <- a -> m <- b -> y
        assert is_backdoor_set(dag, "x", "y", ["m", "a"])
        assert is_backdoor_set(dag, "x", "y", ["m", "b"])


def test_descendant_of_treatment_is_never_a_backdoor_set():
    dag = CausalDAG.from_edges(["x -> d", "d -> y", "z -> x", "z -> y"])
    assert not is_backdoor_set(dag, "x", "y", ["z", "d"])
    with pytest.raises(DAGError, match="unknown node 'q'"):
        is_backdoor_set(dag, "x", "y", ["q"])


def test_several_minimal_sets_sorted():
    dag = CausalDAG.from_edges(["a -> b", "b -> x", "a -> y", "x -> y"])
    res = identify(dag, "x", "y")
    assert res.adjustment_sets == (("a",), ("b",))
    assert res.adjustment_set == ("a",)


# -- the mediation cases --------------------------------------------------------------------------
def test_total_effect_is_frontdoor_when_backdoor_open():
    dag = CausalDAG.from_edges(MEDIATION_UY, latent=[U])
    res = identify(dag, T, Y, "ate")
    assert res.identified and res.kind == "frontdoor"
    assert res.frontdoor_set == (M,)
    assert res.open_paths == (OPEN_UY,)


@pytest.mark.parametrize("estimand", ["nde", "nie"])
def test_natural_effects_not_identified_with_open_backdoor(estimand):
    dag = CausalDAG.from_edges(MEDIATION_UY, latent=[U])
    res = identify(dag, T, Y, estimand, mediator=M)
    assert not res.identified and res.kind is None
    assert res.open_paths == (OPEN_UY,)
    # DoWhy 0.14 returns a mediation estimand here; embedcausal overrides it and says so
    assert "mediation" in res.dowhy["estimands"]
    assert any("DoWhy returned a mediation estimand" in n and OPEN_UY in n for n in res.notes)


@pytest.mark.parametrize("estimand", ["nde", "nie"])
def test_natural_effects_identified_without_u_to_y(estimand):
    dag = CausalDAG.from_edges(MEDIATION_OK, latent=[U])
    res = identify(dag, T, Y, estimand, mediator=M)
    assert res.identified and res.kind == "mediation"
    assert res.adjustment_set == ()
    assert res.mediator == M
    text = " | ".join(res.assumptions)
    for claim in (
        f"no unmeasured {T}–{Y} confounding",
        f"no unmeasured {M}–{Y} confounding given {T}",
        f"no unmeasured {T}–{M} confounding",
        "recanting witness",
    ):
        assert claim in text


def test_mediator_outcome_confounder_is_adjusted():
    dag = CausalDAG.from_edges([*MEDIATION_OK, f"c -> {M}", f"c -> {Y}", f"c -> {T}"], latent=[U])
    res = identify(dag, T, Y, "nde", mediator=M)
    assert res.identified and res.adjustment_set == ("c",)


def test_latent_mediator_outcome_confounder_blocks():
    dag = CausalDAG.from_edges([*MEDIATION_OK, f"v -> {M}", f"v -> {Y}"], latent=[U, "v"])
    res = identify(dag, T, Y, "nie", mediator=M)
    assert not res.identified
    assert f"{M} <- v -> {Y}" in res.open_paths
    assert identify(dag, T, Y, "ate").kind == "backdoor"  # the total effect is fine


def test_recanting_witness():
    dag = CausalDAG.from_edges(["t -> l", "l -> m", "l -> y", "t -> m", "m -> y", "t -> y"])
    res = identify(dag, "t", "y", "nde", mediator="m")
    assert not res.identified
    assert any("l is a m–y confounder affected by t" in n for n in res.notes)
    assert identify(dag, "t", "y").identified


# -- time-invariant latent confounders ------------------------------------------------------------
WITHIN_EDGES = [
    *MEDIATION_UY,
    f"{T} -> {Y}",
    f"{U} -> {M}",
    f"cinc -> {T}",
    f"cinc -> {Y}",
    f"cinc -> {M}",
]


@pytest.mark.parametrize("estimand", ["ate", "nde", "nie"])
def test_within_group_identification(estimand):
    dag = CausalDAG.from_edges(WITHIN_EDGES, latent=[U], constant_within={U: "country"})
    res = identify(dag, T, Y, estimand, mediator=M)
    assert res.identified and res.kind == "within"
    assert res.within_group == "country"
    assert res.adjustment_set == ("cinc",)
    assert OPEN_UY in res.open_paths
    assert any(OPEN_UY in n and "country" in n for n in res.notes)
    assert (
        f"{U} does not vary within country; the effect is identified from within-country "
        "variation of the treatment (country fixed effects / Mundlak decomposition); "
        "time-varying confounders must still be adjusted for"
    ) in res.assumptions


def test_within_needs_constant_within():
    dag = CausalDAG.from_edges(WITHIN_EDGES, latent=[U])
    res = identify(dag, T, Y, "nde", mediator=M)
    assert not res.identified and res.within_group is None


def test_within_does_not_help_a_time_varying_latent():
    dag = CausalDAG.from_edges(
        [*WITHIN_EDGES, f"shock -> {T}", f"shock -> {Y}"],
        latent=[U, "shock"],
        constant_within={U: "country"},
    )
    res = identify(dag, T, Y, "ate")
    assert not res.identified
    assert f"{T} <- shock -> {Y}" in res.open_paths


# -- inputs, records and side effects -------------------------------------------------------------
def test_spec_like_object_supplies_defaults():
    dag = CausalDAG.from_edges(MEDIATION_OK, latent=[U])
    spec = SimpleNamespace(
        dag=lambda: dag, estimand=SimpleNamespace(treatment=T, outcome=Y, mediator=M)
    )
    res = identify(spec, estimand="nie")
    assert (res.treatment, res.outcome, res.mediator) == (T, Y, M)
    assert identify(spec).mediator is None  # the total effect has no mediator


def test_unknown_node_named_and_nodes_listed():
    dag = CausalDAG.from_edges(MEDIATION_OK, latent=[U])
    with pytest.raises(DAGError) as err:
        identify(dag, "inst_tie", Y)
    msg = str(err.value)
    assert "'inst_tie'" in msg and f"'{T}'" in msg and f"'{M}'" in msg


def test_bad_estimand_and_missing_mediator():
    dag = CausalDAG.from_edges(MEDIATION_OK, latent=[U])
    with pytest.raises(EmbedcausalError, match=r"unknown estimand 'total'.*'ate', 'nde', 'nie'"):
        identify(dag, T, Y, "total")
    with pytest.raises(EmbedcausalError, match="'nde' needs a mediator"):
        identify(dag, T, Y, "nde")
    with pytest.raises(DAGError, match="latent"):
        identify(dag, U, Y)
    with pytest.raises(DAGError, match="both treatment and outcome"):
        identify(dag, T, T)
    with pytest.raises(EmbedcausalError, match="needs a treatment"):
        identify(dag, outcome=Y)


def test_to_dict_is_json_and_complete():
    dag = CausalDAG.from_edges(MEDIATION_UY, latent=[U])
    d = identify(dag, T, Y, "nde", mediator=M).to_dict()
    back = json.loads(json.dumps(d))
    for key in ("identified", "kind", "adjustment_set", "open_paths", "assumptions", "dowhy"):
        assert key in back
    assert back["open_paths"] == [OPEN_UY]


def test_identify_is_silent(capsys):
    dag = CausalDAG.from_edges(MEDIATION_UY, latent=[U])
    identify(dag, T, Y, "nde", mediator=M)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_deterministic():
    dag = CausalDAG.from_edges(WITHIN_EDGES, latent=[U], constant_within={U: "country"})
    first = identify(dag, T, Y, "nde", mediator=M).to_dict()
    assert identify(dag, T, Y, "nde", mediator=M).to_dict() == first


# -- node roles -----------------------------------------------------------------------------------
#: Z shares a latent cause with T and does not cause T: identification's instrument test accepts
#: it (relevant through L, excluded from Y once T's outgoing edges are cut)
PROXY_INSTRUMENT = ["l -> z", "l -> t", "t -> y"]


def test_instrument_role_is_identifications_instrument():
    dag = CausalDAG.from_edges(PROXY_INSTRUMENT, latent=["l"])
    assert identify(dag, "t", "y").instruments == ("z",)
    assert node_roles(dag, "t", "y") == {
        "l": "latent",
        "t": "treatment",
        "y": "outcome",
        "z": "instrument",
    }
    declared = dag.with_roles(treatment="t", outcome="y")
    assert node_roles(declared) == node_roles(dag, "t", "y")
    assert 'z [style="filled", fillcolor="#cdb4db", role="instrument"]' in declared.to_dot(
        roles=node_roles(declared)
    )


def test_node_roles_without_a_treatment_are_the_declared_ones():
    dag = CausalDAG.from_edges(PROXY_INSTRUMENT, latent=["l"])
    assert node_roles(dag) == dag.roles == {"l": "latent", "t": "other", "y": "other", "z": "other"}
    with pytest.raises(DAGError, match="latent"):
        node_roles(dag, "l", "y")


@st.composite
def random_latent_dags(draw):
    dag, t, y = draw(random_dags())
    others = [n for n in dag.nodes if n not in (t, y)]
    latent = draw(st.lists(st.sampled_from(others), unique=True)) if others else []
    return CausalDAG.from_edges(dag.edges, nodes=dag.nodes, latent=latent), t, y


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_latent_dags())
def test_instrument_role_always_agrees_with_identify(case):
    dag, t, y = case
    roles = node_roles(dag, t, y)
    instruments = tuple(n for n, r in roles.items() if r == "instrument")
    assert instruments == identify(dag, t, y).instruments
    for n in (n for n, r in roles.items() if r == "confounder"):
        assert n in dag.ancestors(t) and n in dag.observed


# -- testable implications ------------------------------------------------------------------------
def test_chain_fork_collider_implications():
    assert implied_independences(CausalDAG.from_edges(["a -> b", "b -> c"])) == [
        Independence("a", "c", ("b",))
    ]
    assert implied_independences(CausalDAG.from_edges(["b -> a", "b -> c"])) == [
        Independence("a", "c", ("b",))
    ]
    collider = implied_independences(CausalDAG.from_edges(["a -> c", "b -> c"]))
    assert collider == [Independence("a", "b", ())]
    assert str(collider[0]) == "a ⟂ b"


def test_latent_confounding_removes_implications():
    dag = CausalDAG.from_edges(["u -> a", "u -> b", "c -> a"], latent=["u"])
    imps = implied_independences(dag)
    assert Independence("a", "b", ()) not in imps
    assert imps == [Independence("b", "c", ())]


def test_max_conditioning_limits_sets():
    dag = CausalDAG.from_edges(["a -> x", "b -> x", "a -> y", "b -> y"])
    assert implied_independences(dag, max_conditioning=1) == [Independence("a", "b", ())]
    assert Independence("x", "y", ("a", "b")) in implied_independences(dag, max_conditioning=2)


def _chain_data(n: int, *, break_it: bool, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = 0.8 * a + rng.normal(size=n)
    c = 0.8 * b + (0.8 * a if break_it else 0.0) + rng.normal(size=n)
    d = (rng.uniform(size=n) < 1 / (1 + np.exp(-(c + (1.5 * a if break_it else 0.0))))).astype(int)
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": d})


CHAIN = CausalDAG.from_edges(["a -> b", "b -> c", "c -> d"])


def test_implications_hold_in_data_from_the_dag():
    table = test_implications(CHAIN, _chain_data(800, break_it=False))
    assert list(table.columns[:4]) == ["x", "y", "given", "test"]
    assert len(table) == 3  # a ⟂ c | b, a ⟂ d | c, b ⟂ d | c
    assert not table["rejected"].any()
    assert not contradicted(table) and table.attrs["contradicted"] is False
    tests = dict(zip(table["y"], table["test"], strict=True))
    assert tests["c"] == "partial correlation"
    assert tests["d"] == "logistic likelihood ratio"  # d is binary
    assert (table["p_adjusted"] >= table["p_value"]).all()


def test_implications_rejected_in_data_from_another_dag():
    table = test_implications(CHAIN, _chain_data(800, break_it=True))
    rejected = {(r.x, r.y) for r in table.itertuples() if r.rejected}
    assert ("a", "c") in rejected and ("a", "d") in rejected
    assert contradicted(table) and table.attrs["contradicted"] is True


def _fisher_z(frame: pd.DataFrame, x: str, y: str, given: list[str]) -> float:
    """Fisher's z of the partial correlation, by plain least squares (the reference)."""
    d = np.column_stack([np.ones(len(frame)), frame[given].to_numpy()])
    rx = frame[x] - d @ np.linalg.lstsq(d, frame[x], rcond=None)[0]
    ry = frame[y] - d @ np.linalg.lstsq(d, frame[y], rcond=None)[0]
    r = rx @ ry / np.sqrt((rx @ rx) * (ry @ ry))
    return float(np.arctanh(r) * np.sqrt(len(frame) - len(given) - 3))


@pytest.mark.parametrize("break_it", [False, True], ids=["holds", "broken"])
def test_partial_correlation_matches_least_squares(break_it):
    data = _chain_data(500, break_it=break_it, seed=4)
    table = test_implications(CHAIN, data)
    row = table[(table["x"] == "a") & (table["y"] == "c")].iloc[0]
    assert row["test"] == "partial correlation" and row["given"] == "b"
    assert row["statistic"] == pytest.approx(_fisher_z(data, "a", "c", ["b"]), rel=1e-10)
    assert row["df"] == 500 - 1 - 3


def test_fully_explained_column_is_not_tested():
    # a constant column has only rounding error left after the intercept: no test, no verdict
    data = _chain_data(200, break_it=False).assign(a=1.0)
    table = test_implications(CHAIN, data)
    row = table[(table["x"] == "a") & (table["y"] == "c")].iloc[0]
    assert np.isnan(row["statistic"]) and np.isnan(row["p_value"]) and not row["rejected"]


def test_implications_missing_columns_named():
    with pytest.raises(DataError, match=r"'c', 'd'"):
        test_implications(CHAIN, _chain_data(50, break_it=False)[["a", "b"]])


def test_implications_bad_method():
    with pytest.raises(EmbedcausalError, match="unknown multiple-testing method 'holmes'"):
        test_implications(CHAIN, _chain_data(50, break_it=False), method="holmes")


# -- larger graphs and properties -----------------------------------------------------------------
def test_many_confounders_use_the_non_exhaustive_search():
    zs = [f"z{i:02d}" for i in range(16)]
    edges = [e for z in zs for e in (f"{z} -> x", f"{z} -> y")] + ["x -> y", "x -> c", "y -> c"]
    res = identify(CausalDAG.from_edges(edges), "x", "y")
    assert res.kind == "backdoor"
    assert res.adjustment_set == tuple(zs)


@st.composite
def random_dags(draw):
    n = draw(st.integers(3, 7))
    nodes = [f"n{i}" for i in range(n)]
    pairs = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :]]
    edges = [p for p in pairs if draw(st.booleans())]
    t, y = draw(st.sampled_from([(a, b) for a, b in pairs]))
    return CausalDAG.from_edges(edges, nodes=nodes), t, y


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_dags())
def test_all_observed_graphs_are_backdoor_identified(case):
    dag, t, y = case
    res = identify(dag, t, y)
    # the parents of the treatment always block its backdoor paths when nothing is latent
    assert res.identified and res.kind == "backdoor"
    g = dag.to_networkx()
    g.remove_edges_from(list(dag.to_networkx().out_edges(t)))
    desc = dag.descendants(t)
    for s in res.adjustment_sets:
        assert not set(s) & desc
        assert nx.is_d_separator(g, {t}, {y}, set(s))
        for k in range(len(s)):  # minimal: no proper subset one smaller separates
            smaller = set(s[:k] + s[k + 1 :])
            assert not nx.is_d_separator(g, {t}, {y}, smaller)


def test_documentation_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "docs" / "identification.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/identification.md", "exec"), {})
    assert "contradicted: False" in capsys.readouterr().out


def test_lazy_identify_is_the_function_not_a_module():
    # a submodule named like the verb would replace embedcausal.identify once imported
    import embedcausal
    import embedcausal.identification as identification

    assert embedcausal.identify is identification.identify
    assert callable(embedcausal.identify)
    assert set(identification.__all__) >= {"identify", "Identification", "test_implications"}
