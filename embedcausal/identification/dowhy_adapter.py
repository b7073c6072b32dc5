"""Asking DoWhy for an estimand, quietly, and saying where the graph disagrees with it.

DoWhy is a second opinion: :func:`dowhy_record` asks ``CausalModel.identify_effect`` and
records the answer as a plain dict; :func:`total_disagreements` and
:func:`natural_disagreements` word the differences from the graph's own answer (the graph
wins). :func:`quiet_dowhy` mutes DoWhy around any call into it (also used by
:mod:`embedcausal.sensitivity.refute`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from embedcausal.dag import CausalDAG
from embedcausal.identification.assumptions import paths_text, set_text
from embedcausal.identification.criteria import GraphCriteria
from embedcausal.identification.result import ESTIMANDS

__all__ = ["dowhy_record", "natural_disagreements", "quiet_dowhy", "total_disagreements"]


@contextlib.contextmanager
def quiet_dowhy() -> Iterator[None]:
    """Mute DoWhy: its warnings, its log records, numpy floating-point warnings and prints."""
    logger = logging.getLogger("dowhy")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            np.errstate(all="ignore"),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _strs(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return sorted(str(v) for v in value)


def dowhy_record(dag: CausalDAG, t: str, y: str, estimand: str) -> dict:
    """What DoWhy's identifier says, as a plain dict (``{"error": ...}`` if it failed).

    Parameters
    ----------
    dag : CausalDAG
        The graph (latent nodes are left out of DoWhy's empty data frame, so DoWhy treats them
        as unobserved).
    t, y : str
        Treatment and outcome.
    estimand : {"ate", "nde", "nie"}
        The effect.

    Returns
    -------
    dict
        ``estimand_type`` and either ``error`` or ``estimands`` (the kinds DoWhy found),
        ``backdoor_variables``, ``frontdoor_variables``, ``instrumental_variables`` and
        ``mediator_variables``.
    """
    record: dict[str, Any] = {"estimand_type": ESTIMANDS[estimand]}
    try:
        with quiet_dowhy():
            import dowhy

            data = pd.DataFrame({c: pd.Series(dtype=float) for c in dag.observed})
            model = dowhy.CausalModel(data=data, treatment=t, outcome=y, graph=dag.to_gml())
            est = model.identify_effect(
                estimand_type=ESTIMANDS[estimand], proceed_when_unidentifiable=False
            )
    except Exception as exc:  # DoWhy is a second opinion; its failure is recorded, not fatal
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    estimands = est.estimands or {}
    record["estimands"] = sorted(
        k
        for k, v in estimands.items()
        if v is not None and k in ("backdoor", "frontdoor", "iv", "mediation", "general_adjustment")
    )
    backdoor = (est.backdoor_variables or {}).get("backdoor")
    record["backdoor_variables"] = _strs(backdoor) if estimands.get("backdoor") else None
    record["frontdoor_variables"] = _strs(est.frontdoor_variables) or []
    record["instrumental_variables"] = _strs(est.instrumental_variables) or []
    record["mediator_variables"] = _strs(est.mediator_variables) or []
    return record


def total_disagreements(
    graph: GraphCriteria,
    t: str,
    y: str,
    record: dict,
    kind: str | None,
    chosen: tuple[str, ...] | None,
    frontdoor: list[tuple[str, ...]],
    instruments: list[str],
    open_paths: list[str],
) -> list[str]:
    """Notes on where DoWhy's answer for a total effect differs from the graph's."""
    if "error" in record:
        return [f"DoWhy failed ({record['error']}); the graph's own answer is reported"]
    notes = []
    bd = record.get("backdoor_variables")
    if bd is not None and not graph.backdoor_valid(t, y, set(bd)):
        opened = paths_text(open_paths) or "a backdoor path"
        notes.append(
            f"DoWhy returned the backdoor set {set_text(bd)} although {opened} stays open; "
            "overridden"
        )
    elif bd is None and kind == "backdoor":
        notes.append(f"DoWhy found no backdoor set; the graph gives {set_text(chosen or ())}")
    fd = record.get("frontdoor_variables") or []
    if fd and tuple(fd) not in frontdoor:
        notes.append(f"DoWhy's frontdoor set {set_text(fd)} fails the frontdoor criterion")
    if kind == "frontdoor" and not fd:
        notes.append(f"DoWhy found no frontdoor set; the graph gives {set_text(frontdoor[0])}")
    iv = record.get("instrumental_variables") or []
    if sorted(iv) != sorted(instruments):
        notes.append(
            f"DoWhy's instruments {set_text(iv)} differ from those the graph gives "
            f"{set_text(instruments)}"
        )
    return notes


def natural_disagreements(
    record: dict, kind: str | None, m: str, open_paths: list[str]
) -> list[str]:
    """Notes on where DoWhy's answer for a natural effect differs from the graph's."""
    if "error" in record:
        return [f"DoWhy failed ({record['error']}); the graph's own answer is reported"]
    notes = []
    claims = "mediation" in record.get("estimands", [])
    if claims and kind is None:
        if open_paths:
            what = f"the backdoor path {paths_text(open_paths)} is open"
        else:
            what = "the graph's conditions for natural effects fail"
        notes.append(f"DoWhy returned a mediation estimand although {what}; overridden")
    if claims and kind == "within":
        notes.append(
            "DoWhy returned a mediation estimand without adjusting for the latent confounder; "
            "the graph identifies the effect only within group"
        )
    if not claims and kind == "mediation":
        notes.append("DoWhy returned no mediation estimand; the graph's own check identifies it")
    dm = record.get("mediator_variables") or []
    if claims and dm and dm != [m]:
        notes.append(f"DoWhy picked the mediator {set_text(dm)}; embedcausal uses {m}")
    return notes
