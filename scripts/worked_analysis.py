"""The worked analysis: every number and figure of docs/analysis.md from the shipped panel.

    python scripts/worked_analysis.py            # the model files' own sampler settings
    python scripts/worked_analysis.py --quick    # a few draws: to check the script, not the result

Uses only embedcausal's public API (``import embedcausal as ec``). Steps: the rival DAGs, what
each identifies and on which assumptions, a fit of each mechanism (models/institutional,
disposition, side_payment, personal, full) at its model file's ``[sampler]`` settings with its
diagnostics, the effects, PSIS-LOO among the mechanisms fitted to the same rows, and the
sensitivity analyses of models/sensitivity.toml. Runs are saved under ``--runs``
(``runs/analysis`` by default); ``--reuse`` loads finished ones instead of refitting (and resumes
the sensitivity sweep), so an interrupted build can be continued. Figures go to
docs/figures/analysis/ (PNG, 100 dpi) and the page to docs/analysis.md, written from
:data:`TEMPLATE` with every number filled in from the results.
"""

from __future__ import annotations

import argparse
import hashlib
import string
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# the page documents this checkout's package: run as a script, Python would otherwise import
# whichever embedcausal is installed (another checkout's editable install, say)
sys.path.insert(0, str(REPO))

import embedcausal as ec  # noqa: E402

PAGE = REPO / "docs" / "analysis.md"
FIGURES = REPO / "docs" / "figures" / "analysis"
FIG_REL = "figures/analysis"  # figure paths as the page (docs/analysis.md) refers to them
DPI = 100
HDI = 0.9
COMMAND = "python scripts/worked_analysis.py"

#: the rival mechanisms, in the order the page discusses them: key -> (model file, short label)
MECHANISMS = {
    "institutional": ("models/institutional.toml", "institutional ties (Henke)"),
    "disposition": ("models/disposition.toml", "disposition confounds (Poast 1)"),
    "personal": ("models/personal.toml", "personal ties mediate (Poast 2)"),
    "full": ("models/full.toml", "full model (main analysis)"),
    "side_payment": ("models/side_payment.toml", "side-payment channel"),
}
SENSITIVITY = "models/sensitivity.toml"
QUICK = {"draws": 100, "tune": 100, "chains": 2}


# -- formatting ---------------------------------------------------------------------------------
def num(x: float, digits: int = 3) -> str:
    """A number for the page: fixed decimals, a minus sign, 'n/a' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}".replace("-", "−")


def pct(x: float, digits: int = 0) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f} %"


def md_table(frame: pd.DataFrame) -> str:
    """A Markdown table of ``frame`` (values already formatted as text)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def bullets(items) -> str:
    return "\n".join(f"- {i}" for i in items)


def interval(row: pd.Series) -> str:
    """``mean [low, high]`` of an effects-table row."""
    return f"{num(row['mean'])} [{num(row['hdi_low'])}, {num(row['hdi_high'])}]"


def verdict(row: pd.Series) -> str:
    """Where the interval lies relative to 0, in words."""
    if row["hdi_low"] > 0:
        return "its 90 % interval lies above zero"
    if row["hdi_high"] < 0:
        return "its 90 % interval lies below zero"
    return "its 90 % interval includes zero"


def save(fig, name: str) -> str:
    """Save a figure under docs/figures/analysis/ and return the page's path to it."""
    import matplotlib.pyplot as plt

    ec.plots.save_figure(fig, FIGURES / name, dpi=DPI)
    plt.close(fig)  # figures drawn through pyplot (the OVB contour) are released too
    return f"{FIG_REL}/{name}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- the data -----------------------------------------------------------------------------------
def data_facts(panel: pd.DataFrame) -> dict[str, str]:
    """Size, coverage and the proxies' weaknesses, computed from the shipped CSV."""
    f: dict[str, str] = {}
    f["n_rows"] = str(len(panel))
    f["n_countries"] = str(panel["country"].nunique())
    f["n_missions"] = str(panel["mission"].nunique())
    missions = panel.drop_duplicates("mission")
    f["n_us_war"] = str(int((missions["mission_type"] == "us_war").sum()))
    f["n_un"] = str(int((missions["mission_type"] != "us_war").sum()))
    f["year_min"] = str(int(panel["mission_year"].min()))
    f["year_max"] = str(int(panel["mission_year"].max()))
    f["n_cold_war_missions"] = str(int((missions["era"] == "cold_war").sum()))
    f["particip_rate"] = pct(panel["participation"].mean(), 1)
    f["n_particip"] = str(int(panel["participation"].sum()))
    ties = panel["inst_ties"]
    f["ties_min"], f["ties_max"] = str(int(ties.min())), str(int(ties.max()))
    f["ties_p25"], f["ties_p75"] = num(ties.quantile(0.25), 0), num(ties.quantile(0.75), 0)
    f["ties_within_share"] = pct(within_share(panel, "inst_ties"))

    ex = panel["exercises_us_5y"]
    has = panel[ex.notna()]
    f["ex_rows"] = str(int(ex.notna().sum()))
    f["ex_missing"] = str(int(ex.isna().sum()))
    f["ex_year_min"] = str(int(has["mission_year"].min()))
    f["ex_year_max"] = str(int(has["mission_year"].max()))
    f["ex_missions"] = str(has["mission"].nunique())
    f["ex_zero"] = pct((has["exercises_us_5y"] == 0).mean())
    f["ex_median"] = num(has["exercises_us_5y"].median(), 0)
    f["ex_max"] = num(has["exercises_us_5y"].max(), 0)
    f["ex_within_share"] = pct(within_share(has, "exercises_us_5y"))
    f["ex_corr_ties"] = num(has[["exercises_us_5y", "inst_ties"]].corr("spearman").iloc[0, 1], 2)
    dropped = sorted(set(panel["mission"]) - set(has["mission"]))
    f["ex_dropped_missions"] = ", ".join(dropped)

    dip = panel["dipex_us"]
    f["dip_missing"] = str(int(dip.isna().sum()))
    f["dip_one"] = pct((dip.dropna() == 1).mean())
    f["dip_corr_ties"] = num(panel[["dipex_us", "inst_ties"]].corr("spearman").iloc[0, 1], 2)
    f["aid_missing"] = str(int(panel["us_aid_change"].isna().sum()))
    f["troops_missing"] = str(int(panel["us_troops"].isna().sum()))
    return f


def within_share(frame: pd.DataFrame, column: str) -> float:
    """Share of a column's variance that lies within countries (the rest is between them)."""
    x = frame[column].astype(float)
    within = x - x.groupby(frame["country"]).transform("mean")
    total = x.var(ddof=0)
    return float(within.var(ddof=0) / total) if total > 0 else float("nan")


# -- identification -----------------------------------------------------------------------------
def identification_rows(key: str, d) -> list[dict[str, str]]:
    rows = []
    for effect, ident in d.identification.items():
        rows.append(
            {
                "model": f"`{key}`",
                "effect": effect,
                "identified": "yes" if ident.identified else "**no**",
                "how": ident.kind or "—",
                "adjustment set": ", ".join(ident.adjustment_set or ()) or "—",
                "within": ident.within_group or "—",
                "backdoor paths left open": "; ".join(f"`{p}`" for p in ident.open_paths) or "—",
            }
        )
    return rows


def assumptions_text(key: str, d) -> str:
    """The assumptions of every identified effect of one model, each once, in words."""
    seen: list[str] = []
    for ident in d.identification.values():
        for a in (*ident.assumptions, *ident.notes):
            if a not in seen:
                seen.append(a)
    seen += [a for a in d.assumptions if a not in seen]
    return f"**`{key}`** ({d.spec.name}):\n\n" + bullets(seen)


# -- fits ---------------------------------------------------------------------------------------
def settings_of(spec, quick: bool) -> dict[str, int]:
    if quick:
        return dict(QUICK, seed=spec.sampler.seed)
    s = spec.sampler
    return {"draws": s.draws, "tune": s.tune, "chains": s.chains, "seed": s.seed}


def saved_settings(run) -> dict[str, int]:
    s = run.spec.sampler
    return {"draws": s.draws, "tune": s.tune, "chains": s.chains, "seed": s.seed}


def fit_or_load(key: str, d, settings: dict[str, int], runs_dir: Path, reuse: bool):
    """Fit one mechanism (or load the saved run when ``reuse`` and its settings match)."""
    target = runs_dir / key
    if reuse and (target / "run.json").is_file():
        run = ec.load_run(target)
        if saved_settings(run) == settings and run.complete:
            log(f"{key}: reusing {target}")
            return run
        log(f"{key}: saved run has other settings ({saved_settings(run)}); refitting")
    log(f"{key}: fitting with {settings}")
    t0 = time.perf_counter()
    run = ec.fit(d, progress=False, **settings)
    run.timings["wall"] = time.perf_counter() - t0
    run.save(target, overwrite=True)
    log(f"{key}: done in {run.timings['wall']:.0f} s; {run.diagnostics.summary().splitlines()[0]}")
    return run


def diagnostics_row(key: str, run) -> dict[str, str]:
    g = run.diagnostics
    post = run.idata["posterior"]
    return {
        "model": f"`{key}`",
        "rows": str(run.n_obs),
        "chains × draws": f"{post.sizes['chain']} × {post.sizes['draw']}",
        "max R-hat": num(g.max_r_hat, 3),
        "min bulk ESS": num(g.min_ess_bulk, 0),
        "min tail ESS": num(g.min_ess_tail, 0),
        "divergences": str(g.divergences),
        "min BFMI": num(g.min_bfmi, 2) if g.min_bfmi is not None else "n/a",
        "checks": "pass" if g.ok else "**fail**",
    }


def effects_rows(key: str, run) -> list[dict[str, str]]:
    e = run.effects.set_index("effect")
    rows = []
    for effect in ("total", "nde", "nie", "prop_mediated"):
        if effect in e.index:
            r = e.loc[effect]
            rows.append(
                {
                    "model": f"`{key}`",
                    "effect": effect,
                    "mean": num(r["mean"]),
                    "90 % HDI": f"[{num(r['hdi_low'])}, {num(r['hdi_high'])}]",
                    "sd": num(r["sd"]),
                    "reliable": "yes" if r["reliable"] else "no",
                }
            )
    if "p_nie_gt_nde" in e.index:
        rows.append(
            {
                "model": f"`{key}`",
                "effect": "P(NIE > NDE), signed",
                "mean": num(e.loc["p_nie_gt_nde", "mean"], 2),
                "90 % HDI": "",
                "sd": "",
                "reliable": "yes" if e.loc["p_nie_gt_nde", "reliable"] else "no",
            }
        )
    return rows


def mediator_column(d) -> str | None:
    m = d.spec.estimand.mediator
    return d.spec.column(m) if m else None


def effects_note(designs: dict) -> str:
    """Which mediator each NDE/NIE is about, and which effects are within-country ones."""
    meds = []
    for key, d in designs.items():
        m = d.spec.estimand.mediator
        if m:
            meds.append(f"`{key}`: `{m}` = `{d.spec.column(m)}`")
    split = [
        f"`{k}`"
        for k, d in designs.items()
        if d.spec.estimand.treatment in d.spec.model.within_between
    ]
    text = "NDE and NIE are relative to each model's own mediator (" + "; ".join(meds) + ")."
    if split:
        text += (
            f" In {', '.join(split)} the treatment is split into its country mean and the "
            "deviation from it; setting it moves only the deviation, so their effects are "
            "within-country effects (see [models](models.md))."
        )
    return text


def observation_groups(runs: dict) -> list[list[str]]:
    """Runs fitted to the same observations (rows and outcome values), in ``runs`` order."""
    groups: dict[str, list[str]] = {}
    for key, run in runs.items():
        obs = run.idata["observed_data"][run.spec.estimand.outcome]
        h = hashlib.sha256("\x1f".join(map(str, obs["obs"].values)).encode())
        h.update(np.asarray(obs.values, dtype=np.int64).tobytes())
        groups.setdefault(h.hexdigest(), []).append(key)
    return list(groups.values())


def loo_frame(comparison) -> pd.DataFrame:
    """ELPD, its se, the difference to the best and the se of that difference, unrounded.

    Computed from the comparison's pointwise PSIS-LOO values (ArviZ's table rounds them).
    """
    loo = comparison.loo
    elpd = {k: float(v.elpd) for k, v in loo.items()}
    order = sorted(elpd, key=elpd.get, reverse=True)
    best = np.asarray(loo[order[0]].elpd_i).ravel()
    rows = []
    for rank, name in enumerate(order, 1):
        diff = np.asarray(loo[name].elpd_i).ravel() - best
        rows.append(
            {
                "rank": rank,
                "model": name,
                "elpd": elpd[name],
                "se": float(loo[name].se),
                "p_loo": float(loo[name].p),
                "elpd_diff": elpd[name] - elpd[order[0]],
                "dse": float(np.sqrt(diff.size * np.var(diff))),
                "weight": float(comparison.table.loc[name, "weight"]),
                "bad_k": comparison.pareto_k[name],
                "good_k": comparison.good_k[name],
            }
        )
    return pd.DataFrame(rows)


def loo_table(comparison) -> str:
    t = loo_frame(comparison)
    rows = [
        {
            "rank": str(r.rank),
            "model": f"`{r.model}`",
            "ELPD": num(r.elpd, 1),
            "se": num(r.se, 1),
            "p_loo": num(r.p_loo, 1),
            "Δ ELPD to best": num(r.elpd_diff, 1),
            "se of Δ": num(r.dse, 1),
            "stacking weight": num(r.weight, 2),
            "obs. with high Pareto k": f"{r.bad_k} (k > {num(r.good_k, 2)})",
        }
        for r in t.itertuples(index=False)
    ]
    return md_table(pd.DataFrame(rows))


def loo_words(comparison) -> str:
    t = loo_frame(comparison)
    best, second = t.iloc[0], t.iloc[1]
    gap = abs(second.elpd_diff)
    if second.dse > 0 and gap > 2 * second.dse:
        strength = "more than twice the standard error of the difference: LOO prefers it"
    else:
        strength = "within two standard errors of the difference: LOO does not tell them apart"
    bad = int(t["bad_k"].sum())
    k_note = (
        "every Pareto k is below its threshold, so the estimates are reliable"
        if bad == 0
        else f"{bad} observation(s) in all have Pareto k above the threshold, so the LOO "
        "estimates are unreliable for them and the differences should be read with care"
    )
    return (
        f"`{best.model}` ranks first; `{second.model}` is {num(gap, 1)} ELPD behind (se of the "
        f"difference {num(second.dse, 1)}), "
        f"{strength.replace('prefers it', f'prefers `{best.model}`')}; {k_note}."
    )


# -- the page -----------------------------------------------------------------------------------
TEMPLATE = """\
# Worked analysis: personal ties or institutional counts?

<!-- Generated by {command}: do not edit by hand; edit the script's TEMPLATE and rerun. -->

Every number and figure on this page is computed by one command from the shipped panel
(`data/coalition_panel.csv`) and the model files in `models/`:

```bash
{command_line}
```

{settings_note}

The question is the one of the [concepts page](concepts.md): Henke finds that countries with
more institutional ties to the US join US-led coalitions more often; Poast asks whether a latent
**disposition to cooperate** drives both (gap 1) and whether **personal ties** between diplomats
and officers, rather than the count of institutional opportunities, do the work (gap 2). Each
rival answer is a model file; this page runs all of them on the same panel.

## 1. The data

The panel (`data/README.md` gives every source and coding rule) has **{n_rows} country ×
mission rows**: {n_countries} countries and {n_missions} missions ({n_us_war} US wars as COW codes
them and {n_un} UN peace operations), mission years {year_min}–{year_max}. Only
{n_cold_war_missions} missions fall in the Cold War. The outcome, `participation` (sent a formed
unit; {n_particip} rows, {particip_rate}), under-counts observers and staff officers. The
treatment `inst_ties` (IGOs in which the country and the US are both full members) runs from
{ties_min} to {ties_max}; every effect below is the change in the probability of participation
when it moves from its 25th to its 75th percentile, **{ties_p25} → {ties_p75} ties**. Only
{ties_within_share} of its variance lies within countries; the rest is between them.

The proxies for personal ties are weak, and each in its own way:

- **Joint military exercises** (`exercises_us_5y`, MME: exercises with the US in the five
  years before the mission; the mediator of {ex_models}). MME covers
  1980–2010, so the proxy exists only for this panel's missions of {ex_year_min}–{ex_year_max}
  ({ex_rows} rows of {ex_missions} missions); {ex_missing} rows are lost ({ex_dropped_missions}),
  among them both Cold War wars, so the mediation models say nothing about the Cold War. Where
  it exists it is 0 in {ex_zero} of the rows (median {ex_median}, maximum {ex_max}); it counts
  military-to-military contact, not the diplomats Poast has in mind; its Spearman correlation
  with `inst_ties` is {ex_corr_ties}, and {ex_within_share} of its variance is within countries.
- **Diplomatic representation** (`dipex_us`, COW Diplomatic Exchange; {dip_use})
  is 1 in {dip_one} of its non-missing rows, missing in {dip_missing} rows, and its last wave is
  2005: it barely varies, so it cannot carry a mechanism (its Spearman correlation with
  `inst_ties` is {dip_corr_ties}).
- The side-payment proxy (`us_aid_change`, change in log US aid around the mission year;
  {aid_missing} rows missing) measures total aid, not a deal's price; `us_troops` (hierarchy) is
  missing in {troops_missing} rows.

## 2. The rival mechanisms as DAGs

Latent nodes are dashed; colours mark the roles (treatment, mediator, outcome, confounders).

{dag_figures}

## 3. What is identified, and on what assumptions

`embedcausal identify` (DoWhy, checked against the graph) for each model file:

{identification_table}

In words, what each identification relies on (the assumptions the data cannot check):

{assumptions}

## 4. Fits and their convergence

Each mechanism is fitted at its model file's own `[sampler]` settings; `missing = "drop"` drops
the rows where a column the model uses is missing, hence the different numbers of rows.

{diagnostics_table}

{diagnostics_words}

Trace and rank plots of the parameters the diagnostics name (or of the lowest-ESS ones when
every check passed), for the main analysis (`full`):

![diagnostics of the full model]({fig_diagnostics})

Posterior predictive check of the main analysis: participation by mission and the mediator
(joint exercises) against their predictive intervals.

![posterior predictive check of the full model]({fig_ppc})

## 5. Effects

Change in P(participation) when `inst_ties` moves {ties_p25} → {ties_p75}: posterior mean and
90 % highest-density interval (HDI). "reliable" is no when the fit's diagnostics failed.

{effects_table}

{effects_note}

![effects of the rival mechanisms]({fig_effects})

The total effect of the main analysis along the range of `inst_ties` (from its p25 to each
value), with the NDE and NIE:

![effect curve of the full model]({fig_curve})

## 6. Comparing the mechanisms (PSIS-LOO)

PSIS-LOO compares models fitted to the same observations only. The mechanisms fall into
{n_loo_groups} group(s) of identical rows:

{loo_sections}

LOO measures how well each model predicts participation, not whether its causal story is
true: models with the same predictors for participation predict almost equally well whatever
their DAG says, so a small ELPD difference is no evidence for one mechanism over another.

## 7. Sensitivity analyses

{sensitivity_section}

## 8. What these data can and cannot say

{conclusion}

What the data cannot say, whatever the fits show:

- **Personal ties are not measured.** Joint exercises are contacts between militaries, not
  the diplomats of Poast's argument, and exist only for missions of
  {ex_year_min}–{ex_year_max}; diplomatic representation is 1 in {dip_one} of its non-missing
  rows. A null NIE through these proxies is a null for the proxies, not for personal ties.
- **The within-country identification rests on little variation.** `disposition` and `full`
  identify the effect from changes of `inst_ties` within a country ({ties_within_share} of its
  variance) over a few mission years, and assume the disposition does not change over those
  years.
- **The outcome is not Henke's.** {n_us_war} US wars and {n_un} UN operations (not US-led, no
  non-war US coalitions), {n_missions} missions in all; long UN operations measure covariates
  at the mission's start but participation in any later year (see `data/README.md`).
- **No claim about the Cold War** from the mediation models ({n_cold_war_missions} Cold War
  missions, both outside the exercises data).
"""


#: section 7, filled from models/sensitivity.toml's results
SENSITIVITY_TEMPLATE = """\
`models/sensitivity.toml` takes Henke's claim at its word (`{sens_treatment}` →
`{sens_outcome}`, adjusting for {sens_adjustment}; {sens_rows} rows) and asks how much it takes
to explain it away. Its own estimate: total effect {sens_total}.

### Latent confounder grid

A latent confounder of standardised strength *on treatment* and *on outcome* is added to the
model and every grid point is refitted ({sens_grid_n} points; {sens_settings}),
but the points where U does not reach the outcome (*on outcome* 0) share one fit: there
the effect does not depend on the strength on the treatment. Benchmarks place observed
covariates ({sens_benchmarks}) at 1, 2 and 3 × their own strength.

![latent confounder contour]({fig_confounder})

{confounder_words}

{tipping_table}

### Omitted-variable bias (Cinelli–Hazlett, linear probability model)

{ovb_words}

{ovb_table}

![OVB contour]({fig_ovb})

### Priors

{priors_section}

### DoWhy refuters

{refuters_words}

{refuters_table}
"""


def fields_of(template: str) -> set[str]:
    """The ``{name}`` fields a template asks for."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def render(values: dict[str, str], template: str = TEMPLATE) -> str:
    """Fill ``template``; every field must be given and every value used."""
    wanted = fields_of(template)
    missing, extra = wanted - set(values), set(values) - wanted
    if missing or extra:
        raise KeyError(f"template fields missing: {sorted(missing)}; unused: {sorted(extra)}")
    return template.format(**values)


# -- sensitivity words ------------------------------------------------------------------------
def confounder_words(res) -> tuple[str, str]:
    tip = res.tipping_point("total")
    rows = []
    for r in tip.itertuples(index=False):
        rows.append(
            {
                "confounder → treatment": num(r.on_treatment, 2),
                "smallest confounder → outcome whose interval includes 0": (
                    "none in the grid" if pd.isna(r.on_outcome) else num(r.on_outcome, 2)
                ),
            }
        )
    bench = res.benchmarks
    parts = [
        f"`{b.benchmark}` is as strong as ({num(b.on_treatment, 2)} on treatment, "
        f"{num(b.on_outcome, 2)} on outcome)"
        for b in bench.itertuples(index=False)
    ]
    t = res.table[res.table["effect"] == "total"]
    n_inc = int((~t["excludes_zero"]).sum())
    n_unrel = int((~t["reliable"].astype(bool)).sum()) if "reliable" in t else 0
    words = (
        f"Of the {len(t)} grid points, the total effect's interval includes zero at {n_inc}; "
        f"{n_unrel} grid fit(s) failed a convergence check. "
        "Per SD of the covariate, " + "; ".join(parts) + ". "
    )
    # a stronger confounder should not leave a larger effect: say so where the grid disagrees
    rising = [
        num(y, 1)
        for y, g in t[t["on_outcome"] > 0].groupby("on_outcome")
        if (np.diff(g.sort_values("on_treatment")["mean"].to_numpy()) > 0).any()
    ]
    if rising:
        words += (
            "The grid is not monotone: at confounder → outcome = "
            + ", ".join(rising)
            + " the effect grows again as the confounder's strength on the treatment grows: "
            "the treatment pins U near its group-level residual (given the adjustment set) "
            "divided by that strength, so a stronger link to the treatment leaves U, and its "
            "pull on the outcome, smaller (see [sensitivity](sensitivity.md))"
            + (
                " — with every grid fit failing a convergence check, read the grid as "
                "indicative only. "
                if n_unrel == len(t)
                else ". "
            )
        )
    if n_inc == 0:
        top = t.sort_values(["on_treatment", "on_outcome"]).iloc[-1]
        low = t.loc[t["mean"].idxmin()]
        words += (
            "No confounder in the grid (up to "
            f"{num(t['on_treatment'].max(), 1)} on treatment and {num(t['on_outcome'].max(), 1)} "
            "on outcome) explains the effect away: at the strongest point it is "
            f"{interval(top)}, and its smallest posterior mean in the grid, at "
            f"({num(low['on_treatment'], 1)}, {num(low['on_outcome'], 1)}), is {interval(low)}. "
            "A disposition to cooperate stronger than the grid is not ruled out by the data."
        )
    else:
        words += (
            "The table gives, for each strength on the treatment, the smallest strength on the "
            "outcome at which the interval includes zero; whether a disposition to cooperate is "
            "that strong is what the panel cannot say."
        )
    return words, md_table(pd.DataFrame(rows))


def ovb_parts(o) -> tuple[str, str]:
    words = (
        f"OLS estimate of the coefficient of `{o.treatment}` {num(o.estimate, 4)} (se "
        f"{num(o.se, 4)}, t {num(o.t_stat, 2)}, {o.dof} degrees of freedom). Robustness value "
        f"RV = {pct(o.rv_q, 1)}: a confounder explaining more than that share of the residual "
        f"variance of both `{o.treatment}` and `{o.outcome}` would explain the estimate away; "
        f"RV(α = {o.alpha:g}) = {pct(o.rv_qa, 1)} would make its {pct(1 - o.alpha)} interval "
        f"include zero. The treatment explains {pct(o.partial_r2, 2)} of the outcome's residual "
        "variance."
    )
    b = o.bounds
    rows = [
        {
            "bound": r["bound_label"],
            "R²(D~Z|X)": num(r["r2dz_x"], 4),
            "R²(Y~Z|D,X)": num(r["r2yz_dx"], 4),
            "adjusted estimate": num(r["adjusted_estimate"], 4),
            "adjusted interval": f"[{num(r['adjusted_lower'], 4)}, {num(r['adjusted_upper'], 4)}]",
        }
        for _, r in b.iterrows()
    ]
    return words, md_table(pd.DataFrame(rows)) if rows else "(no benchmark bounds)"


def priors_section(res) -> str:
    parts = []
    if res.power_scaling is not None:
        ps = res.power_scaling
        parts.append(
            "Power-scaling of the prior and likelihood (each row a parameter or effect):\n\n"
            + md_table(ps.map(lambda v: num(v, 3) if isinstance(v, float) else str(v)))
        )
    if res.prior_sets is not None:
        t = res.prior_sets[res.prior_sets["effect"] == "total"]
        rows = [
            {
                "prior set": r["prior_set"],
                "total effect": interval(r),
                "reliable": "yes" if r["reliable"] else "no",
            }
            for _, r in t.iterrows()
        ]
        parts.append(
            "The total effect under the model file's alternative prior sets:\n\n"
            + md_table(pd.DataFrame(rows))
        )
    return "\n\n".join(parts) or "No prior analysis is set in the model file."


def refuters_parts(r) -> tuple[str, str]:
    t0, t1 = r.contrast
    words = (
        f"DoWhy's refuters test a frequentist twin of the estimate ({r.estimator}; "
        f"{r.n_obs} rows): total effect {num(r.estimate)} (se {num(r.std_error)}) for "
        f"{num(t0, 0)} → {num(t1, 0)} ties, {r.simulations} simulations each. "
        + ("Every refuter passes." if r.passed else "**Not every refuter passes.**")
        + " Passing them shows the estimate is not an artefact of the estimator or of a few "
        "rows; it says nothing about an unobserved disposition."
    )
    rows = [
        {
            "refuter": x.refuter,
            "new effect": num(x.new_effect),
            "expected": x.expected,
            "DoWhy p": "" if pd.isna(x.p_value) else num(x.p_value, 3),
            "result": "pass" if x.passed else "**fail**",
        }
        for x in r.table.itertuples(index=False)
    ]
    return words, md_table(pd.DataFrame(rows))


def side(row: pd.Series) -> int:
    """+1 when the 90 % interval lies above zero, -1 below, 0 when it includes zero."""
    return 1 if row["hdi_low"] > 0 else -1 if row["hdi_high"] < 0 else 0


def conclusion(runs: dict, sens) -> str:
    """What the effects support, stated from the numbers (each claim follows one of them)."""

    def row(key: str, effect: str) -> pd.Series | None:
        e = runs[key].effects.set_index("effect")
        return e.loc[effect] if effect in e.index else None

    out = []
    inst = row("institutional", "total")
    head = {
        1: "Under Henke's own DAG, more ties go with more participation.",
        0: "Under Henke's own DAG the panel shows no clear effect of ties.",
        -1: "Under Henke's own DAG, more ties go with less participation.",
    }[side(inst)]
    out.append(f"- **{head}** `institutional`: total effect {interval(inst)}; {verdict(inst)}.")
    disp = row("disposition", "total")
    out.append(
        "- **Within countries**, where a disposition constant over the panel cancels out, "
        f"`disposition` estimates {interval(disp)}; {verdict(disp)}. Under that DAG (no effect "
        "of ties) it should be near zero"
        + (
            ", so the within-country association contradicts a disposition that is constant "
            "within country and the only link between ties and participation; a disposition "
            "that changes over time is not ruled out."
            if side(disp)
            else "; the data do not contradict the pure-disposition story."
        )
    )
    for key, via in (("personal", "joint exercises"), ("full", "joint exercises, within country")):
        nde, nie, p = row(key, "nde"), row(key, "nie"), row(key, "p_nie_gt_nde")
        out.append(
            f"- **Through personal ties ({via})**, `{key}`: NIE {interval(nie)} ({verdict(nie)}); "
            f"NDE {interval(nde)} ({verdict(nde)}); P(NIE > NDE), signed, = "
            f"{num(p['mean'], 2)}."
        )
    nies = [row(k, "nie") for k in ("personal", "full")]
    ndes = [row(k, "nde") for k in ("personal", "full")]
    if all(side(n) == 0 for n in nies) and all(side(n) == 1 for n in ndes):
        out.append(
            "- **So, personal ties versus institutional counts:** through the only usable "
            "proxy, joint exercises, the indirect effect is indistinguishable from zero and "
            f"bounded near it (upper 90 % bounds {num(nies[0]['hdi_high'])} and "
            f"{num(nies[1]['hdi_high'])}), while the direct effect of the count stays above "
            "zero. These data favour the count over mediation through exercises; they cannot "
            "speak to personal ties between diplomats, which they do not measure."
        )
    elif any(side(n) == 1 for n in nies):
        shares = "; ".join(
            f"`{k}` {interval(row(k, 'prop_mediated'))}" for k in ("personal", "full")
        )
        out.append(
            "- **So, personal ties versus institutional counts:** part of the effect runs "
            f"through joint exercises (proportion mediated {shares}); whether exercises stand "
            "for the personal ties Poast means is not something the panel can show."
        )
    else:
        out.append(
            "- **So, personal ties versus institutional counts:** the intervals of the direct "
            "and indirect effects do not separate the two; the data cannot decide between them."
        )
    sp_nie = row("side_payment", "nie")
    out.append(
        f"- **Through side-payments** (change in US aid), `side_payment`: NIE {interval(sp_nie)}; "
        f"{verdict(sp_nie)}; the proportion mediated is "
        f"{interval(row('side_payment', 'prop_mediated'))}."
    )
    bad = [k for k, r in runs.items() if not r.diagnostics.ok]
    out.append(
        "- **Convergence**: "
        + (
            "every fit passes its diagnostics."
            if not bad
            else ", ".join(f"`{k}`" for k in bad)
            + " fail(s) a diagnostic (section 4): their intervals are less trustworthy than "
            "their widths suggest."
        )
    )
    if sens is not None and sens.ovb is not None:
        o = sens.ovb
        b = o.bounds.dropna(subset=["adjusted_lower"])
        held = [r["bound_label"] for _, r in b.iterrows() if r["adjusted_lower"] > 0]
        lost = [r["bound_label"] for _, r in b.iterrows() if not r["adjusted_lower"] > 0]
        text = (
            f"- **Sensitivity**: a confounder explaining {pct(o.rv_q, 1)} of the residual "
            "variance of both ties and participation would explain the linear-probability "
            f"estimate of the institutional effect away ({pct(o.rv_qa, 1)} would make its "
            "interval include zero). "
        )
        t = sens.confounder.table
        t = t[t["effect"] == "total"]
        n_inc = int((~t["excludes_zero"]).sum())
        text += (
            f"In the latent-confounder grid the interval includes zero at {n_inc} of "
            f"{len(t)} points (strengths up to {num(t['on_treatment'].max(), 1)} on treatment "
            f"and {num(t['on_outcome'].max(), 1)} on outcome"
            + (
                "; every grid fit failed a convergence check, so this is indicative only). "
                if "reliable" in t and not t["reliable"].astype(bool).any()
                else "). "
            )
        )
        if held:
            text += (
                f"In the OVB bounds, confounders as strong as {', '.join(held)} leave the "
                "estimate's interval above zero. "
            )
        if lost:
            text += f"Confounders as strong as {', '.join(lost)} would not. "
        text += "Whether a disposition to cooperate is that strong, the panel cannot say."
        out.append(text)
    if sens is not None and sens.prior_sets is not None:
        t = sens.prior_sets[sens.prior_sets["effect"] == "total"]
        lo, hi = t["mean"].idxmin(), t["mean"].idxmax()
        text = (
            "- **Priors**: across the prior sets the institutional total effect's posterior mean "
            f"runs from {num(t.loc[lo, 'mean'])} (`{t.loc[lo, 'prior_set']}`) to "
            f"{num(t.loc[hi, 'mean'])} (`{t.loc[hi, 'prior_set']}`)."
        )
        ps = sens.power_scaling
        if ps is not None:
            flagged = ps[ps["diagnosis"].astype(str).str.strip().ne("✓")]
            for r in flagged.itertuples(index=False):
                text += (
                    f" Power-scaling flags the {r.effect} effect: {r.diagnosis} (prior "
                    f"sensitivity {num(r.prior, 2)}, likelihood sensitivity "
                    f"{num(r.likelihood, 2)})."
                )
        out.append(text)
    return "\n".join(out)


def sensitivity_section(sd, sens, over: dict[str, int]) -> str:
    """Section 7 from the results of ``run_sensitivity`` on ``models/sensitivity.toml``."""
    v: dict[str, str] = {}
    ident = sd.identification["total"]
    v["sens_treatment"], v["sens_outcome"] = ident.treatment, ident.outcome
    v["sens_adjustment"] = ", ".join(f"`{a}`" for a in ident.adjustment_set or ())
    v["sens_rows"] = str(sd.n_obs)
    ss = dict(settings_of(sd.spec, False), **over)
    v["sens_settings"] = f"{ss['chains']} chains × {ss['draws']} draws after {ss['tune']} tuning"
    base = sens.prior_sets
    base_total = base[(base["prior_set"] == "base") & (base["effect"] == "total")].iloc[0]
    v["sens_total"] = (
        interval(base_total)
        + f" ({verdict(base_total)}; the fit "
        + ("passes" if base_total["reliable"] else "**fails**")
        + " its convergence checks at these settings)"
    )
    c = sens.confounder
    v["sens_grid_n"] = str(len(c.table[c.table["effect"] == "total"]))
    v["sens_benchmarks"] = ", ".join(f"`{b}`" for b in c.benchmarks["benchmark"])
    v["fig_confounder"] = save(ec.plot_confounding(c), "confounder.png")
    v["confounder_words"], v["tipping_table"] = confounder_words(c)
    v["ovb_words"], v["ovb_table"] = ovb_parts(sens.ovb)
    v["fig_ovb"] = save(sens.ovb.contour().figure, "ovb.png")
    v["priors_section"] = priors_section(sens)
    v["refuters_words"], v["refuters_table"] = refuters_parts(sens.refuters)
    return render(v, SENSITIVITY_TEMPLATE)


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few draws: check the script only")
    p.add_argument("--runs", default="runs/analysis", help="where runs and sweeps are saved")
    p.add_argument("--reuse", action="store_true", help="load finished runs, resume the sweep")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for the sweeps")
    p.add_argument("--no-sensitivity", action="store_true", help="skip models/sensitivity.toml")
    for name in ("draws", "tune", "chains"):
        p.add_argument(
            f"--sens-{name}",
            type=int,
            help=f"override the sensitivity model file's {name} (stated on the page)",
        )
    args = p.parse_args(argv)
    runs_dir = REPO / args.runs
    FIGURES.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=FutureWarning)

    v: dict[str, str] = {"command": COMMAND}
    over = {k: getattr(args, f"sens_{k}") for k in ("draws", "tune", "chains")}
    over = dict(QUICK) if args.quick else {k: n for k, n in over.items() if n is not None}
    flags = " --quick" if args.quick else "".join(f" --sens-{k} {n}" for k, n in over.items())
    v["command_line"] = COMMAND + flags
    panel = pd.read_csv(REPO / "data" / "coalition_panel.csv")
    v.update(data_facts(panel))

    designs = {k: ec.design(REPO / path) for k, (path, _) in MECHANISMS.items()}
    dag_lines, ident_rows, assumptions = [], [], []
    for key, d in designs.items():
        fig = ec.plot_dag(d.spec.dag())
        dag_lines.append(
            f"**`{key}`** — {d.spec.name}: {d.spec.description}\n\n"
            f"![DAG of {key}]({save(fig, f'dag_{key}.png')})"
        )
        ident_rows += identification_rows(key, d)
        assumptions.append(assumptions_text(key, d))
    v["dag_figures"] = "\n\n".join(dag_lines)
    v["ex_models"] = ", ".join(
        f"`{k}`" for k, d in designs.items() if mediator_column(d) == "exercises_us_5y"
    )
    sp = designs["side_payment"]
    dip_node = [n for n, c in sp.spec.data.columns.items() if c == "dipex_us"]
    dip_rows = int(panel["dipex_us"].notna().sum())
    v["dip_use"] = (
        f"`{dip_node[0]}` in `side_payment`'s DAG"
        + (
            f", but its fit does not use it: it keeps {sp.n_obs} rows, more than the {dip_rows} "
            "where `dipex_us` is observed"
            if sp.n_obs > dip_rows
            else ""
        )
        if dip_node
        else "in no model file"
    )
    v["identification_table"] = md_table(pd.DataFrame(ident_rows))
    v["assumptions"] = "\n\n".join(assumptions)

    runs = {}
    for key, d in designs.items():
        runs[key] = fit_or_load(key, d, settings_of(d.spec, args.quick), runs_dir, args.reuse)
    if args.quick:
        v["settings_note"] = (
            '!!! warning "Quick settings"\n    This page was built with `--quick` '
            f"({QUICK['chains']} chains × {QUICK['draws']} draws after {QUICK['tune']} tuning "
            "steps), to check the script: its numbers are not the analysis. Rerun without "
            "`--quick` for the model files' own settings."
        )
    else:
        used = sorted({tuple(saved_settings(r).items()) for r in runs.values()})
        v["settings_note"] = (
            "Sampler settings (each model file's own): "
            + "; ".join(", ".join(f"{k} {val}" for k, val in s) for s in used)
            + f". embedcausal {ec.__version__}."
        )
        if over:
            spec_s = ec.load_spec(REPO / SENSITIVITY).sampler
            v["settings_note"] += (
                '\n\n!!! warning "Sensitivity analyses at reduced settings"\n    The '
                "sensitivity sweep (section 7) ran with "
                + ", ".join(f"{k} {n}" for k, n in over.items())
                + f" instead of its model file's draws {spec_s.draws}, tune {spec_s.tune}, "
                f"chains {spec_s.chains}, to finish in the time available; run `{COMMAND}` "
                "for the model file's own settings."
            )
    v["diagnostics_table"] = md_table(
        pd.DataFrame([diagnostics_row(k, r) for k, r in runs.items()])
    )
    words = []
    for key, run in runs.items():
        g = run.diagnostics
        if not g.ok:
            words.append(f"`{key}`: " + "; ".join(g.problems))
    th = next(iter(runs.values())).diagnostics.thresholds
    v["diagnostics_words"] = (
        f"Every fit passes the checks (R-hat ≤ {th['r_hat']:g}, bulk and tail ESS ≥ "
        f"{th['ess_bulk']:.0f}, {th['divergences']:.0f} divergences, BFMI ≥ {th['bfmi']:g})."
        if not words
        else "Problems the diagnostics report:\n\n" + bullets(words)
    )
    main_run = runs["full"]
    v["fig_diagnostics"] = save(ec.plot_diagnostics(main_run), "diagnostics_full.png")
    v["fig_ppc"] = save(ec.plot_ppc(main_run), "ppc_full.png")
    log("effects and curve")
    v["effects_table"] = md_table(
        pd.DataFrame([r for k, run in runs.items() for r in effects_rows(k, run)])
    )
    v["effects_note"] = effects_note(designs)
    v["fig_effects"] = save(ec.plot_effects(runs, hdi_prob=HDI), "effects.png")
    v["fig_curve"] = save(ec.plot_effect_curve(main_run, draws=200), "curve_full.png")

    log("LOO")
    groups = observation_groups(runs)
    v["n_loo_groups"] = str(len(groups))
    sections = []
    for i, keys in enumerate(groups, 1):
        n = runs[keys[0]].n_obs
        if len(keys) < 2:
            sections.append(
                f"- `{keys[0]}` ({n} rows) has no rival fitted to the same rows: not compared."
            )
            continue
        cmp = ec.compare_runs({k: runs[k] for k in keys})
        fig = save(ec.plot_loo(cmp), f"loo_{i}.png")
        sections.append(
            f"**{', '.join(f'`{k}`' for k in keys)}** ({n} rows):\n\n{loo_table(cmp)}\n\n"
            f"{loo_words(cmp)}\n\n![LOO comparison {i}]({fig})"
        )
    v["loo_sections"] = "\n\n".join(sections)

    sens = None
    if not args.no_sensitivity:
        log("sensitivity")
        sd = ec.design(REPO / SENSITIVITY)
        sens = ec.run_sensitivity(
            sd, runs_dir / "sensitivity", jobs=args.jobs, resume=args.reuse, **over
        )
        v["sensitivity_section"] = sensitivity_section(sd, sens, over)
    else:
        v["sensitivity_section"] = (
            f"Not run for this page (`--no-sensitivity`); `{COMMAND}` runs them."
        )
    v["conclusion"] = conclusion(runs, sens)

    PAGE.write_text(render(v), encoding="utf-8")
    log(f"embedcausal from {Path(ec.__file__).parent}")
    log(f"wrote {PAGE.relative_to(REPO)} and {len(list(FIGURES.glob('*.png')))} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
