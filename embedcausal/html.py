"""One self-contained HTML report of runs and sensitivity sweeps (``embedcausal report``).

:func:`write_report` reads run directories (``embedcausal fit --out``) and sweep directories
(``embedcausal sensitivity --out``) and writes one HTML file that needs nothing else: figures
are inlined as base64 PNG, the stylesheet is inline, and there is no script and no network
reference. It shows, per run, the DAG, what is identified and under which assumptions (in
words), the sampler diagnostics with clear warnings, the effects table and figures (forest,
effect curve, posterior predictive checks); with several runs, the mechanisms side by side and
their PSIS-LOO comparison; per sweep, whatever parts of the sensitivity analyses it holds
(latent-confounder grid, OVB, priors, refuters), tolerating missing or damaged parts.

The page is rendered with Jinja2 with autoescaping on: every string from a model file, a
data set or a result is escaped. :func:`build_report` returns the HTML text, so scripts (such
as the one behind ``docs/analysis.md``) can reuse the sections.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from embedcausal.errors import EmbedcausalError
from embedcausal.files import atomic_write

__all__ = ["ReportError", "build_report", "classify", "unique_names", "write_report"]

#: files that mark a directory as a sensitivity sweep (any one of them)
SWEEP_FILES = (
    "sensitivity.json",
    "confounder.csv",
    "ovb.json",
    "prior_sets.csv",
    "power_scaling.csv",
    "refuters.json",
)
EFFECT_LABELS = {
    "total": "total effect",
    "nde": "natural direct effect (NDE)",
    "nie": "natural indirect effect (NIE)",
    "prop_mediated": "proportion mediated",
    "p_nie_gt_nde": "P(NIE > NDE)",
}
KIND_WORDS = {
    "backdoor": "by adjusting for a backdoor set (no open backdoor path remains)",
    "frontdoor": "by the front-door criterion (through the mediator)",
    "iv": "with an instrumental variable",
    "instrument": "with an instrumental variable",
    "mediation": "as a natural direct/indirect effect (sequential ignorability)",
    "within": "by within-group contrasts (constant confounders of the group cancel)",
    "assumed": "only by an explicit assumption in the model file",
}


class ReportError(EmbedcausalError, ValueError):
    """A path given to the report is neither a run nor a sweep, or the output is unwritable."""


# -- inputs -------------------------------------------------------------------------------------
def classify(path: str | os.PathLike) -> str:
    """``"run"`` or ``"sweep"`` for a directory (by the files in it).

    Raises
    ------
    ReportError
        If ``path`` is not a directory or holds neither a run nor sweep results.
    """
    p = Path(path)
    if not p.is_dir():
        raise ReportError(
            f"{p}: no such directory; expected a run directory (embedcausal fit --out) or a "
            "sensitivity sweep directory (embedcausal sensitivity --out)"
        )
    if (p / "run.json").is_file():
        return "run"
    if any((p / f).is_file() for f in SWEEP_FILES):
        return "sweep"
    raise ReportError(
        f"{p}: neither a run (no run.json) nor a sensitivity sweep (none of "
        + ", ".join(SWEEP_FILES)
        + ")"
    )


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Directory names, made unique by their parent's name (then by a number)."""
    names = [p.resolve().name or str(p) for p in paths]
    for i, p in enumerate(paths):
        if names.count(names[i]) > 1:
            names[i] = f"{p.resolve().parent.name}/{names[i]}"
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} ({seen[n]})"
    return names


# -- small formatting helpers -------------------------------------------------------------------
def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return ""
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 10 ** (-digits)):
        return f"{v:.3g}"
    return f"{v:.{digits}f}"


def _table(frame: pd.DataFrame | None, columns: Sequence[str] | None = None) -> dict | None:
    """A table for the template: header and rows of formatted strings (escaped there)."""
    if frame is None or len(frame) == 0:
        return None
    cols = [c for c in (columns or frame.columns) if c in frame.columns]
    rows = [[_num(v) for v in rec] for rec in frame[cols].itertuples(index=False)]
    return {"columns": [str(c) for c in cols], "rows": rows}


def _png(fig: Any) -> str:
    from embedcausal.plots.base import figure_bytes

    return "data:image/png;base64," + base64.b64encode(figure_bytes(fig, "png")).decode("ascii")


def _png_file(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@dataclass
class _Section:
    """One part of the report: a title, paragraphs, warnings, tables, figures, notes."""

    title: str
    anchor: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    good: list[str] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)  # {"caption", "columns", "rows"}
    figures: list[dict] = field(default_factory=list)  # {"src", "alt", "caption"}
    pre: list[str] = field(default_factory=list)
    items_intro: str = ""
    details: list[tuple[str, str]] = field(default_factory=list)  # (summary, preformatted)
    subsections: list[_Section] = field(default_factory=list)

    def figure(self, make, alt: str, caption: str) -> None:
        """Add a figure made by ``make()``; a failure becomes a warning, not a crash."""
        try:
            fig = make()
        except EmbedcausalError as exc:
            self.warnings.append(f"{alt}: not drawn ({exc})")
            return
        self.figures.append({"src": _png(fig), "alt": alt, "caption": caption})

    def table(self, caption: str, frame: pd.DataFrame | None, columns=None) -> None:
        t = _table(frame, columns)
        if t is not None:
            self.tables.append({"caption": caption, **t})


def _anchor(text: str) -> str:
    keep = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(filter(None, keep.split("-"))) or "section"


# -- runs ---------------------------------------------------------------------------------------
def _identification_section(run: Any) -> _Section:
    s = _Section("Identification", "")
    e = run.spec.estimand
    s.paragraphs.append(
        f"Treatment {e.treatment}, outcome {e.outcome}"
        + (f", mediator {e.mediator}" if e.mediator else "")
        + f". Contrast {e.treatment} {run.contrast[0]:g} → {run.contrast[1]:g} (data units); "
        f"effects are changes in P({e.outcome}) averaged over the {run.n_obs} observed rows."
    )
    rows = []
    for name, ident in run.identification.items():
        d = ident.to_dict() if hasattr(ident, "to_dict") else dict(ident)
        kind = d.get("kind")
        identified = d.get("identified", kind is not None)
        how = KIND_WORDS.get(str(kind), str(kind)) if identified else "NOT identified"
        adj = d.get("adjustment_set")
        rows.append(
            {
                "effect": name,
                "identified": "yes" if identified else "NO",
                "how": how,
                "adjustment set": "{" + ", ".join(adj) + "}" if adj is not None else "",
            }
        )
        paths = list(d.get("open_paths") or [])
        if not identified:
            s.warnings.append(f"{name}: NOT identified by the DAG")
            s.warnings += [f"{name}: open path {p}" for p in paths]
        elif paths:
            s.paragraphs.append(
                f"{name}: paths the adjustment set leaves open, closed {how}: " + "; ".join(paths)
            )
        for a in d.get("assumptions") or []:
            if a not in s.items:
                s.items.append(a)
    s.table("How each effect is identified", pd.DataFrame(rows))
    for a in run.assumptions:
        s.warnings.append(f"assumed in the model file (estimand.assume), not shown by the DAG: {a}")
    if s.items:
        s.items_intro = "The estimates are causal only under these assumptions:"
    return s


def _diagnostics_section(run: Any) -> _Section:
    from embedcausal.plots import plot_diagnostics

    s = _Section("Sampler diagnostics", "")
    d = run.diagnostics
    th = d.thresholds
    post = run.idata["posterior"]
    s.paragraphs.append(
        f"{post.sizes['chain']} chains × {post.sizes['draw']} draws. Max R-hat "
        f"{_num(d.max_r_hat, 3)} (threshold ≤ {th['r_hat']:g}), min bulk ESS "
        f"{_num(d.min_ess_bulk, 0)} and min tail ESS {_num(d.min_ess_tail, 0)} (threshold "
        f"≥ {th['ess_bulk']:.0f}), {d.divergences} divergent transitions"
        + (f", min E-BFMI {_num(d.min_bfmi, 2)}" if d.min_bfmi is not None else "")
        + "."
    )
    if d.ok:
        s.good.append("All checks passed: the effects below rest on chains that agree.")
    else:
        s.warnings.append(
            "UNRELIABLE: the chains did not converge; do not read the effects below as results."
        )
        s.warnings += list(d.problems)
        s.items += list(d.advice)
    s.figure(
        lambda: plot_diagnostics(run),
        "trace and rank plots",
        "Parameters named by the diagnostics (or the lowest-ESS ones when all pass): trace per "
        "chain and rank histograms (uniform when the chains agree).",
    )
    return s


def _effects_section(run: Any, *, curve: bool, ppc: bool) -> _Section:
    from embedcausal.plots import plot_effect_curve, plot_effects, plot_ppc, posterior_predictive

    s = _Section("Effects", "")
    if run.effects is None:
        s.warnings.append("this run has no effects table")
        return s
    t = run.effects.copy()
    prob = float(t["hdi_prob"].iloc[0]) if "hdi_prob" in t else 0.9
    t["effect"] = [EFFECT_LABELS.get(x, x) for x in t["effect"]]
    t = t.rename(columns={"hdi_low": f"{prob:.0%} HDI low", "hdi_high": f"{prob:.0%} HDI high"})
    s.table(
        f"Effects of {run.spec.estimand.treatment} {run.contrast[0]:g} → {run.contrast[1]:g} "
        "(probability scale)",
        t,
        ["effect", "mean", "sd", f"{prob:.0%} HDI low", f"{prob:.0%} HDI high"],
    )
    if not run.diagnostics.ok:
        s.warnings.append("These effects are flagged unreliable (see the diagnostics).")
    s.figure(
        lambda: plot_effects(run, hdi_prob=prob),
        "effects forest plot",
        "Posterior mean and HDI of each effect (draws pooled over chains).",
    )
    if curve:
        s.figure(
            lambda: plot_effect_curve(run),
            "effect curve",
            "Effects of moving the treatment from the contrast's value to values across its "
            "observed range (g-computation on 200 posterior draws).",
        )
    if ppc:
        try:
            pp = posterior_predictive(run)
        except Exception as exc:  # a model that cannot be rebuilt should not sink the report
            s.warnings.append(f"posterior predictive check not drawn ({type(exc).__name__}: {exc})")
            return s
        groupings = list(run.prepared.group_codes)
        by = "mission" if "mission" in groupings else (groupings[0] if groupings else None)
        if by is not None:
            s.figure(
                lambda: plot_ppc(run, by=by, pp=pp),
                f"posterior predictive check by {by}",
                f"Observed rate per {by} against its 90% posterior predictive interval; "
                "the mediator against predictive histograms.",
            )
        s.figure(
            lambda: plot_ppc(run, by="country_group", pp=pp),
            "posterior predictive check by country group",
            "Countries in ten groups by predicted rate: observed against predicted.",
        )
    return s


def _run_section(name: str, run: Any, *, curve: bool, ppc: bool) -> _Section:
    from embedcausal.identification import node_roles
    from embedcausal.plots import plot_dag

    s = _Section(f"Run {name}: {run.spec.name}", _anchor(f"run-{name}"))
    status = "diagnostics ok" if run.diagnostics.ok else "diagnostics FAILED"
    s.paragraphs.append(
        f"Model file {run.spec.source}; {run.n_obs} rows; {status}; fitted with "
        + ", ".join(f"{k} {v}" for k, v in run.versions.items() if k in ("pymc", "nutpie"))
        + "."
    )
    if run.dropped:
        s.warnings.append(f"{len(run.dropped)} rows dropped for missing values")
    dag = _Section("Causal DAG", "")
    try:
        graph = run.spec.dag()
        dag.figure(
            lambda: plot_dag(graph, roles=node_roles(graph)),
            "causal DAG",
            "Latent nodes dashed; roles coloured (declared, and derived by the identification).",
        )
        dag.details.append(("DOT source of the DAG", graph.to_dot(roles=node_roles(graph))))
    except EmbedcausalError as exc:
        dag.warnings.append(f"DAG not drawn: {exc}")
    for part in (
        dag,
        _identification_section(run),
        _diagnostics_section(run),
        _effects_section(run, curve=curve, ppc=ppc),
    ):
        part.anchor = _anchor(f"{name}-{part.title}")
        s.subsections.append(part)
    return s


def _comparison_section(runs: Mapping[str, Any]) -> _Section:
    from embedcausal.compare import compare_runs
    from embedcausal.plots import plot_effects, plot_loo

    s = _Section("Mechanisms compared", "mechanisms-compared")
    s.paragraphs.append(
        "The rival mechanisms' effects side by side, and their out-of-sample predictive fit "
        "(PSIS-LOO; higher ELPD predicts better; differences smaller than about two standard "
        "errors do not separate the models)."
    )
    s.figure(lambda: plot_effects(dict(runs)), "effects of every run", "Effects side by side.")
    rows = []
    for name, r in runs.items():
        if r.effects is None:
            continue
        for rec in r.effects.itertuples(index=False):
            rows.append(
                {
                    "run": name,
                    "effect": EFFECT_LABELS.get(rec.effect, rec.effect),
                    "mean": rec.mean,
                    "hdi_low": rec.hdi_low,
                    "hdi_high": rec.hdi_high,
                }
            )
    s.table("Effects by run (probability scale)", pd.DataFrame(rows))
    try:
        comparison = compare_runs(dict(runs))
    except EmbedcausalError as exc:
        s.warnings.append(f"PSIS-LOO comparison not possible: {exc}")
        return s
    t = comparison.table.reset_index(names="model")
    s.table(
        "PSIS-LOO comparison",
        t,
        ["model", "rank", "elpd", "se", "elpd_diff", "dse", "p", "weight"],
    )
    for name, n in comparison.pareto_k.items():
        if n:
            s.warnings.append(
                f"{name}: {n} observation(s) with Pareto k > {comparison.good_k[name]:.2f}; "
                "LOO is unreliable for them"
            )
    s.figure(lambda: plot_loo(comparison), "PSIS-LOO comparison", "ELPD ± se and Pareto k.")
    return s


# -- sensitivity sweeps ------------------------------------------------------------------------
def _read_csv(path: Path, s: _Section) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        s.warnings.append(f"{path.name}: unreadable ({type(exc).__name__}); skipped")
        return None


def _read_json(path: Path, s: _Section) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        s.warnings.append(f"{path.name}: unreadable ({type(exc).__name__}); skipped")
        return None


def _sweep_section(name: str, d: Path) -> _Section:
    from embedcausal.plots import plot_confounding, tipping_line

    s = _Section(f"Sensitivity: {name}", _anchor(f"sensitivity-{name}"))
    meta = _read_json(d / "sensitivity.json", s)
    if isinstance(meta, dict) and meta.get("model"):
        s.paragraphs.append(f"Sensitivity analyses of {meta['model']} ({d}).")
    else:
        s.paragraphs.append(f"Sensitivity results found in {d}.")
    found = False
    table = _read_csv(d / "confounder.csv", s)
    if table is not None:
        found = True
        c = _Section("Latent confounder grid", _anchor(f"{name}-confounder"))
        c.paragraphs.append(
            "A latent confounder U (a disposition to cooperate) of fixed strength on the "
            "treatment and on the outcome is added and the model refitted at each grid point. "
            "The tipping line marks where the effect's interval starts to include 0; observed "
            "covariates at 1, 2 and 3 times their strength show how strong U would have to be."
        )
        bench = _read_csv(d / "confounder_benchmarks.csv", c)
        c.figure(
            lambda: plot_confounding(table, benchmarks=bench),
            "latent confounder contours",
            "Posterior mean of each effect over the confounder's strengths.",
        )
        try:
            for effect in ("total", "nde", "nie"):
                if (table["effect"] == effect).any():
                    tip = tipping_line(table, effect)
                    c.table(f"Tipping line of the {EFFECT_LABELS[effect]}", tip)
        except EmbedcausalError as exc:
            c.warnings.append(str(exc))
        c.table(
            "Grid",
            table,
            [
                "on_treatment",
                "on_mediator",
                "on_outcome",
                "effect",
                "mean",
                "hdi_low",
                "hdi_high",
                "excludes_zero",
                "reliable",
            ],
        )
        if "reliable" in table and not table["reliable"].astype(bool).all():
            c.warnings.append("some grid points did not converge (reliable = no)")
        s.subsections.append(c)
    ovb = _read_json(d / "ovb.json", s)
    if isinstance(ovb, dict):
        found = True
        s.subsections.append(_ovb_section(name, d, ovb))
    for fname, title in (
        ("power_scaling.csv", "Prior sensitivity (power-scaling)"),
        ("prior_sets.csv", "Effects under alternative priors"),
    ):
        t = _read_csv(d / fname, s)
        if t is not None:
            found = True
            p = _Section(title, _anchor(f"{name}-{fname}"))
            p.table(title, t)
            s.subsections.append(p)
    ref = _read_json(d / "refuters.json", s)
    if isinstance(ref, dict):
        found = True
        r = _Section("DoWhy refuters", _anchor(f"{name}-refuters"))
        r.paragraphs.append(
            f"Frequentist estimate {_num(ref.get('estimate'))} (se {_num(ref.get('std_error'))}, "
            f"{ref.get('estimator', '')}); refuters "
            + ("all passed." if ref.get("passed") else "did NOT all pass.")
        )
        if not ref.get("passed", True):
            r.warnings.append("at least one refuter failed")
        r.items += [str(n) for n in ref.get("notes", [])]
        if isinstance(ref.get("refuters"), list):
            r.table("Refuters", pd.DataFrame(ref["refuters"]))
        s.subsections.append(r)
    if not found:
        s.warnings.append("no sensitivity results in this directory yet")
    return s


def _ovb_section(name: str, d: Path, ovb: dict) -> _Section:
    o = _Section("Omitted-variable bias (Cinelli–Hazlett)", _anchor(f"{name}-ovb"))
    keys = ["estimate", "se", "t_stat", "dof", "partial_r2", "rv_q", "rv_qa", "q", "alpha"]
    o.table(
        f"Linear-probability estimate of {ovb.get('treatment', '?')} on {ovb.get('outcome', '?')}",
        pd.DataFrame([{k: ovb.get(k) for k in keys}]),
    )
    try:
        from matplotlib.figure import Figure

        from embedcausal.sensitivity.ovb import OVBResult

        res = OVBResult(
            **{k: ovb[k] for k in (*keys[:-2], "q", "alpha", "treatment", "outcome")},
            bounds=pd.DataFrame(ovb.get("bounds", [])),
            reduce=bool(ovb.get("reduce", True)),
        )
        o.pre.append(res.summary())

        def contour():
            fig = Figure(figsize=(6, 5), layout="constrained")
            res.contour(ax=fig.add_subplot())
            return fig

        o.figure(contour, "OVB contour", "Bias-adjusted estimate over confounder strengths.")
    except Exception as exc:  # an older or damaged ovb.json: show the stored picture instead
        src = _png_file(d / "ovb_contour.png")
        if src:
            o.figures.append({"src": src, "alt": "OVB contour", "caption": "ovb_contour.png"})
        else:
            o.warnings.append(f"OVB contour not drawn ({type(exc).__name__})")
    if isinstance(ovb.get("bounds"), list) and ovb["bounds"]:
        o.table("Benchmark bounds", pd.DataFrame(ovb["bounds"]))
    return o


# -- the page -----------------------------------------------------------------------------------
TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="embedcausal {{ version }}">
<title>{{ title }}</title>
<style>
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2125;
       margin: 0; background: #f6f7f9; }
header { background: #1b4f72; color: white; padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .3rem; font-size: 1.6rem; }
header p { margin: 0; opacity: .85; }
nav { background: white; border-bottom: 1px solid #dde1e6; padding: .6rem 2rem; }
nav a { margin-right: 1.2rem; color: #1b4f72; text-decoration: none; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 2rem 3rem; }
section.top { background: white; border: 1px solid #dde1e6; border-radius: 6px;
              padding: .5rem 1.5rem 1.2rem; margin: 1.2rem 0; }
h2 { color: #1b4f72; border-bottom: 2px solid #e3e8ee; padding-bottom: .2rem; }
h3 { color: #243b53; margin-top: 1.6rem; }
h4 { color: #334e68; }
.warn { background: #fff4e5; border-left: 5px solid #d9822b; padding: .5rem .9rem;
        margin: .5rem 0; }
.good { background: #e9f7ef; border-left: 5px solid #1e8449; padding: .5rem .9rem;
        margin: .5rem 0; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border: 1px solid #d9dee4; padding: .25rem .6rem; text-align: right; }
th { background: #eef2f6; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e8ee; background: white; }
figcaption { font-size: .85rem; color: #52606d; }
pre { background: #f0f3f6; padding: .6rem; overflow-x: auto; font-size: .8rem; }
footer { color: #7b8794; font-size: .8rem; text-align: center; padding: 1rem; }
</style>
</head>
<body>
<header><h1>{{ title }}</h1><p>{{ subtitle }}</p></header>
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}</nav>
<main>
{% macro body(s, level) %}
  {% for p in s.paragraphs %}<p>{{ p }}</p>{% endfor %}
  {% for g in s.good %}<div class="good">{{ g }}</div>{% endfor %}
  {% for w in s.warnings %}<div class="warn">⚠ {{ w }}</div>{% endfor %}
  {% for t in s.tables %}
  <table><caption>{{ t.caption }}</caption>
    <thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
    <tbody>{% for r in t.rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
    </tbody></table>
  {% endfor %}
  {% if s.items_intro %}<p>{{ s.items_intro }}</p>{% endif %}
  {% if s.items %}<ul>{% for i in s.items %}<li>{{ i }}</li>{% endfor %}</ul>{% endif %}
  {% for f in s.figures %}
  <figure><img src="{{ f.src }}" alt="{{ f.alt }}"><figcaption>{{ f.caption }}</figcaption></figure>
  {% endfor %}
  {% for p in s.pre %}<pre>{{ p }}</pre>{% endfor %}
  {% for summary, text in s.details %}
  <details><summary>{{ summary }}</summary><pre>{{ text }}</pre></details>
  {% endfor %}
  {% for sub in s.subsections %}
  <h{{ level }} id="{{ sub.anchor }}">{{ sub.title }}</h{{ level }}>
  {{ body(sub, level + 1) }}
  {% endfor %}
{% endmacro %}
{% for s in sections %}
<section class="top" id="{{ s.anchor }}">
<h2>{{ s.title }}</h2>
{{ body(s, 3) }}
</section>
{% endfor %}
</main>
<footer>Generated {{ generated }} by embedcausal {{ version }}. Self-contained: no scripts,
no network.</footer>
</body>
</html>
"""


def build_report(
    runs: Mapping[str, Any] | None = None,
    sweeps: Mapping[str, str | os.PathLike] | None = None,
    *,
    title: str | None = None,
    curve: bool = True,
    ppc: bool = True,
) -> str:
    """The report's HTML text.

    Parameters
    ----------
    runs : dict of str to Run, optional
        Runs by name (one section each; a comparison section when there are several).
    sweeps : dict of str to path, optional
        Sensitivity sweep directories by name.
    title : str, optional
    curve, ppc : bool
        Draw the effect curve and the posterior predictive checks (the slower figures).

    Raises
    ------
    ReportError
        If there is nothing to report.
    """
    import jinja2

    from embedcausal import __version__

    runs = dict(runs or {})
    sweeps = {k: Path(v) for k, v in (sweeps or {}).items()}
    if not runs and not sweeps:
        raise ReportError("nothing to report: expected at least one run or sweep directory")
    sections = [_run_section(n, r, curve=curve, ppc=ppc) for n, r in runs.items()]
    if len(runs) > 1:
        sections.append(_comparison_section(runs))
    sections += [_sweep_section(n, d) for n, d in sweeps.items()]
    if title is None:
        names = [r.spec.name for r in runs.values()] or list(sweeps)
        title = "embedcausal report: " + ", ".join(dict.fromkeys(names))
    parts = [f"{len(runs)} run(s)"] if runs else []
    if sweeps:
        parts.append(f"{len(sweeps)} sensitivity sweep(s)")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        title=title,
        subtitle="; ".join(parts),
        sections=sections,
        version=__version__,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    title: str | None = None,
    curve: bool = True,
    ppc: bool = True,
) -> Path:
    """Write one self-contained HTML report of run and sweep directories to ``out``.

    Parameters
    ----------
    paths : iterable of paths
        Run directories (``embedcausal fit --out``) and sensitivity sweep directories
        (``embedcausal sensitivity --out``), in the order to show them.
    out : path
        The ``.html`` file to write (atomically).
    title : str, optional
    curve, ppc : bool
        See :func:`build_report`.

    Returns
    -------
    Path

    Raises
    ------
    ReportError
        A path that is neither a run nor a sweep, an output that is not ``.html`` or whose
        directory does not exist.
    RunError
        A damaged run directory.
    """
    from embedcausal.runs import load_run

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"--out {out}: expected an .html file")
    if not out.parent.is_dir():
        raise ReportError(f"--out {out}: directory {str(out.parent)!r} not found")
    paths = [Path(p) for p in paths]
    if not paths:
        raise ReportError("nothing to report: expected at least one run or sweep directory")
    kinds = [classify(p) for p in paths]
    names = unique_names(paths)
    runs: dict[str, Any] = {}
    sweeps: dict[str, Path] = {}
    for p, kind, name in zip(paths, kinds, names, strict=True):
        if kind == "run":
            # the log-likelihood (for PSIS-LOO) only when there are runs to compare
            runs[name] = load_run(p, log_likelihood=kinds.count("run") > 1)
        else:
            sweeps[name] = p
    html = build_report(runs, sweeps, title=title, curve=curve, ppc=ppc)
    return atomic_write(out, lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))
