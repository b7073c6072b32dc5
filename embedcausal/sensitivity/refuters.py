"""DoWhy refuters beside the Bayesian results: a frequentist cross-check of the total effect.

The Bayesian model answers the causal question with a hierarchical logit and g-computation.
This module asks DoWhy the same question in the simplest way that shares its assumptions, and
then tries to break the answer:

1. **Estimate.** A linear probability model (OLS) of the outcome on the treatment and *the
   adjustment set the Bayesian model uses* (:func:`embedcausal.plan.adjustment_for` over
   :func:`embedcausal.plan.identification_for`, plus ``model.covariates``), fitted by DoWhy's
   ``backdoor.linear_regression`` on the DAG. When the treatment has a within/between split
   (or the DAG identifies the effect only within a group), the group mean of the treatment is
   added as a covariate (Mundlak), so the OLS coefficient is the within-group estimate, the
   quantity the Bayesian model reports. The effect is the coefficient times the width of the
   spec's contrast ``t1 - t0``, on the probability scale.
2. **Refuters** (DoWhy 0.14), each repeated ``simulations`` times:

   * ``placebo_treatment``: the treatment column is permuted; the mean "effect" of the placebo
     should be about 0;
   * ``random_common_cause``: an independent standard-normal covariate is added to the
     adjustment set; the estimate should not move;
   * ``data_subset``: the estimate is recomputed on random 80% subsets; it should not move.

A refuter *passes* by a rule stated on the scale of the estimate's OLS standard error ``SE``
(see :data:`TOLERANCE_SE` and ``docs/sensitivity-refuters.md``); DoWhy's own p-value is shown
beside it for reference.

What is estimated (adjustment set, Mundlak term, fixed effects, the rows as DAG nodes) comes
from :mod:`.refuter_design`; the result is a
:class:`~embedcausal.sensitivity.refuter_result.RefutationResult`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from embedcausal.data import load_data, resolve_contrast, validate
from embedcausal.errors import DataError, EmbedcausalError
from embedcausal.identification.dowhy_adapter import quiet_dowhy
from embedcausal.plan import Design
from embedcausal.sensitivity.refuter_design import (
    adjustment_set,
    check_fixed_effects,
    dag_frame,
    estimator_text,
    total_identification,
    within_group,
)
from embedcausal.sensitivity.refuter_result import RefutationResult
from embedcausal.spec import ModelSpec, RefuterSettings

__all__ = ["METHODS", "SUBSET_FRACTION", "TOLERANCE_SE", "RefutationResult", "refute"]

METHODS: tuple[str, ...] = ("placebo_treatment", "random_common_cause", "data_subset")
"""Refuters this module runs, in the order of the table."""

_DOWHY_NAME = {
    "placebo_treatment": "placebo_treatment_refuter",
    "random_common_cause": "random_common_cause",
    "data_subset": "data_subset_refuter",
}
SUBSET_FRACTION = 0.8
"""Fraction of the rows each ``data_subset`` simulation keeps."""

TOLERANCE_SE: dict[str, float] = {
    "placebo_treatment": 2.0,
    "random_common_cause": 0.5,
    "data_subset": 1.0,
}
"""Pass rule, in standard errors of the estimate: placebo ``|new| <= 2 SE``; random common cause
``|new - estimate| <= 0.5 SE``; data subset ``|new - estimate| <= 1 SE``."""

_EXPECTED = {
    "placebo_treatment": "≈ 0",
    "random_common_cause": "≈ estimate",
    "data_subset": "≈ estimate",
}
_COLUMNS = ["refuter", "new_effect", "p_value", "expected", "passed", "detail"]


# -- settings ------------------------------------------------------------------------------------
def _settings(
    spec: ModelSpec, methods: Sequence[str] | None, simulations: int | None
) -> tuple[list[str], int]:
    cfg = spec.sensitivity.refuters if spec.sensitivity and spec.sensitivity.refuters else None
    cfg = cfg or RefuterSettings()
    if isinstance(methods, str):
        methods = [methods]
    chosen = list(cfg.methods if methods is None else methods)
    for m in chosen:
        if m not in METHODS:
            raise EmbedcausalError(
                f"refuter method {m!r} unknown; expected one of {', '.join(map(repr, METHODS))}"
            )
    if not chosen:
        raise EmbedcausalError(
            f"no refuter methods given; expected one or more of {', '.join(map(repr, METHODS))}"
        )
    n = cfg.simulations if simulations is None else simulations
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise EmbedcausalError(f"refuter simulations = {n!r}; expected an integer >= 2")
    return list(dict.fromkeys(chosen)), int(n)


# -- DoWhy --------------------------------------------------------------------------------------
def _graph(spec: ModelSpec) -> nx.DiGraph:
    """The full DAG; its latent nodes are absent from the data, so DoWhy takes them as
    unobserved (``CausalGraph`` marks every node that is not a data column ``observed="no"``)."""
    full = spec.dag().to_networkx()
    g = nx.DiGraph()  # names only: DoWhy sets its own node attributes
    g.add_nodes_from(full.nodes)
    g.add_edges_from(full.edges)
    return g


def _fit(
    df: pd.DataFrame, spec: ModelSpec, covariates: list[str], contrast: tuple[float, float]
) -> tuple[Any, Any, Any, tuple[str, ...] | None]:
    from dowhy import CausalModel

    e = spec.estimand
    model = CausalModel(data=df, treatment=e.treatment, outcome=e.outcome, graph=_graph(spec))
    dowhy_set = _dowhy_backdoor(model.identify_effect(proceed_when_unidentifiable=False))
    estimand = _our_estimand(e.treatment, e.outcome, covariates)
    estimate = model.estimate_effect(
        estimand,
        method_name="backdoor.linear_regression",
        control_value=contrast[0],
        treatment_value=contrast[1],
        effect_modifiers=[],
        target_units="ate",
    )
    return model, estimand, estimate, dowhy_set


def _our_estimand(treatment: str, outcome: str, covariates: list[str]) -> Any:
    """A DoWhy backdoor estimand with *our* adjustment set (DoWhy's own may differ or be
    missing: it knows nothing of a latent confounder absorbed by the within-group split, and
    it calls an effect zero when the DAG has no directed path, which is what a rival DAG
    without ``treatment -> outcome`` claims and what this estimate is meant to check)."""
    from dowhy.causal_identifier import EstimandType, IdentifiedEstimand
    from dowhy.causal_identifier.auto_identifier import construct_adjustment_estimand

    expr = construct_adjustment_estimand([treatment], [outcome], covariates)
    return IdentifiedEstimand(
        None,
        treatment_variable=[treatment],
        outcome_variable=[outcome],
        estimand_type=EstimandType.NONPARAMETRIC_ATE,
        estimands={"backdoor": expr},
        backdoor_variables={"backdoor": list(covariates)},
        default_backdoor_id="backdoor",
        identifier_method="backdoor",
    )


def _dowhy_backdoor(estimand: Any) -> tuple[str, ...] | None:
    """DoWhy's default backdoor set, or ``None`` when its identification finds none."""
    if getattr(estimand, "no_directed_path", False):
        return None
    sets = getattr(estimand, "backdoor_variables", None) or {}
    key = getattr(estimand, "default_backdoor_id", None)
    if key is None or key not in sets or sets[key] is None:
        return None
    return tuple(sets[key])


def _row(method: str, res: Any, estimate: float, se: float, sims: int) -> dict[str, Any]:
    new = float(res.new_effect)
    p = (res.refutation_result or {}).get("p_value") if res.refutation_result else None
    p = float(p) if p is not None else math.nan
    tol = TOLERANCE_SE[method] * se
    if method == "placebo_treatment":
        dist = abs(new)
        passed = dist <= tol
        detail = (
            f"mean over {sims} permutations of the treatment; |new| = {dist:.4g} "
            f"{'<=' if passed else '>'} {TOLERANCE_SE[method]:g} SE = {tol:.4g}"
        )
    else:
        dist = abs(new - estimate)
        passed = dist <= tol
        what = (
            f"mean over {sims} fits with a random N(0, 1) common cause"
            if method == "random_common_cause"
            else f"mean over {sims} random {SUBSET_FRACTION:.0%} subsets"
        )
        detail = (
            f"{what}; |new - estimate| = {dist:.4g} {'<=' if passed else '>'} "
            f"{TOLERANCE_SE[method]:g} SE = {tol:.4g}"
        )
    if not math.isfinite(new) or not math.isfinite(tol):
        passed = False
    return {
        "refuter": method,
        "new_effect": new,
        "p_value": p,
        "expected": _EXPECTED[method],
        "passed": bool(passed),
        "detail": detail,
    }


def _kwargs(method: str, simulations: int, seed: int) -> dict[str, Any]:
    # DoWhy 0.14 seeds each refuter through ``random_state``. A RandomState object, not an
    # int: the data-subset refuter hands an int straight to ``DataFrame.sample``, which then
    # draws the *same* subset in every simulation. (``random_seed`` would re-seed NumPy's
    # global generator instead.)
    kw: dict[str, Any] = {
        "num_simulations": simulations,
        "random_state": np.random.RandomState(seed),
        "n_jobs": 1,
    }
    if method == "placebo_treatment":
        kw["placebo_type"] = "permute"
    elif method == "data_subset":
        kw["subset_fraction"] = SUBSET_FRACTION
    return kw


# -- public API ---------------------------------------------------------------------------------
def refute(
    spec: Design | ModelSpec,
    data: pd.DataFrame | None = None,
    *,
    methods: Sequence[str] | None = None,
    simulations: int | None = None,
    seed: int = 0,
    fixed_effects: Sequence[str] = (),
) -> RefutationResult:
    """Estimate the total effect with DoWhy and run its refuters against the estimate.

    Parameters
    ----------
    spec : Design or ModelSpec
        The design (its identification and validated rows are used as they are) or the model
        file. Its ``[sensitivity.refuters]`` table gives the default ``methods`` and
        ``simulations`` (all three refuters and 20 simulations when the table is absent).
    data : pandas.DataFrame, optional
        The panel; default: the model file's ``data.path``. Validated like the Bayesian
        model's data (:func:`embedcausal.data.validate`).
    methods : sequence of str, optional
        Any of ``"placebo_treatment"``, ``"random_common_cause"``, ``"data_subset"``.
    simulations : int, optional
        Repetitions of each refuter (at least 2).
    seed : int
        Seed of every refuter's random generator; the same seed gives the same table.
    fixed_effects : sequence of str
        Grouping columns (e.g. ``["mission"]``) to add as fixed effects (dummies), the
        frequentist stand-in for the Bayesian model's varying intercepts; none by default.

    Returns
    -------
    RefutationResult

    Raises
    ------
    EmbedcausalError
        For an unknown refuter method or a bad number of simulations.
    IdentificationError
        When the Bayesian model would refuse the model file (effect not identified).
    DataError
        When the data lack a column the model needs, or fail the other data checks.

    Examples
    --------
    >>> from embedcausal.sensitivity.refuters import refute
    >>> res = refute(spec, methods=["placebo_treatment"], simulations=20)  # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    """
    d = spec if isinstance(spec, Design) else None
    spec = d.spec if d is not None else spec
    chosen, sims = _settings(spec, methods, simulations)
    ident, total = total_identification(spec, d.identification if d is not None else None)
    adjustment, dropped = adjustment_set(spec, ident)
    source = None
    if d is not None and data is None:
        frame, source = d.data.frame, d.source
    else:
        if data is None:
            data = load_data(spec)
            source = str(spec.data_path)
        frame, _ = validate(spec, data, adjustment=adjustment, source=source or "data")
    group = within_group(spec, total)
    if group is not None and group not in frame.columns:
        raise DataError(
            f"{source or 'data'}: grouping column {group!r} not found; the within-{group} "
            "estimate needs it (model.within_group)"
        )
    e = spec.estimand
    fes = check_fixed_effects(fixed_effects, frame, group, source or "data")
    contrast = resolve_contrast(spec, frame[spec.column(e.treatment)].to_numpy(dtype=float))
    df, extra = dag_frame(spec, frame, adjustment, group, fes)
    covariates = [*adjustment, *extra]

    with quiet_dowhy():
        model, estimand, estimate, dowhy_set = _fit(df, spec, covariates, contrast)
        est = float(estimate.value)
        width = abs(contrast[1] - contrast[0])
        se = float(estimate.estimator.model.bse.iloc[1]) * width
        rows = []
        for method in chosen:
            res = model.refute_estimate(
                estimand, estimate, method_name=_DOWHY_NAME[method], **_kwargs(method, sims, seed)
            )
            rows.append(_row(method, res, est, se, sims))

    notes = []
    if dropped:
        notes.append(
            f"{dropped} left out of the adjustment: descendants of {e.treatment!r} would bias "
            "the total effect"
        )
    if dowhy_set is None:
        notes.append("DoWhy's own backdoor identification finds no adjustment set; ours is used")
    elif set(dowhy_set) != set(adjustment):
        notes.append(
            f"DoWhy's own backdoor set {{{', '.join(dowhy_set)}}} differs from the Bayesian "
            f"model's {{{', '.join(adjustment)}}}; the latter is used"
        )
    return RefutationResult(
        estimate=est,
        estimator=estimator_text(adjustment, group, e.treatment, fes),
        contrast=contrast,
        table=pd.DataFrame(rows, columns=_COLUMNS),
        std_error=se,
        n_obs=len(df),
        adjustment=adjustment,
        dowhy_adjustment=dowhy_set,
        simulations=sims,
        seed=seed,
        notes=tuple(notes),
    )
