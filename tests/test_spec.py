"""Model files: the valid example loads; each broken file gives one error naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from embedcausal.errors import SpecError
from embedcausal.priors import PriorError, parse_prior
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"
BROKEN = sorted((HERE / "broken").glob("*.toml"))
REPO = Path(__file__).resolve().parents[1]


def expected_key(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect:"), path
    return first.split(":", 1)[1].strip()


def test_corpus_is_large_enough():
    assert len(BROKEN) >= 15


def test_valid_file_loads_with_defaults():
    spec = load_spec(HERE / "valid.toml")
    assert spec.estimand.effect_list == ("total", "nde", "nie")
    assert spec.data_path == (HERE / "tiny.csv").resolve()
    assert str(spec.priors["intercept"]) == "Normal(0, 2.5)"
    assert spec.groupings == ("mission", "region", "country")
    assert spec.dag().roles["personal_ties"] == "mediator"


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_file_names_file_and_key(path):
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    assert err.file == str(path)
    assert err.key == expected_key(path)
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(str(path))


def test_typo_suggests_the_right_key():
    with pytest.raises(SpecError, match=r"did you mean 'treatment'"):
        load_spec(HERE / "broken" / "typo_key.toml")


def test_cycle_is_printed():
    with pytest.raises(SpecError, match=r"participation -> inst_ties|inst_ties -> participation"):
        load_spec(HERE / "broken" / "cycle.toml")


def test_prior_code_is_never_executed(capfd):
    with pytest.raises(SpecError):
        load_spec(HERE / "broken" / "prior_code.toml")
    assert "pwned" not in capfd.readouterr().out


def test_replace_revalidates():
    spec = load_spec(HERE / "valid.toml")
    assert spec.replace(sampler={"draws": 50}).sampler.draws == 50
    with pytest.raises(SpecError, match=r"sampler\.draws"):
        spec.replace(sampler={"draws": "x"})


@pytest.mark.parametrize(
    ("text", "dist", "params"),
    [
        ("Normal(0, 1)", "Normal", {"mu": 0.0, "sigma": 1.0}),
        ("Normal(mu=-1.5, sigma=2)", "Normal", {"mu": -1.5, "sigma": 2.0}),
        ("StudentT(3, 0, 2.5)", "StudentT", {"nu": 3.0, "mu": 0.0, "sigma": 2.5}),
        ("  HalfNormal( 1 ) ", "HalfNormal", {"sigma": 1.0}),
    ],
)
def test_prior_grammar(text, dist, params):
    p = parse_prior(text)
    assert (p.dist, p.params) == (dist, params)


@pytest.mark.parametrize(
    "text",
    [
        "Normal(0)",
        "Normal(0, -1)",
        "Normal(0, x)",
        "Normal(0, 1, 2)",
        "normal(0, 1)",
        "1 + 1",
        "Normal(0, sigma=1, sigma=2)",
        "Normal(0, 1)(2)",
        "Normal(0, True)",
    ],
)
def test_bad_priors_raise(text):
    with pytest.raises(PriorError, match="prior"):
        parse_prior(text)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "embedcausal.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize("path", BROKEN[:6], ids=[p.stem for p in BROKEN[:6]])
def test_cli_check_exit_2_one_line(path):
    res = run_cli("check", str(path))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    assert str(path) in lines[0] and expected_key(path) in lines[0]


def test_cli_check_all_broken_in_process(capsys):
    from embedcausal.cli import main

    for path in BROKEN:
        assert main(["check", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected_key(path) in err[0] and str(path) in err[0]


def test_cli_check_valid_and_json(capsys):
    import json

    from embedcausal.cli import main

    assert main(["check", "--json", str(HERE / "valid.toml")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["nodes"]["inst_ties"] == "treatment"
    assert "inst_ties -> personal_ties" in out[0]["edges"]


def test_cli_debug_shows_traceback():
    res = run_cli("check", "--debug", str(BROKEN[0]))
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_help_describes_every_option():
    from embedcausal.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, sp in sub.choices.items():
        for action in sp._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.dest} has no help text"
    res = run_cli("check", "--help")
    assert res.returncode == 0 and "--json" in res.stdout
