r"""What each effect means, at which reference level, and how its posterior is summarised.

Every effect is a contrast of ``E(t, t') = mean_i E[Y_i(t, M_i(t'))]`` on the outcome's scale
(a probability for a Bernoulli outcome, data units for a Gaussian one) with the treatment moved
from ``t0`` to ``t1``:

=================  ==========================  ==============================================
effect             definition                  reference level (R ``mediation``'s name)
=================  ==========================  ==============================================
``total``          ``E(t1,t1) − E(t0,t0)``     none: T and M(T) move together
``nde``            ``E(t1,t0) − E(t0,t0)``     control: M held at M(t0) — pure NDE, ADE(control)
``nie``            ``E(t1,t1) − E(t1,t0)``     treated: T held at t1 — total NIE, ACME(treated)
``nde_treated``    ``E(t1,t1) − E(t0,t1)``     treated: M held at M(t1) — total NDE, ADE(treated)
``nie_control``    ``E(t0,t1) − E(t0,t0)``     control: T held at t0 — pure NIE, ACME(control)
=================  ==========================  ==============================================

``total = nde + nie = nde_treated + nie_control``. With ``estimand.four_way = m*`` the total
is also split four ways (VanderWeele 2014): the controlled direct effect ``cde`` with the
mediator set to ``m*`` for everyone, ``int_ref = nde − cde``, ``int_med = nie − nie_control``
and the pure indirect effect ``pie = nie_control``, so ``total = cde + int_ref + int_med + pie``.

Without a treatment × mediator interaction the two reference levels of each effect agree up
to the nonlinearity of the link; with ``model.interaction = true`` both are reported.

:func:`effects_table` summarises the draws: mean, median, sd, HDI, ``P(effect < 0)``, the
probability inside the region of practical equivalence ``P(|effect| < rope)`` (``estimand.rope``)
and, per row, its reference level and the contrast in the data's units. The proportion
mediated ``nie / total`` is heavy-tailed when the total's posterior comes near zero: read its
median and the ratio of posterior means ``mean(nie) / mean(total)`` (column
``ratio_of_means``); :func:`total_crosses_zero` says when ``P(total < 0)`` is material.
``P(NIE > NDE)`` is signed (a tiny positive NIE beats a negative NDE): ``P(|NIE| > |NDE|)``
(column ``p_abs_nie_gt_nde``) answers "which mechanism carries more of the effect".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

#: effect -> (short name, reference level)
REFERENCE = {
    "total": ("total", "T {t0} -> {t1}, M follows T"),
    "nde": ("ADE(control), pure NDE", "control: T {t0} -> {t1}, M held at M({t0})"),
    "nie": ("ACME(treated), total NIE", "treated: T held at {t1}, M({t0}) -> M({t1})"),
    "nde_treated": ("ADE(treated), total NDE", "treated: T {t0} -> {t1}, M held at M({t1})"),
    "nie_control": ("ACME(control), pure NIE", "control: T held at {t0}, M({t0}) -> M({t1})"),
    "cde": ("CDE(m*)", "controlled: T {t0} -> {t1}, M set to m* = {m:g} for all"),
    "int_ref": ("INT_ref", "nde - cde: interaction that needs no effect of T on M"),
    "int_med": ("INT_med", "nie - nie_control: interaction through T's effect on M"),
    "pie": ("PIE", "pure indirect effect = nie_control"),
    "prop_mediated": ("NIE / total", "nie (treated) / total, per draw"),
    "p_nie_gt_nde": ("P(NIE > NDE), signed", "signed comparison of nie and nde draws"),
}
#: effects summarised as distributions, in table order
DRAW_EFFECTS = (
    "total",
    "nde",
    "nie",
    "nde_treated",
    "nie_control",
    "cde",
    "int_ref",
    "int_med",
    "pie",
    "prop_mediated",
)
#: ``P(total < 0)`` between this and 1 - this: the proportion mediated is unstable
MATERIAL = 0.05
TABLE_COLUMNS = [
    "effect",
    "mean",
    "sd",
    "hdi_low",
    "hdi_high",
    "median",
    "p_negative",
    "p_rope",
    "ratio_of_means",
    "p_abs_nie_gt_nde",
    "reference",
    "contrast",
    "rope",
]


def reference_level(
    effect: str, t0: float | str, t1: float | str, m_star: float = float("nan")
) -> str:
    """The reference level of ``effect`` with the contrast's values in data units.

    ``t0``, ``t1`` are numbers (shown with ``:g``) or a categorical treatment's level names.
    """
    name, text = REFERENCE.get(effect, (effect, ""))
    a, b = (v if isinstance(v, str) else f"{v:g}" for v in (t0, t1))
    return f"{name}; {text.format(t0=a, t1=b, m=m_star)}" if text else name


def contrast_ends(attrs: dict) -> tuple[str, str]:
    """The contrast's ends of effect draws' ``attrs`` as text in the data's units: a
    categorical treatment's level names (``contrast_from_label``) or the numbers (``:g``)."""
    ends = []
    for end in ("from", "to"):
        label = attrs.get(f"contrast_{end}_label")
        ends.append(str(label) if label else f"{float(attrs.get(f'contrast_{end}', np.nan)):g}")
    return ends[0], ends[1]


def total_crosses_zero(table: pd.DataFrame) -> float | None:
    """``P(total < 0)`` when it is material (between :data:`MATERIAL` and 1 − it), else None."""
    rows = table[table["effect"] == "total"]
    if rows.empty or "p_negative" not in rows:
        return None
    p = float(rows["p_negative"].iloc[0])
    return p if MATERIAL < p < 1 - MATERIAL else None


def _finite(da: xr.DataArray) -> np.ndarray:
    vals = np.asarray(da.values, dtype=float).ravel()
    return vals[np.isfinite(vals)]


def _hdi(da: xr.DataArray, name: str, prob: float) -> tuple[float, float]:
    import arviz as az

    if _finite(da).size < 2:
        return float("nan"), float("nan")
    h = az.hdi(xr.Dataset({name: da.where(np.isfinite(da))}), prob=prob)[name]
    lo, hi = (float(v) for v in np.asarray(h.values).ravel()[:2])
    return lo, hi


def effects_table(
    effects: xr.Dataset,
    *,
    hdi_prob: float = 0.9,
    reliable: bool = True,
    rope: float | None = None,
) -> pd.DataFrame:
    """Tidy summary of effect draws: one row per effect (see the module docstring).

    Parameters
    ----------
    effects : xarray.Dataset
        From :func:`embedcausal.gcomp` (dims ``chain``, ``draw``).
    hdi_prob : float
        Probability of the HDI, stated in the ``hdi_prob`` column.
    reliable : bool
        False when the sampler's diagnostics failed (the ``reliable`` column).
    rope : float, optional
        Half-width of the region of practical equivalence on the outcome's scale; default:
        ``effects.attrs["rope"]`` (the model file's ``estimand.rope``) if any. ``p_rope`` is
        ``P(|effect| < rope)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``effect, mean, sd, hdi_low, hdi_high, median, p_negative, p_rope,
        ratio_of_means, p_abs_nie_gt_nde, reference, contrast, rope, hdi_prob, reliable``.
        ``p_nie_gt_nde`` is a probability: its ``mean`` is the signed P(NIE > NDE) and its
        ``p_abs_nie_gt_nde`` is P(|NIE| > |NDE|); ``prop_mediated`` carries
        ``ratio_of_means = mean(nie) / mean(total)``.
    """
    if rope is None:
        rope = effects.attrs.get("rope")
    rope = float(rope) if rope is not None and np.isfinite(float(rope)) else None
    t0, t1 = contrast_ends(effects.attrs)
    treatment = effects.attrs.get("treatment", "treatment")
    contrast = f"{treatment}: {t0} -> {t1}"
    nan = float("nan")
    rows = []
    for name in DRAW_EFFECTS:
        if name not in effects:
            continue
        da = effects[name]
        vals = _finite(da)
        lo, hi = _hdi(da, name, hdi_prob)
        row = {
            "effect": name,
            "mean": float(np.mean(vals)) if vals.size else nan,
            "sd": float(np.std(vals, ddof=1)) if vals.size > 1 else nan,
            "hdi_low": lo,
            "hdi_high": hi,
            "median": float(np.median(vals)) if vals.size else nan,
            "p_negative": float(np.mean(vals < 0)) if vals.size else nan,
            "p_rope": nan,
            "ratio_of_means": nan,
            "p_abs_nie_gt_nde": nan,
        }
        if rope is not None and name != "prop_mediated" and vals.size:
            row["p_rope"] = float(np.mean(np.abs(vals) < rope))
        if name == "prop_mediated":
            total = float(np.mean(_finite(effects["total"])))
            nie = float(np.mean(_finite(effects["nie"])))
            row["ratio_of_means"] = nie / total if total else nan
        rows.append(row)
    if "nie_gt_nde" in effects:
        nie = np.asarray(effects["nie"].values, dtype=float)
        nde = np.asarray(effects["nde"].values, dtype=float)
        rows.append(
            {
                "effect": "p_nie_gt_nde",
                "mean": float(effects["nie_gt_nde"].mean()),
                "p_abs_nie_gt_nde": float(np.mean(np.abs(nie) > np.abs(nde))),
            }
        )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    m_star = float(effects.attrs.get("four_way_at", np.nan))
    table["reference"] = [reference_level(e, t0, t1, m_star) for e in table["effect"]]
    table["contrast"] = contrast
    table["rope"] = rope if rope is not None else nan
    table["hdi_prob"] = hdi_prob
    table["reliable"] = reliable
    return table
