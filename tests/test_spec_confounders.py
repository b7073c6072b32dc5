"""``[dag] confounders``: common causes of treatment, mediator and outcome without 3 edges each."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embedcausal.cli import main
from embedcausal.errors import SpecError
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"
EDGES = """edges = ["inst_ties -> personal_ties", "personal_ties -> participation",
         "inst_ties -> participation", "threat -> inst_ties", "threat -> participation"]"""


def write(tmp_path: Path, dag: str) -> Path:
    text = (HERE / "valid.toml").read_text()
    assert EDGES in text
    shutil.copy(HERE / "tiny.csv", tmp_path / "tiny.csv")
    path = tmp_path / "m.toml"
    path.write_text(text.replace(EDGES, dag))
    return path


def test_confounders_expand_into_edges_to_treatment_mediator_and_outcome(tmp_path):
    spec = load_spec(
        write(
            tmp_path,
            'edges = ["inst_ties -> personal_ties", "personal_ties -> participation",\n'
            '         "inst_ties -> participation", "threat -> participation"]\n'
            'confounders = ["threat"]',
        )
    )
    edges = set(spec.dag().edges)
    assert {("threat", "inst_ties"), ("threat", "personal_ties"), ("threat", "participation")} <= (
        edges
    )
    # the edge written by hand is not repeated
    assert spec.confounder_edges == ["threat -> inst_ties", "threat -> personal_ties"]
    explicit = load_spec(HERE / "valid.toml")
    assert explicit.confounder_edges == []


def test_check_prints_the_expanded_edges(tmp_path, capsys):
    path = write(
        tmp_path,
        'edges = ["inst_ties -> personal_ties", "personal_ties -> participation",\n'
        '         "inst_ties -> participation"]\nconfounders = ["threat"]',
    )
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "of which from dag.confounders: threat -> inst_ties, threat -> personal_ties, "
        "threat -> participation" in out
    )


@pytest.mark.parametrize(
    ("node", "role"), [("inst_ties", "treatment"), ("personal_ties", "mediator")]
)
def test_a_confounder_that_is_the_treatment_or_mediator_is_refused(tmp_path, node, role):
    with pytest.raises(SpecError) as exc:
        load_spec(write(tmp_path, EDGES + f'\nconfounders = ["{node}"]'))
    msg = str(exc.value)
    assert "dag.confounders[0]" in msg and f"is the {role}" in msg and "\n" not in msg


def test_no_edges_at_all_is_refused(tmp_path):
    with pytest.raises(SpecError, match=r"dag.edges: is empty"):
        load_spec(write(tmp_path, "edges = []"))
