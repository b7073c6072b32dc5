"""Causal DAGs: building, validation messages, DOT/GML export and drawing."""

from __future__ import annotations

import networkx as nx
import pytest

from embedcausal.dag import ROLES, CausalDAG, parse_edge
from embedcausal.errors import DAGError, EmbedcausalError
from embedcausal.identification import node_roles
from embedcausal.plots import draw_dag

MEDIATION = [
    "disposition -> inst_ties",
    "disposition -> participation",
    "inst_ties -> personal_ties",
    "personal_ties -> participation",
    "inst_ties -> participation",
    "alliance -> inst_ties",
    "alliance -> participation",
    "distance -> inst_ties",
]


@pytest.fixture
def dag() -> CausalDAG:
    return CausalDAG.from_edges(
        MEDIATION, latent=["disposition"], constant_within={"disposition": "country"}
    )


# -- parse_edge ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["a -> b", "a->b", "  a   ->   b ", "\ta ->\tb\n"],
    ids=["plain", "tight", "wide", "tabs"],
)
def test_parse_edge_tolerates_whitespace(text):
    assert parse_edge(text) == ("a", "b")


@pytest.mark.parametrize("text", ["a - > b", "a <- b", "a -> b -> c", "1x -> b", "a b", "a -> "])
def test_parse_edge_rejects_bad_text_naming_it_and_the_form(text):
    with pytest.raises(DAGError) as err:
        parse_edge(text)
    msg = str(err.value)
    assert repr(text) in msg
    assert "parent -> child" in msg
    assert "\n" not in msg


def test_dag_error_is_a_user_error():
    with pytest.raises(EmbedcausalError):
        parse_edge("nonsense")


# -- from_edges -----------------------------------------------------------------------------------
def test_from_edges_views_are_sorted_and_latent_split(dag):
    assert dag.nodes == tuple(sorted(dag.nodes))
    assert dag.edges == tuple(sorted(dag.edges))
    assert dag.latent == frozenset({"disposition"})
    assert "disposition" not in dag.observed
    assert set(dag.observed) | dag.latent == set(dag.nodes)
    assert dag.roles["disposition"] == "latent"
    assert dag.roles["alliance"] == "other"
    assert dag.constant_within == {"disposition": "country"}


def test_from_edges_accepts_pairs_and_isolated_nodes():
    dag = CausalDAG.from_edges([("a", "b")], nodes=["lonely"])
    assert dag.nodes == ("a", "b", "lonely")
    assert dag.parents("lonely") == frozenset()


def test_cycle_is_printed():
    with pytest.raises(DAGError, match=r"cycle: a -> b -> c -> a"):
        CausalDAG.from_edges(["a -> b", "b -> c", "c -> a", "c -> d"])


def test_self_loop_is_rejected():
    with pytest.raises(DAGError, match="self-loop 'a -> a'"):
        CausalDAG.from_edges(["a -> a"])
    with pytest.raises(DAGError, match="self-loop"):
        CausalDAG.from_edges([("a", "a")])


def test_latent_name_not_in_graph():
    with pytest.raises(
        DAGError, match=r"latent node 'disposal' is not in the graph.*'disposition'"
    ):
        CausalDAG.from_edges(MEDIATION, latent=["disposal"])


def test_role_for_unknown_node_and_unknown_role():
    with pytest.raises(DAGError, match=r"unknown node 'nope'.*'alliance'"):
        CausalDAG.from_edges(MEDIATION, roles={"nope": "treatment"})
    with pytest.raises(DAGError) as err:
        CausalDAG.from_edges(MEDIATION, roles={"inst_ties": "cause"})
    assert "'cause'" in str(err.value)
    for role in ROLES:
        assert repr(role) in str(err.value)


def test_constant_within_must_name_a_latent_node():
    with pytest.raises(DAGError, match=r"constant_within names 'alliance', which is not latent"):
        CausalDAG.from_edges(MEDIATION, latent=["disposition"], constant_within={"alliance": "c"})
    with pytest.raises(DAGError, match="constant_within"):
        CausalDAG.from_edges(MEDIATION, latent=["disposition"], constant_within={"zz": "c"})


def test_bad_node_name_in_pair():
    with pytest.raises(DAGError, match="bad node name"):
        CausalDAG.from_edges([("a b", "c")])


# -- queries and roles ----------------------------------------------------------------------------
def test_parents_children_ancestors_descendants(dag):
    assert dag.parents("participation") == {"disposition", "personal_ties", "inst_ties", "alliance"}
    assert dag.children("inst_ties") == {"personal_ties", "participation"}
    assert dag.ancestors("personal_ties") == {"inst_ties", "disposition", "alliance", "distance"}
    assert dag.descendants("inst_ties") == {"personal_ties", "participation"}


@pytest.mark.parametrize("method", ["parents", "children", "ancestors", "descendants"])
def test_unknown_node_is_named_and_nodes_listed(dag, method):
    with pytest.raises(DAGError) as err:
        getattr(dag, method)("inst_tie")
    msg = str(err.value)
    assert "'inst_tie'" in msg
    assert "'inst_ties'" in msg and "'alliance'" in msg


def test_with_roles_declares_and_node_roles_derives_confounders_and_instruments(dag):
    r = dag.with_roles(treatment="inst_ties", mediator="personal_ties", outcome="participation")
    roles = node_roles(r)
    assert roles["inst_ties"] == "treatment"
    assert roles["personal_ties"] == "mediator"
    assert roles["participation"] == "outcome"
    assert roles["alliance"] == "confounder"
    assert roles["distance"] == "instrument"
    assert roles["disposition"] == "latent"
    assert dag.roles["alliance"] == "other"  # the original is unchanged
    assert [n for n, role in roles.items() if role == "confounder"] == ["alliance"]
    # the graph itself carries the declared roles only
    assert r.roles == {
        "alliance": "other",
        "disposition": "latent",
        "distance": "other",
        "inst_ties": "treatment",
        "participation": "outcome",
        "personal_ties": "mediator",
    }
    assert node_roles(dag, "inst_ties", "participation", "personal_ties") == roles


def test_derived_roles_cannot_be_declared():
    with pytest.raises(DAGError) as err:
        CausalDAG.from_edges(MEDIATION, roles={"alliance": "confounder"})
    msg = str(err.value)
    assert "'confounder'" in msg and "'alliance'" in msg and "node_roles" in msg
    assert "\n" not in msg
    with pytest.raises(DAGError, match="role 'treatment' given to both"):
        CausalDAG.from_edges(MEDIATION, roles={"alliance": "treatment", "distance": "treatment"})


def test_with_roles_rejects_latent_or_unknown(dag):
    with pytest.raises(DAGError, match="latent"):
        dag.with_roles(treatment="disposition")
    with pytest.raises(DAGError, match="unknown node 'x'"):
        dag.with_roles(outcome="x")


# -- data columns ---------------------------------------------------------------------------------
def test_latent_node_as_column_is_an_error(dag):
    cols = [*dag.observed, "disposition"]
    with pytest.raises(DAGError) as err:
        dag.check_data_columns(cols, source="panel.csv")
    assert str(err.value) == (
        "latent node 'disposition' appears as a column in panel.csv; "
        "a latent node must not be observed"
    )


def test_missing_observed_column_is_named_with_close_matches(dag):
    cols = [c for c in dag.observed if c != "personal_ties"] + ["personal_tie", "country"]
    with pytest.raises(DAGError) as err:
        dag.check_data_columns(cols, source="panel.csv")
    msg = str(err.value)
    assert "'personal_ties'" in msg and "'personal_tie'" in msg and "panel.csv" in msg


def test_all_columns_present_passes(dag):
    dag.check_data_columns([*dag.observed, "country", "year"])


# -- DOT and GML --------------------------------------------------------------------------------
def test_dot_round_trip_keeps_everything(dag):
    r = dag.with_roles(treatment="inst_ties", mediator="personal_ties", outcome="participation")
    back = CausalDAG.from_dot(r.to_dot())
    assert back == r
    assert back.constant_within == {"disposition": "country"}
    assert CausalDAG.from_dot(dag.to_dot()) == dag
    # derived roles written to DOT (what `embedcausal dag` prints) are derived again on reading
    full = r.to_dot(roles=node_roles(r))
    assert 'role="confounder"' in full and 'role="instrument"' in full
    assert CausalDAG.from_dot(full) == r


def test_from_dot_small_language():
    text = """
    // a comment
    digraph G {
      # a preprocessor-style line
      rankdir=LR;  // another comment
      node [shape=box];
      /* block
         comment */
      a -> b -> c;
      u [latent];
      w [style="dashed"];
      "u" -> a; w -> c
      lonely;
    }
    """
    dag = CausalDAG.from_dot(text)
    assert dag.edges == (("a", "b"), ("b", "c"), ("u", "a"), ("w", "c"))
    assert dag.latent == {"u", "w"}
    assert "lonely" in dag.nodes


def test_from_dot_latent_argument_and_errors():
    assert CausalDAG.from_dot("digraph { u -> x }", latent=["u"]).latent == {"u"}
    with pytest.raises(DAGError, match="undirected"):
        CausalDAG.from_dot("graph { a -- b }".replace("graph", "digraph"))
    with pytest.raises(DAGError, match="digraph"):
        CausalDAG.from_dot("graph { a -> b }")
    with pytest.raises(DAGError, match="cycle: a -> b -> a"):
        CausalDAG.from_dot("digraph { a -> b -> a }")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("digraph { a -> }", r"cannot parse DOT at line 1, column 13, near '-> }'"),
        ('digraph {\n  a -> b [label="x";\n}', r"cannot parse DOT at line 2, column \d+"),
        ("nonsense", r"line 1, column 1, near 'nonsense': the parser wanted .*'digraph'"),
        ("digraph { a -> b } digraph { c -> d }", r"DOT source holds 2 graphs"),
        ("digraph { subgraph s { a -> b } }", r"subgraphs and '\{ \}' groups are not supported"),
        ("digraph { {a b} -> c }", r"subgraphs and '\{ \}' groups are not supported"),
        ("digraph { a:p -> b }", r"bad node name 'a:p'"),
        ('digraph { "a b" -> c }', r"bad node name 'a b'"),
        ("digraph { a [role=cause]; a -> b }", r"unknown role 'cause' for node 'a'"),
    ],
    ids=[
        "no-head",
        "open-attributes",
        "not-dot",
        "two-graphs",
        "subgraph",
        "group",
        "port",
        "space",
        "role",
    ],
)
def test_from_dot_errors_are_one_line_naming_the_problem(text, message):
    with pytest.raises(DAGError, match=message) as err:
        CausalDAG.from_dot(text)
    assert "\n" not in str(err.value)


def test_from_dot_ignores_dashes_in_strings_and_comments_and_does_not_print(capsys):
    dag = CausalDAG.from_dot('digraph { a [label="x -- y"]; a -> b; # c -- d\n } // e -- f')
    assert dag.edges == (("a", "b"),)
    with pytest.raises(DAGError):
        CausalDAG.from_dot("digraph { a -> }")
    assert capsys.readouterr().out == ""  # pydot's own reader prints parse errors


def test_gml_is_what_networkx_and_dowhy_read(dag):
    g = nx.parse_gml(dag.to_gml())
    assert sorted(g.edges) == list(dag.edges)
    assert g.nodes["disposition"]["observed"] == "no"
    assert g.nodes["inst_ties"]["observed"] == "yes"
    assert isinstance(dag.to_networkx(), nx.DiGraph)


# -- drawing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_draw_writes_a_non_empty_file(dag, tmp_path, suffix):
    out = draw_dag(
        dag.with_roles(treatment="inst_ties", outcome="participation"), tmp_path / f"g{suffix}"
    )
    assert out == tmp_path / f"g{suffix}"
    data = out.read_bytes()
    assert len(data) > 1000
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        assert b"<svg" in data
    assert [p.name for p in tmp_path.iterdir()] == [f"g{suffix}"]  # no temporary left behind


def test_draw_unknown_suffix(dag, tmp_path):
    with pytest.raises(DAGError, match=r"unknown suffix '\.pdf'; expected \.svg or \.png"):
        draw_dag(dag, tmp_path / "g.pdf")
    assert not list(tmp_path.iterdir())


def _fake_dot(tmp_path, body: str):
    script = tmp_path / "bin" / "dot"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_draw_uses_graphviz_when_on_path(dag, tmp_path, monkeypatch):
    # a stand-in `dot` that writes its input (the DOT source) to the -o file
    fake = _fake_dot(tmp_path, 'cat > "$3"\n')
    monkeypatch.setattr("embedcausal.plots.dag.shutil.which", lambda name: fake)
    out = draw_dag(dag, tmp_path / "g.svg")
    assert out.read_text() == dag.to_dot()


def test_draw_falls_back_to_matplotlib_when_graphviz_fails(dag, tmp_path, monkeypatch):
    fake = _fake_dot(tmp_path, "exit 3\n")
    monkeypatch.setattr("embedcausal.plots.dag.shutil.which", lambda name: fake)
    assert draw_dag(dag, tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "g.png"]
