"""`embedcausal plot` and `embedcausal report`: files, one-line errors, a self-contained page
checked in a real headless Chromium (see tests/_browser.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _browser import Browser, find_chromium

from embedcausal.cli import main
from embedcausal.html import ReportError, build_report, classify, write_report

REPO = Path(__file__).resolve().parents[1]
#: where the browser test leaves its screenshot (``out/`` is ignored by git)
SCREENSHOTS = REPO / "out" / "screenshots"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- embedcausal plot -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "suffix"),
    [("effects", "png"), ("curve", "svg"), ("ppc", "png"), ("diagnostics", "pdf"), ("dag", "svg")],
)
def test_plot_writes_each_kind(small_run_dir, tmp_path, capsys, kind, suffix):
    out = tmp_path / f"fig.{suffix}"
    code, stdout, err = run_cli(capsys, "plot", small_run_dir, "--kind", kind, "--out", out)
    assert code == 0, err
    assert stdout.strip() == f"wrote {out}"
    head = out.read_bytes()[:16]
    assert {"png": b"\x89PNG", "pdf": b"%PDF"}.get(suffix, b"") in head
    if suffix == "svg":
        assert b"<svg" in out.read_bytes()[:2000]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_plot_several_runs_effects_and_loo(small_run_dir, tmp_path, capsys):
    other = tmp_path / "institutional"
    shutil.copytree(small_run_dir, other)
    out = tmp_path / "effects.png"
    code, _, err = run_cli(
        capsys, "plot", small_run_dir, other, "--kind", "effects", "--rope", "-0.01", "0.01",
        "--out", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    assert out.stat().st_size > 0
    code, stdout, err = run_cli(
        capsys, "plot", small_run_dir, other, "--kind", "loo", "--out", tmp_path / "loo.svg",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["kind"] == "loo"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "ppc", "--out", "{tmp}/f.gif"], r"unknown suffix '\.gif'; expected \.png"),
        (["--kind", "ppc", "--out", "{tmp}/no/f.png"], r"directory .* not found"),
        (["--kind", "ppc", "--by", "missions", "--out", "{tmp}/f.png"], r"did you mean 'mission'"),
        (["--kind", "loo", "--out", "{tmp}/f.png"], r"expected at least two"),
        (["--kind", "nope", "--out", "{tmp}/f.png"], r"invalid choice: 'nope'"),
    ],
)
def test_plot_errors_are_one_line(small_run_dir, tmp_path, capsys, args, message):
    argv = ["plot", small_run_dir, *(a.format(tmp=tmp_path) for a in args)]
    try:
        code, _, err = run_cli(capsys, *argv)
    except SystemExit as exc:  # argparse's own errors (a bad --kind) exit at parse time
        code, err = exc.code, capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert list(tmp_path.iterdir()) == []


def test_plot_missing_run_and_too_many_runs(small_run_dir, tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "plot", tmp_path / "nope", "--kind", "effects", "--out", tmp_path / "f.png"
    )
    assert code == 2 and "not a saved run" in err and err.count("\n") == 1
    code, _, err = run_cli(
        capsys, "plot", small_run_dir, small_run_dir, "--kind", "ppc", "--out", tmp_path / "f.png"
    )
    assert code == 2 and "--kind ppc draws one run, got 2" in err


# -- the report -----------------------------------------------------------------------------------
def make_sweep(root: Path) -> Path:
    """A sweep directory as `embedcausal sensitivity` writes it, made by hand, with a damaged
    part and hostile text (which the page must escape)."""
    d = root / "sens"
    d.mkdir()
    rows = []
    for gt in (0.0, 1.0):
        for gy in (0.0, 1.0, 2.0):
            for e, base in (("total", 0.1), ("nde", 0.04), ("nie", 0.06)):
                m = base - 0.04 * gt * gy
                rows.append(
                    {
                        "on_treatment": gt,
                        "on_mediator": 0.0,
                        "on_outcome": gy,
                        "effect": e,
                        "mean": m,
                        "sd": 0.02,
                        "hdi_low": m - 0.03,
                        "hdi_high": m + 0.03,
                        "hdi_prob": 0.9,
                        "excludes_zero": abs(m) > 0.03,
                        "reliable": True,
                    }
                )
    pd.DataFrame(rows).to_csv(d / "confounder.csv", index=False)
    pd.DataFrame([{"benchmark": "alliance", "on_treatment": 0.2, "on_outcome": 0.3}]).to_csv(
        d / "confounder_benchmarks.csv", index=False
    )
    (d / "sensitivity.json").write_text(
        json.dumps({"model": "<script>alert('x')</script> & co", "files": []})
    )
    (d / "refuters.json").write_text(
        json.dumps(
            {
                "estimate": 0.05,
                "std_error": 0.01,
                "estimator": "linear regression",
                "passed": False,
                "notes": ["placebo <b>failed</b>"],
                "refuters": [{"refuter": "placebo_treatment", "passed": False, "new_effect": 0.04}],
            }
        )
    )
    (d / "prior_sets.csv").write_bytes(b"\x00\xff not a csv \x00")
    pd.DataFrame(
        [
            {
                "rho": r,
                "effect": e,
                "mean": m,
                "sd": 0.02,
                "hdi_low": m - 0.03,
                "hdi_high": m + 0.03,
            }
            for r in (0.0, 0.3, 0.6)
            for e, m in (("nie", 0.06 - 0.2 * r), ("nde", 0.04 + 0.05 * r))
        ]
    ).assign(hdi_prob=0.9, reliable=True).to_csv(d / "rho.csv", index=False)
    return d


def test_classify(small_run_dir, tmp_path):
    assert classify(small_run_dir) == "run"
    assert classify(make_sweep(tmp_path)) == "sweep"
    with pytest.raises(ReportError, match="neither a run"):
        classify(tmp_path)
    with pytest.raises(ReportError, match="no such directory"):
        classify(tmp_path / "nope")


@pytest.fixture(scope="module")
def report(small_run_dir, tmp_path_factory) -> Path:
    """A report of two runs (a comparison) and a sweep, written by the CLI."""
    root = tmp_path_factory.mktemp("report")
    other = root / "institutional"
    shutil.copytree(small_run_dir, other)
    sweep = make_sweep(root)
    out = root / "report.html"
    code = main(["report", str(small_run_dir), str(other), str(sweep), "--out", str(out)])
    assert code == 0
    return out


def test_report_is_self_contained_and_escaped(report):
    html = report.read_text(encoding="utf-8")
    # nothing loaded from elsewhere: every src/href is inline data or an in-page anchor
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith(("data:image/png;base64,", "#")) for r in refs)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in html
    assert "placebo &lt;b&gt;failed&lt;/b&gt;" in html


def test_report_sections(report):
    html = report.read_text(encoding="utf-8")
    for text in (
        "Causal DAG",
        "Identification",
        "The estimates are causal only under these assumptions",
        "Sampler diagnostics",
        "UNRELIABLE",  # 2 x 50 draws: the diagnostics fail, and the page says so
        "natural indirect effect (NIE)",
        "<th>median</th>",
        "<th>P(effect &lt; 0)</th>",
        "<th>reference level</th>",
        "ACME(treated), total NIE; treated: T held at",
        "Which mechanism carries more: P(|NIE| &gt; |NDE|)",
        "P(NIE &gt; NDE), signed",
        "Proportion mediated (NIE / total): median",
        "Mechanisms compared",
        "PSIS-LOO comparison",
        "Latent confounder grid",
        "Tipping line of the total effect",
        "DoWhy refuters",
        "prior_sets.csv: unreadable",  # a damaged part is reported, not fatal
        "Correlated mediator and outcome errors (ρ)",
        "Where the mean crosses 0",
    ):
        assert text in html, text
    assert html.count("<img ") >= 12


def test_report_errors(small_run_dir, tmp_path, capsys):
    code, _, err = run_cli(capsys, "report", small_run_dir, "--out", tmp_path / "r.pdf")
    assert code == 2 and "expected an .html file" in err
    code, _, err = run_cli(capsys, "report", tmp_path, "--out", tmp_path / "r.html")
    assert code == 2 and "neither a run" in err and err.count("\n") == 1
    with pytest.raises(ReportError, match="nothing to report"):
        build_report({}, {})
    assert list(tmp_path.iterdir()) == []


def test_report_of_one_run_from_python(small_run_dir, tmp_path):
    out = write_report([small_run_dir], tmp_path / "one.html", curve=False, ppc=False)
    html = out.read_text(encoding="utf-8")
    assert "Mechanisms compared" not in html and "effect curve" not in html
    assert "effects forest plot" in html


def _fake_effects(*, rope: float | None) -> pd.DataFrame:
    """An effects table from fake draws: a total whose posterior crosses zero (P(total < 0)
    about 0.3), a categorical treatment's level names, the ROPE when given."""
    import numpy as np
    import xarray as xr

    from embedcausal.estimands import effects_table

    rng = np.random.default_rng(0)
    nde = rng.normal(-0.01, 0.02, (2, 200))
    nie = rng.normal(0.03, 0.01, (2, 200))
    total = nde + nie
    dims = ("chain", "draw")
    ds = xr.Dataset(
        {
            "total": (dims, total),
            "nde": (dims, nde),
            "nie": (dims, nie),
            "prop_mediated": (dims, nie / total),
            "nie_gt_nde": (dims, (nie > nde).astype(float)),
        },
        attrs={
            "treatment": "arm",
            "contrast_from": 0.0,
            "contrast_to": 1.0,
            "contrast_from_label": "control",
            "contrast_to_label": "treated",
            **({"rope": rope} if rope is not None else {}),
        },
    )
    return effects_table(ds)


@pytest.mark.parametrize("rope", [0.01, None])
def test_report_effects_show_every_summary(small_run_dir, tmp_path, rope):
    """The effects section shows what the effects table holds, labelled: median, HDI,
    P(effect < 0), the ROPE column (only with estimand.rope), each row's reference level, the
    contrast in the data's units, the proportion mediated as median and ratio of means, which
    mechanism carries more (P(|NIE| > |NDE|)), the signed P(NIE > NDE), and the note when
    P(total < 0) is material."""
    run = tmp_path / "run"
    shutil.copytree(small_run_dir, run)
    table = _fake_effects(rope=rope)
    table.to_csv(run / "effects.csv", index=False)
    html = write_report([run], tmp_path / "r.html", curve=False, ppc=False).read_text("utf-8")
    for text in (
        "reference level",
        "<th>median</th>",
        "<th>90% HDI low</th>",
        "<th>P(effect &lt; 0)</th>",
        "ratio of means mean(NIE)/mean(total)",
        "ADE(control), pure NDE; control: T control -&gt; treated, M held at M(control)",
        "Contrast inst_ties ",  # the run's own contrast, in data units
        "(data units)",
        "Proportion mediated (NIE / total): median",
        "Which mechanism carries more: P(|NIE| &gt; |NDE|) = ",
        "P(NIE &gt; NDE), signed = ",
        "P(total &lt; 0) = 0.",
        "the total effect&#39;s posterior crosses zero",
    ):
        assert text in html, text
    with_rope = "<th>P(|effect| &lt; 0.01) (rope)</th>" in html
    assert with_rope == (rope is not None)
    assert ("region of practical equivalence (estimand.rope = 0.01)" in html) == with_rope
    assert "P(NIE &gt; NDE)</" not in html  # never unlabelled: it is signed


# -- in a real browser ----------------------------------------------------------------------------
def _chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no chromium on PATH and none could be installed (scripts/test.sh installs Debian's "
            "'chromium' with apt-get when apt is usable; set $CHROMIUM to another binary)"
        )
    return path


def test_report_in_headless_chromium(report):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "report.png"
    shot.unlink(missing_ok=True)
    with Browser(_chromium()) as browser:
        page = browser.load(report, screenshot=shot)
    assert page.console_errors == []
    assert page.requests == []  # no network
    assert page.title.startswith("embedcausal report")
    assert len(page.images) >= 12
    for img in page.images:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img
    assert "Mechanisms compared" in page.text
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")


def test_browser_sees_a_broken_image(tmp_path):
    """The check is not vacuous: a page with a broken image fails it."""
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<!DOCTYPE html><html><head><title>b</title></head><body>"
        '<img alt="x" src="data:image/png;base64,AAAA"></body></html>'
    )
    with Browser(_chromium()) as browser:
        page = browser.load(page_file)
    assert page.images[0]["width"] == 0


def test_report_of_the_readme_main_run_in_headless_chromium(tmp_path, capsys):
    """The README's main analysis (models/full.toml on the shipped panel), fitted with few
    draws, reported by the CLI and opened in the browser."""
    run_dir, out = tmp_path / "full", tmp_path / "full.html"
    code, _, err = run_cli(
        capsys, "fit", REPO / "models" / "full.toml", "--out", run_dir,
        "--draws", "40", "--tune", "40", "--chains", "1",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(capsys, "report", run_dir, "--out", out)
    assert code == 0, err
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Browser(_chromium()) as browser:
        page = browser.load(out, screenshot=SCREENSHOTS / "report_full.png")
    assert page.console_errors == [] and page.requests == []
    assert page.images and all(i["complete"] and i["width"] > 0 for i in page.images)
    for text in ("inst_ties", "personal_ties", "nde", "nie"):
        assert text in page.text
