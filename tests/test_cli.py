"""The `embedcausal` command end to end on the shipped model files (tiny sampler settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedcausal.cli import main

REPO = Path(__file__).resolve().parents[1]
MODELS = sorted((REPO / "models").glob("*.toml"))
TINY = ["--draws", "20", "--tune", "30", "--chains", "1", "--seed", "1"]


def run_json(capsys, *args: str):
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_check_every_shipped_model(capsys):
    out = run_json(capsys, "check", *map(str, MODELS))
    assert len(out) == len(MODELS) >= 5


@pytest.mark.parametrize("model", MODELS, ids=[m.stem for m in MODELS])
def test_identify_json_fields(capsys, model):
    out = run_json(capsys, "identify", str(model))
    for r in out if isinstance(out, list) else [out]:
        assert {"identified", "kind", "adjustment_set", "open_paths", "assumptions"} <= set(r)
        assert r["identified"] is True


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    runs = {}
    base = tmp_path_factory.mktemp("runs")
    for model in MODELS:
        out = base / model.stem
        assert main(["fit", str(model), "--out", str(out), *TINY, "--json"]) == 0
        runs[model.stem] = out
    return runs


@pytest.mark.parametrize("model", MODELS, ids=[m.stem for m in MODELS])
def test_fit_then_effects_json(capsys, fitted, model):
    capsys.readouterr()
    rows = run_json(capsys, "effects", str(fitted[model.stem]))
    effects = {r["effect"] for r in rows}
    assert "total" in effects
    if "mediator" in (REPO / "models" / model.name).read_text():
        assert effects == {"total", "nde", "nie", "prop_mediated", "p_nie_gt_nde"}
    for r in rows:
        assert {"effect", "mean", "sd", "hdi_low", "hdi_high"} <= set(r)
        assert r["reliable"] is False  # 20 draws cannot pass the diagnostics


def test_effects_text_report(capsys, fitted):
    capsys.readouterr()
    assert main(["effects", str(fitted["full"])]) == 0
    text = capsys.readouterr().out
    assert "natural indirect effect (NIE)" in text and "UNRELIABLE" in text
    assert "rows dropped for missing values" in text
    # the columns and notes docs/cli/effects.md promises
    for label in ("median", "P(e<0)", "reference level", "P(|NIE| > |NDE|)", "is signed"):
        assert label in text, label
    assert "proportion mediated: median" in text and "ratio of posterior means" in text


def test_compare_same_rows(capsys, tmp_path):
    dirs = []
    for name in ("institutional", "disposition"):
        dirs.append(str(tmp_path / name))
        args = ["--draws", "100", "--tune", "100", "--chains", "1", "--json"]
        assert main(["fit", str(REPO / "models" / f"{name}.toml"), "--out", dirs[-1], *args]) == 0
    capsys.readouterr()
    out = run_json(capsys, "compare", *dirs)
    assert {m["model"] for m in out["models"]} == {"institutional", "disposition"}
    assert set(out["pareto_k_bad"]) == {"institutional", "disposition"}


def test_compare_needs_enough_draws(capsys, fitted):
    capsys.readouterr()
    assert main(["compare", str(fitted["institutional"]), str(fitted["disposition"])]) == 2
    assert "PSIS-LOO needs at least 100" in capsys.readouterr().err


def test_compare_refuses_different_rows(capsys, fitted):
    capsys.readouterr()
    assert main(["compare", str(fitted["institutional"]), str(fitted["full"])]) == 2
    assert "same observations" in capsys.readouterr().err


def test_fit_refuses_existing_out(capsys, fitted):
    assert main(["fit", str(MODELS[0]), "--out", str(fitted["full"])]) == 2
    assert "already exists" in capsys.readouterr().err


def test_simulate_writes_data_and_truth(tmp_path, capsys):
    out = run_json(capsys, "simulate", "personal", "--seed", "1", "--out", str(tmp_path / "x.csv"))
    assert (tmp_path / "x.csv").is_file() and (tmp_path / "x.truth.json").is_file()
    truth = json.loads((tmp_path / "x.truth.json").read_text())
    assert truth["nde"] == 0 and truth["nie"] == out["nie"] > 0


def test_simulate_bad_mechanism(capsys, tmp_path):
    assert main(["simulate", "telepathy", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "personal" in err and "\n" not in err


def test_dag_draws(tmp_path, capsys):
    assert main(["dag", str(MODELS[0]), "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_identify_tests_implications_on_the_panel(capsys):
    out = run_json(
        capsys,
        "identify",
        str(REPO / "models" / "side_payment.toml"),
        "--estimand",
        "ate",
        "--implications",
    )
    imp = out["implications"]
    pairs = {(t["x"], t["y"]) for t in imp["tests"]}
    assert ("inst_ties", "personal_ties") in pairs  # the DAG says they are independent
    # the real panel contradicts this DAG: ties and diplomatic representation go together
    assert imp["contradicted"] is True


def test_check_and_dag_give_the_instrument_identify_finds(tmp_path, capsys):
    # L -> Z, L -> T, T -> Y with L latent: Z is an instrument for identify, check and dag alike
    (tmp_path / "d.csv").write_text("country,mission,z,t,y\nA,m,0,1,0\nB,m,1,0,1\nC,n,0,0,1\n")
    model = tmp_path / "proxy.toml"
    model.write_text(
        'name = "proxy instrument"\n[data]\npath = "d.csv"\n'
        '[dag]\nedges = ["l -> z", "l -> t", "t -> y"]\nlatent = ["l"]\n'
        '[estimand]\ntreatment = "t"\noutcome = "y"\n'
    )
    assert run_json(capsys, "identify", str(model))["instruments"] == ["z"]
    [report] = run_json(capsys, "check", str(model))
    assert report["nodes"] == {"l": "latent", "t": "treatment", "y": "outcome", "z": "instrument"}
    assert main(["check", str(model)]) == 0
    assert "z (instrument)" in capsys.readouterr().out
    assert main(["dag", str(model)]) == 0
    assert 'role="instrument"' in capsys.readouterr().out
