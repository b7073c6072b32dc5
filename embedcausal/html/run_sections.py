"""The report's sections on runs: DAG, identification, diagnostics, effects; runs compared.

:func:`run_section` shows one run (``embedcausal fit --out``): its DAG, what is identified and
under which assumptions (in words), the sampler diagnostics with clear warnings, the effects
table and figures (forest, effect curve, posterior predictive checks).
:func:`comparison_section` puts several runs' effects side by side with their PSIS-LOO
comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from embedcausal.errors import EmbedcausalError
from embedcausal.html.section import EFFECT_LABELS, Section, anchor_of, number_text

__all__ = ["KIND_WORDS", "comparison_section", "run_section"]

#: how each kind of identification reads in words
KIND_WORDS = {
    "backdoor": "by adjusting for a backdoor set (no open backdoor path remains)",
    "frontdoor": "by the front-door criterion (through the mediator)",
    "iv": "with an instrumental variable",
    "instrument": "with an instrumental variable",
    "mediation": "as a natural direct/indirect effect (sequential ignorability)",
    "within": "by within-group contrasts (constant confounders of the group cancel)",
    "assumed": "only by an explicit assumption in the model file",
}


def _contrast(run: Any) -> str:
    """``"inst_ties 12 → 33 (data units)"`` or ``"arm control → treated (levels of arm)"``."""
    e = run.spec.estimand
    t0, t1 = run.prepared.contrast_shown
    units = f"levels of {e.treatment}" if run.prepared.contrast_labels else "data units"
    return f"{e.treatment} {t0} → {t1} ({units})"


def _scale(run: Any) -> tuple[str, str]:
    """(what the effects change, its scale): ``P(y)``, probability scale, or ``y``'s units."""
    y = run.spec.estimand.outcome
    if getattr(run.spec.model, "family", "bernoulli") == "gaussian":
        return f"{y} (its units)", "outcome's units"
    return f"P({y})", "probability scale"


#: the effects table's columns on the page: column of the effects table -> header
EFFECT_COLUMNS = {
    "effect": "effect",
    "reference": "reference level",
    "mean": "mean",
    "median": "median",
    "sd": "sd",
    "hdi_low": "HDI low",
    "hdi_high": "HDI high",
    "p_negative": "P(effect < 0)",
    "p_rope": "P(|effect| < rope)",
    "ratio_of_means": "ratio of means mean(NIE)/mean(total)",
}


def _effects_table(s: Section, run: Any, t: pd.DataFrame) -> None:
    """The effects table (median, HDI, P(effect < 0), ROPE, reference level per row) and, in
    words below it, which mechanism carries more, the proportion mediated and the note when
    P(total < 0) is material (a warning above the table)."""
    from embedcausal.estimands import total_crosses_zero

    prob = float(t["hdi_prob"].iloc[0]) if "hdi_prob" in t else 0.9
    rope = float(t["rope"].iloc[0]) if "rope" in t and pd.notna(t["rope"].iloc[0]) else None
    header = dict(EFFECT_COLUMNS)
    header["hdi_low"], header["hdi_high"] = f"{prob:.0%} HDI low", f"{prob:.0%} HDI high"
    if rope is not None:
        header["p_rope"] = f"P(|effect| < {rope:g}) (rope)"
    rows = t[t["effect"] != "p_nie_gt_nde"].copy()
    if "ratio_of_means" not in rows or rows["ratio_of_means"].isna().all():
        header.pop("ratio_of_means")
    if rope is None:
        header.pop("p_rope")
    rows["effect"] = [EFFECT_LABELS.get(x, x) for x in rows["effect"]]
    rows = rows.rename(columns=header)
    s.table(
        f"Effects of {_contrast(run)}, {_scale(run)[1]}",
        rows,
        [h for c, h in header.items() if h in rows.columns],
    )
    if rope is not None:
        s.items.append(
            f"P(|effect| < {rope:g}): posterior probability that the effect lies inside the "
            f"region of practical equivalence (estimand.rope = {rope:g})."
        )
    prop = t[t["effect"] == "prop_mediated"]
    if len(prop) and "ratio_of_means" in prop and pd.notna(prop["ratio_of_means"].iloc[0]):
        r = prop.iloc[0]
        s.items.append(
            f"Proportion mediated (NIE / total): median {number_text(r['median'], 2)}, ratio of "
            f"posterior means mean(NIE)/mean(total) {number_text(r['ratio_of_means'], 2)}; its "
            "mean is heavy-tailed when the total effect comes near zero."
        )
    mech = t[t["effect"] == "p_nie_gt_nde"]
    if len(mech):
        r = mech.iloc[0]
        p_abs = r.get("p_abs_nie_gt_nde", float("nan"))  # absent from older runs' tables
        s.items.append(
            (
                f"Which mechanism carries more: P(|NIE| > |NDE|) = {number_text(p_abs, 2)}. "
                if pd.notna(p_abs)
                else ""
            )
            + f"P(NIE > NDE), signed = {number_text(r['mean'], 2)} (signed: a small positive NIE "
            "beats any negative NDE)."
        )
    if s.items:
        s.items_intro = "Read with the table:"
    crosses = total_crosses_zero(t) if "p_negative" in t else None
    if crosses is not None:
        s.warnings.append(
            f"P(total < 0) = {crosses:.2f}: the total effect's posterior crosses zero, so the "
            "proportion mediated's mean is unstable; read its median and the ratio of means."
        )


def _identification_section(run: Any) -> Section:
    s = Section("Identification", "")
    e = run.spec.estimand
    s.paragraphs.append(
        f"Treatment {e.treatment}, outcome {e.outcome}"
        + (f", mediator {e.mediator}" if e.mediator else "")
        + f". Contrast {_contrast(run)}; effects are changes in {_scale(run)[0]} averaged over "
        f"the {run.n_obs} observed rows."
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


def _diagnostics_section(run: Any) -> Section:
    from embedcausal.plots import plot_diagnostics

    s = Section("Sampler diagnostics", "")
    d = run.diagnostics
    th = d.thresholds
    post = run.idata["posterior"]
    s.paragraphs.append(
        f"{post.sizes['chain']} chains × {post.sizes['draw']} draws. Max R-hat "
        f"{number_text(d.max_r_hat, 3)} (threshold ≤ {th['r_hat']:g}), min bulk ESS "
        f"{number_text(d.min_ess_bulk, 0)} and min tail ESS {number_text(d.min_ess_tail, 0)} "
        f"(threshold ≥ {th['ess_bulk']:.0f}), {d.divergences} divergent transitions"
        + (f", min E-BFMI {number_text(d.min_bfmi, 2)}" if d.min_bfmi is not None else "")
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


def _effects_section(run: Any, *, curve: bool, ppc: bool) -> Section:
    from embedcausal.plots import plot_effect_curve, plot_effects, plot_ppc, posterior_predictive

    s = Section("Effects", "")
    if run.effects is None:
        s.warnings.append("this run has no effects table")
        return s
    t = run.effects
    prob = float(t["hdi_prob"].iloc[0]) if "hdi_prob" in t else 0.9
    _effects_table(s, run, t)
    if not run.diagnostics.ok:
        s.warnings.append("These effects are flagged unreliable (see the diagnostics).")
    s.figure(
        lambda: plot_effects(run, hdi_prob=prob),
        "effects forest plot",
        "Posterior mean and HDI of each effect (draws pooled over chains).",
    )
    if curve and run.prepared.contrast_labels is None:  # a categorical treatment: no curve
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


def run_section(name: str, run: Any, *, curve: bool, ppc: bool) -> Section:
    """The section of one run: DAG, identification, diagnostics, effects (``curve``, ``ppc``:
    draw the effect curve and the posterior predictive checks)."""
    from embedcausal.identification import node_roles
    from embedcausal.plots import plot_dag

    s = Section(f"Run {name}: {run.spec.name}", anchor_of(f"run-{name}"))
    status = "diagnostics ok" if run.diagnostics.ok else "diagnostics FAILED"
    s.paragraphs.append(
        f"Model file {run.spec.source}; {run.n_obs} rows; {status}; fitted with "
        + ", ".join(f"{k} {v}" for k, v in run.versions.items() if k in ("pymc", "nutpie"))
        + "."
    )
    if run.dropped:
        s.warnings.append(f"{len(run.dropped)} rows dropped for missing values")
    dag = Section("Causal DAG", "")
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
        part.anchor = anchor_of(f"{name}-{part.title}")
        s.subsections.append(part)
    return s


def comparison_section(runs: Mapping[str, Any]) -> Section:
    """Several runs' effects side by side and their PSIS-LOO comparison."""
    from embedcausal.compare import compare_runs
    from embedcausal.plots import plot_effects, plot_loo

    s = Section("Mechanisms compared", "mechanisms-compared")
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
