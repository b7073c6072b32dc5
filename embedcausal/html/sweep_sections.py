"""The report's sections on sensitivity sweeps: whatever analyses a sweep directory holds.

:func:`sweep_section` shows the latent-confounder grid (contours, tipping lines), the
omitted-variable bias bounds, the prior sensitivity tables, the DoWhy refuters and the
ρ-sensitivity of the mediation effects of one sweep
directory (``embedcausal sensitivity --out``), tolerating missing or damaged parts: a file that
cannot be read becomes a warning in the section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from embedcausal.errors import EmbedcausalError
from embedcausal.html.section import (
    EFFECT_LABELS,
    Section,
    anchor_of,
    number_text,
    png_file_uri,
)
from embedcausal.sensitivity.confounding import GRID_COLUMNS

__all__ = ["sweep_section"]


def _read_csv(path: Path, s: Section) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        s.warnings.append(f"{path.name}: unreadable ({type(exc).__name__}); skipped")
        return None


def _read_json(path: Path, s: Section) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        s.warnings.append(f"{path.name}: unreadable ({type(exc).__name__}); skipped")
        return None


def sweep_section(name: str, d: Path) -> Section:
    """The section of the sweep directory ``d``: one subsection per analysis found in it."""
    from embedcausal.plots import plot_confounding, tipping_line

    s = Section(f"Sensitivity: {name}", anchor_of(f"sensitivity-{name}"))
    meta = _read_json(d / "sensitivity.json", s)
    if isinstance(meta, dict) and meta.get("model"):
        s.paragraphs.append(f"Sensitivity analyses of {meta['model']} ({d}).")
    else:
        s.paragraphs.append(f"Sensitivity results found in {d}.")
    found = False
    table = _read_csv(d / "confounder.csv", s)
    if table is not None:
        found = True
        c = Section("Latent confounder grid", anchor_of(f"{name}-confounder"))
        c.paragraphs.append(
            "A latent confounder U (a disposition to cooperate) of fixed strength on the "
            "treatment and on the outcome is added and the model refitted at each grid point "
            "(the points where U does not reach the outcome share one fit: there the effects do "
            "not depend on its strength on the treatment). "
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
            [*GRID_COLUMNS, "reliable"],
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
            p = Section(title, anchor_of(f"{name}-{fname}"))
            p.table(title, t)
            s.subsections.append(p)
    ref = _read_json(d / "refuters.json", s)
    if isinstance(ref, dict):
        found = True
        r = Section("DoWhy refuters", anchor_of(f"{name}-refuters"))
        r.paragraphs.append(
            f"Frequentist estimate {number_text(ref.get('estimate'))} "
            f"(se {number_text(ref.get('std_error'))}, {ref.get('estimator', '')}); refuters "
            + ("all passed." if ref.get("passed") else "did NOT all pass.")
        )
        if not ref.get("passed", True):
            r.warnings.append("at least one refuter failed")
        r.items += [str(n) for n in ref.get("notes", [])]
        if isinstance(ref.get("refuters"), list):
            r.table("Refuters", pd.DataFrame(ref["refuters"]))
        s.subsections.append(r)
    rho = _read_csv(d / "rho.csv", s)
    if rho is not None:
        found = True
        s.subsections.append(_rho_section(name, rho))
    if not found:
        s.warnings.append("no sensitivity results in this directory yet")
    return s


def _ovb_section(name: str, d: Path, ovb: dict) -> Section:
    o = Section("Omitted-variable bias (Cinelli–Hazlett)", anchor_of(f"{name}-ovb"))
    keys = ["estimate", "se", "t_stat", "dof", "partial_r2", "rv_q", "rv_qa", "q", "alpha"]
    o.table(
        f"Linear-probability estimate of {ovb.get('treatment', '?')} on {ovb.get('outcome', '?')}",
        pd.DataFrame([{k: ovb.get(k) for k in keys}]),
    )
    try:
        from matplotlib.figure import Figure

        from embedcausal.sensitivity.ovb_result import OVBResult

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
    except (KeyError, TypeError, ValueError, EmbedcausalError) as exc:
        # an older or damaged ovb.json: show the stored picture instead
        src = png_file_uri(d / "ovb_contour.png")
        if src:
            o.figures.append({"src": src, "alt": "OVB contour", "caption": "ovb_contour.png"})
        else:
            o.warnings.append(f"OVB contour not drawn ({type(exc).__name__})")
    if isinstance(ovb.get("bounds"), list) and ovb["bounds"]:
        o.table("Benchmark bounds", pd.DataFrame(ovb["bounds"]))
    return o


def _rho_section(name: str, table: pd.DataFrame) -> Section:
    from embedcausal.plots import plot_rho
    from embedcausal.sensitivity.rho_effects import crossings

    r = Section("Correlated mediator and outcome errors (ρ)", anchor_of(f"{name}-rho"))
    r.paragraphs.append(
        "The NIE and NDE assume that nothing unobserved moves both the mediator and the outcome. "
        "Here the model is refitted with the two errors correlated ρ = corr(ε_M, ε_Y) (Imai, "
        "Keele & Yamamoto 2010); ρ = 0 is the ordinary fit. The crossing is the ρ at which the "
        "effect's posterior mean is 0, with the range of ρ in which its interval includes 0."
    )
    r.figure(
        lambda: plot_rho(
            table, effects=[e for e in ("nie", "nde") if (table["effect"] == e).any()]
        ),
        "effects against rho",
        "Posterior mean and interval of the NIE and NDE as ρ varies.",
    )
    try:
        r.table("Where the mean crosses 0", crossings(table))
    except (KeyError, TypeError, ValueError) as exc:
        r.warnings.append(f"rho.csv: crossings not computed ({type(exc).__name__})")
    r.table("Effects by ρ", table)
    if "reliable" in table and not table["reliable"].astype(bool).all():
        r.warnings.append("some values of ρ did not converge (reliable = no)")
    return r
