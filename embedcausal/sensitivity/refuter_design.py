"""What the refuters estimate: the Bayesian model's adjustment set and within-group split.

The frequentist estimate must answer the Bayesian model's question: the same adjustment set
(less descendants of the treatment), the within-group estimate by a Mundlak term when the model
splits the treatment (or the DAG identifies the effect only within a group), and optional fixed
effects; the rows are renamed to DAG nodes for DoWhy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from embedcausal.errors import DataError, EmbedcausalError
from embedcausal.plan import adjustment_for, identification_for
from embedcausal.spec import ModelSpec

__all__ = [
    "adjustment_set",
    "check_fixed_effects",
    "dag_frame",
    "estimator_text",
    "total_identification",
    "within_group",
]


def total_identification(spec: ModelSpec, ident: dict | None = None) -> tuple[dict, Any]:
    """The design's identification results and the one of the total effect.

    Parameters
    ----------
    spec : ModelSpec
        The model file.
    ident : dict, optional
        Identification results by estimand (a :class:`~embedcausal.plan.Design`'s); computed
        from ``spec`` when absent.

    Returns
    -------
    tuple of (dict, Identification)
        All results, and the total effect's (identified as an ATE when the design has none).
    """
    ident = dict(ident) if ident is not None else identification_for(spec)
    total = ident.get("total")
    if total is None:
        from embedcausal.identification import identify

        total = identify(spec, estimand="ate")
    return ident, total


def adjustment_set(spec: ModelSpec, ident: dict) -> tuple[tuple[str, ...], list[str]]:
    """The Bayesian model's covariates, less those that would bias the total effect.

    Parameters
    ----------
    spec : ModelSpec
        The model file.
    ident : dict
        Identification results by estimand (from :func:`total_identification`).

    Returns
    -------
    tuple of (tuple of str, list of str)
        The adjustment set (observed DAG nodes) and the covariates left out because they are
        descendants of the treatment.
    """
    dag = spec.dag()
    e = spec.estimand
    observed = set(dag.observed)
    skip = {e.treatment, e.mediator, e.outcome}
    desc = set(dag.descendants(e.treatment))
    nodes = [n for n in dict.fromkeys([*adjustment_for(ident), *spec.model.covariates])]
    nodes = [n for n in nodes if n in observed and n not in skip]
    dropped = [n for n in nodes if n in desc]
    return tuple(n for n in nodes if n not in desc), dropped


def within_group(spec: ModelSpec, total: Any) -> str | None:
    """The grouping of the Mundlak term, or ``None`` when the estimate is not a within one.

    Parameters
    ----------
    spec : ModelSpec
        The model file (its ``model.within_group`` and ``model.within_between``).
    total : Identification
        The total effect's identification; ``kind == "within"`` asks for a within estimate.

    Returns
    -------
    str or None
    """
    e = spec.estimand
    if getattr(total, "kind", None) == "within":
        return getattr(total, "within_group", None) or spec.model.within_group
    if e.treatment in spec.model.within_between:
        return spec.model.within_group
    return None


def dag_frame(
    spec: ModelSpec,
    frame: pd.DataFrame,
    adjustment: tuple[str, ...],
    group: str | None,
    fixed_effects: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """The rows with columns renamed to DAG nodes, plus the Mundlak term and fixed effects.

    Parameters
    ----------
    spec : ModelSpec
        The model file (node → column names).
    frame : pandas.DataFrame
        The validated rows.
    adjustment : tuple of str
        The adjustment set; these, the treatment and the outcome become floats.
    group : str or None
        Grouping column of the Mundlak term (the group mean of the treatment), if any.
    fixed_effects : sequence of str
        Grouping columns added as dummies (first level dropped).

    Returns
    -------
    tuple of (pandas.DataFrame, list of str)
        One column per observed node present, then the added columns; and the added names.
    """
    dag = spec.dag()
    used = [spec.estimand.outcome, spec.estimand.treatment, *adjustment]
    cols: dict[str, Any] = {}
    for node in dag.observed:
        col = spec.column(node)
        if col in frame.columns:
            s = frame[col]
            cols[node] = s.to_numpy(dtype=float) if node in used else s.to_numpy()
    df = pd.DataFrame(cols)
    extra: list[str] = []
    if group is not None:
        name = f"{spec.estimand.treatment}__mean_by_{group}"
        t = frame[spec.column(spec.estimand.treatment)].astype(float)
        df[name] = t.groupby(frame[group].to_numpy()).transform("mean").to_numpy()
        extra.append(name)
    for g in fixed_effects:
        levels = pd.Categorical(frame[g])
        for i, _level in enumerate(levels.categories[1:], start=1):
            name = f"{g}__fe{i}"
            df[name] = (levels.codes == i).astype(float)
            extra.append(name)
    return df, extra


def estimator_text(
    adjustment: Sequence[str], group: str | None, treatment: str, fixed_effects: Sequence[str]
) -> str:
    """What was fitted, in words (``RefutationResult.estimator``).

    Parameters
    ----------
    adjustment : sequence of str
        The adjustment set.
    group : str or None
        Grouping of the Mundlak term, if any.
    treatment : str
        The treatment node.
    fixed_effects : sequence of str
        Grouping columns added as fixed effects.

    Returns
    -------
    str
    """
    adj = "{" + ", ".join(adjustment) + "}" if adjustment else "{} (none needed)"
    text = f"linear probability model (OLS), backdoor adjustment {adj}"
    if group is not None:
        text += (
            f"; within-{group} estimate (Mundlak: the {group} mean of {treatment} is added as a "
            "covariate)"
        )
    if fixed_effects:
        text += f"; fixed effects for {', '.join(fixed_effects)}"
    return text


def check_fixed_effects(
    fixed_effects: Sequence[str], frame: pd.DataFrame, group: str | None, source: str
) -> list[str]:
    """The fixed-effect columns, deduplicated, after checking them against the rows.

    Parameters
    ----------
    fixed_effects : str or sequence of str
        Grouping columns asked for.
    frame : pandas.DataFrame
        The validated rows.
    group : str or None
        Grouping of the Mundlak term (it cannot also be a fixed effect).
    source : str
        Where the rows come from, for error messages.

    Returns
    -------
    list of str

    Raises
    ------
    DataError
        A column is missing or has missing values.
    EmbedcausalError
        A column is the Mundlak term's grouping.
    """
    if isinstance(fixed_effects, str):
        fixed_effects = [fixed_effects]
    out = list(dict.fromkeys(fixed_effects))
    for g in out:
        if g not in frame.columns:
            raise DataError(
                f"{source}: fixed-effect column {g!r} not found "
                f"(columns: {', '.join(map(str, frame.columns[:30]))})"
            )
        if g == group:
            raise EmbedcausalError(
                f"fixed effect {g!r} is the within group of the Mundlak term; the {g} mean of "
                "the treatment already stands in for it. Expected another grouping (e.g. mission)"
            )
        if frame[g].isna().any():
            raise DataError(f"{source}: fixed-effect column {g!r} has missing values")
    return out
