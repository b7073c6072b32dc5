"""Plain-text tables of results (the JSON forms: each result's ``to_dict`` and
:mod:`embedcausal.serialize`)."""

from __future__ import annotations

import math

import pandas as pd

#: how each effect is named in text tables and on the report's page
EFFECT_LABELS = {
    "total": "total effect",
    "nde": "natural direct effect (NDE)",
    "nie": "natural indirect effect (NIE)",
    "nde_treated": "NDE at treated",
    "nie_control": "NIE at control",
    "cde": "controlled direct effect",
    "int_ref": "reference interaction",
    "int_med": "mediated interaction",
    "pie": "pure indirect effect",
    "prop_mediated": "proportion mediated",
    "p_nie_gt_nde": "P(NIE > NDE), signed",
}


def _num(x: float, digits: int = 4) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _get(r: pd.Series, key: str) -> float:
    v = r.get(key, float("nan"))
    return float("nan") if v is None or (isinstance(v, str) and not v) else float(v)


def format_table(table: pd.DataFrame) -> str:
    """An effects table as aligned text: one row per effect (mean, median, sd, HDI,
    ``P(effect < 0)``, ``P(|effect| < rope)`` with a ROPE) with its reference level.

    Below the rows: which mechanism carries more (``P(|NIE| > |NDE|)``), the proportion
    mediated's median and ratio of posterior means, and a note when ``P(total < 0)`` is
    material (:func:`embedcausal.estimands.total_crosses_zero`).
    """
    from embedcausal.estimands import total_crosses_zero

    if table.empty:
        return "(no effects)"
    prob = float(table["hdi_prob"].iloc[0]) if "hdi_prob" in table else float("nan")
    rope = _get(table.iloc[0], "rope") if "rope" in table else float("nan")
    with_rope = not math.isnan(rope)
    rope_head = f" {f'P(|e|<{rope:g})':>11}" if with_rope else ""
    head = (
        f"{'effect':<32} {'mean':>9} {'median':>9} {'sd':>9} {f'{prob:.0%} HDI':>21} "
        f"{'P(e<0)':>7}{rope_head}  reference level"
    )
    lines = [head, "-" * len(head)]
    notes = []
    for _, r in table.iterrows():
        if r["effect"] == "p_nie_gt_nde":
            p_abs = _get(r, "p_abs_nie_gt_nde")
            notes.append(
                f"which mechanism carries more: P(|NIE| > |NDE|) = {_num(p_abs, 2)}"
                f" (P(NIE > NDE) = {_num(float(r['mean']), 2)} is signed)"
                if not math.isnan(p_abs)
                else f"P(NIE > NDE) = {_num(float(r['mean']), 2)} (signed)"
            )
            continue
        hdi = (
            f"[{_num(r['hdi_low'])}, {_num(r['hdi_high'])}]" if not math.isnan(r["hdi_low"]) else ""
        )
        label = EFFECT_LABELS.get(r["effect"], r["effect"])
        ref = r.get("reference", "")
        ref = ref if isinstance(ref, str) else ""
        p_rope = f" {_num(_get(r, 'p_rope'), 2):>11}" if with_rope else ""
        p_neg = _num(_get(r, "p_negative"), 2) if "p_negative" in r else ""
        lines.append(
            f"{label:<32} {_num(r['mean']):>9} {_num(_get(r, 'median')):>9} {_num(r['sd']):>9} "
            f"{hdi:>21} {p_neg:>7}{p_rope}  {ref}"
        )
        if r["effect"] == "prop_mediated" and not math.isnan(_get(r, "ratio_of_means")):
            notes.append(
                f"proportion mediated: median {_num(_get(r, 'median'), 2)}, ratio of posterior "
                f"means mean(NIE)/mean(total) {_num(_get(r, 'ratio_of_means'), 2)}, "
                f"{prob:.0%} HDI {hdi}"
            )
    crosses = total_crosses_zero(table) if "p_negative" in table else None
    if crosses is not None:
        notes.append(
            f"P(total < 0) = {crosses:.2f}: the total effect's posterior crosses zero, so the "
            "proportion mediated's mean is unstable; read its median and the ratio of means"
        )
    notes.append("P(e<0): posterior probability that the effect is negative")
    if with_rope:
        notes.append(
            f"P(|e|<{rope:g}): posterior probability that the effect is inside the region of "
            f"practical equivalence (estimand.rope = {rope:g})"
        )
    return "\n".join([*lines, *(["", *notes] if notes else [])])


def format_effects(run) -> str:
    """The effects of a run with its contrast, identification, diagnostics and assumptions."""
    spec = run.spec
    e = spec.estimand
    t0, t1 = run.prepared.contrast_shown
    units = f"levels of {e.treatment}" if run.prepared.contrast_labels else f"{e.treatment}'s units"
    scale = (
        "probability scale"
        if getattr(spec.model, "family", "bernoulli") == "bernoulli"
        else "outcome's units"
    )
    out = [
        f"{spec.name}: effect of {e.treatment} on {e.outcome} "
        f"({t0} -> {t1} in {units}; {scale}, averaged over {run.n_obs} "
        "observed rows)",
    ]
    if run.dropped:
        out.append(f"rows dropped for missing values (data.missing = 'drop'): {len(run.dropped)}")
    for name, ident in run.identification.items():
        how = ident.kind or "not identified"
        adj = ", ".join(ident.adjustment_set or ()) or "none"
        out.append(f"{name}: identified by {how}; adjustment set: {{{adj}}}")
    out.append("")
    out.append(format_table(run.effects))
    out.append("")
    diag = run.diagnostics
    t = diag.thresholds
    if diag.ok:
        out.append(
            f"diagnostics: ok (R-hat <= {t['r_hat']}, bulk and tail ESS >= {t['ess_bulk']:.0f}, "
            "no divergences, E-BFMI >= 0.3)"
        )
    else:
        out.append("diagnostics: UNRELIABLE — these effects rest on chains that did not converge")
        out += [f"  {p}" for p in diag.problems]
        out += [f"  {a}" for a in diag.advice]
    for a in run.assumptions:
        out.append(f"assumed (estimand.assume): {a}")
    return "\n".join(out)
