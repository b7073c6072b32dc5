"""Plain-text tables of results (the JSON forms: each result's ``to_dict`` and
:mod:`embedcausal.serialize`)."""

from __future__ import annotations

import math

import pandas as pd

_LABELS = {
    "total": "total effect",
    "nde": "natural direct effect (NDE)",
    "nie": "natural indirect effect (NIE)",
    "prop_mediated": "proportion mediated",
    "p_nie_gt_nde": "P(NIE > NDE)",
}


def _num(x: float, digits: int = 4) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def format_table(table: pd.DataFrame) -> str:
    """An effects table as aligned text."""
    if table.empty:
        return "(no effects)"
    prob = float(table["hdi_prob"].iloc[0]) if "hdi_prob" in table else float("nan")
    head = f"{'effect':<32} {'mean':>9} {'sd':>9} {f'{prob:.0%} HDI':>21}"
    lines = [head, "-" * len(head)]
    for _, r in table.iterrows():
        hdi = (
            f"[{_num(r['hdi_low'])}, {_num(r['hdi_high'])}]" if not math.isnan(r["hdi_low"]) else ""
        )
        label = _LABELS.get(r["effect"], r["effect"])
        lines.append(f"{label:<32} {_num(r['mean']):>9} {_num(r['sd']):>9} {hdi:>21}")
    return "\n".join(lines)


def format_effects(run) -> str:
    """The effects of a run with its contrast, identification, diagnostics and assumptions."""
    spec = run.spec
    e = spec.estimand
    t0, t1 = run.contrast
    out = [
        f"{spec.name}: effect of {e.treatment} on {e.outcome} "
        f"({t0:g} -> {t1:g}; probability scale, averaged over {run.n_obs} observed rows)",
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
