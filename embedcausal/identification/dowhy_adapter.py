"""Asking DoWhy for an estimand, quietly, and saying where the graph disagrees with it.

DoWhy is a second opinion: :func:`dowhy_record` asks ``CausalModel.identify_effect`` and
records the answer as a plain dict; :func:`total_disagreements` and
:func:`natural_disagreements` word the differences from the graph's own answer (the graph
wins). :func:`quiet_dowhy` mutes DoWhy around any call into it (also used by
:mod:`embedcausal.sensitivity.refuters`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd

from embedcausal.dag import CausalDAG
from embedcausal.identification.assumptions import paths_text, set_text
from embedcausal.identification.criteria import GraphCriteria
from embedcausal.identification.result import ESTIMANDS

__all__ = [
    "DOWHY_LOGGERS",
    "KNOWN_DOWHY_WARNINGS",
    "dowhy_record",
    "natural_disagreements",
    "quiet_dowhy",
    "total_disagreements",
]


#: DoWhy's loggers. Every DoWhy module logs to ``logging.getLogger(__name__)`` and none sets
#: its own level, so the level of their parent ``dowhy`` decides for all of them.
DOWHY_LOGGERS = ("dowhy",)

#: Warnings DoWhy 0.14 is known to emit on embedcausal's calls, all harmless here, as
#: ``(category, message regex, module regex)``; every other warning is shown as usual.
KNOWN_DOWHY_WARNINGS: tuple[tuple[type[Warning], str, str], ...] = (
    # CausalModel(...) when the graph has latent nodes: they are left out of the data on
    # purpose, so that DoWhy treats them as unobserved.
    (
        UserWarning,
        r"\d+ variables are assumed unobserved because they are not in the dataset",
        r"dowhy\.causal_model",
    ),
    # pandas >= 3 deprecates ``astype(copy=False)``, which DoWhy's regression estimators call
    # (a pandas4 deprecation, a DeprecationWarning subclass); the result is unaffected.
    (
        DeprecationWarning,
        r"The copy keyword is deprecated",
        r"dowhy\.causal_estimators\.",
    ),
)

# The level of a logger and the warnings filters are process-wide state. Threads (a threaded
# Dask worker runs tasks side by side) may enter quiet_dowhy() concurrently, so the state is
# changed by the first thread in and restored by the last one out: otherwise a thread leaving
# first would restore the levels while another is still inside, and the one leaving last
# would "restore" the muted levels for good. (The warnings filters can only be saved and
# restored as a whole before Python 3.14's context-aware warnings, so a filter that other
# code installs *while* DoWhy runs is dropped when the last thread leaves.)
_lock = threading.Lock()
_depth = 0
_saved_levels: dict[str, int] = {}
_filters: warnings.catch_warnings | None = None


def _mute() -> None:
    global _depth, _filters
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        for name in DOWHY_LOGGERS:
            logger = logging.getLogger(name)
            _saved_levels[name] = logger.level
            logger.setLevel(logging.CRITICAL + 1)
        _filters = warnings.catch_warnings()
        _filters.__enter__()
        for category, message, module in KNOWN_DOWHY_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category, module=module)


def _unmute() -> None:
    global _depth, _filters
    with _lock:
        _depth -= 1
        if _depth > 0:
            return
        for name, level in _saved_levels.items():
            logging.getLogger(name).setLevel(level)
        _saved_levels.clear()
        if _filters is not None:
            _filters.__exit__(None, None, None)
            _filters = None


@contextlib.contextmanager
def quiet_dowhy() -> Iterator[None]:
    """Mute DoWhy inside the block: its log records and its known, harmless warnings.

    The ``dowhy`` loggers (:data:`DOWHY_LOGGERS`) are raised above ``CRITICAL`` and the
    warnings in :data:`KNOWN_DOWHY_WARNINGS` are ignored; both are restored on leaving (by the
    last thread to leave, when several are inside). Any other warning is shown as usual:
    it is news, not noise.

    ``sys.stdout`` and ``sys.stderr`` are left alone (redirecting them is process-wide and
    would swallow other threads' output): the DoWhy calls embedcausal makes do not print.
    DoWhy 0.14 prints only from ``CausalModel.summary(print_to_stdout=True)``, its plotting,
    dataset and interpreter helpers and the ``add_unobserved_common_cause`` refuter, none of
    which embedcausal calls; the refuters' progress bars are off unless asked for
    (``show_progress_bar``).

    Examples
    --------
    >>> with quiet_dowhy():  # doctest: +SKIP
    ...     model = dowhy.CausalModel(data=df, treatment="t", outcome="y", graph=gml)
    """
    _mute()
    try:
        yield
    finally:
        _unmute()


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
    """Notes on where DoWhy's answer for a total effect differs from the graph's.

    Parameters
    ----------
    graph : GraphCriteria
        The graph's criteria.
    t, y : str
        Treatment and outcome.
    record : dict
        DoWhy's answer (:func:`dowhy_record`).
    kind, chosen : str or None, tuple of str or None
        How the graph identifies the effect, and the adjustment set used.
    frontdoor, instruments : list
        The graph's frontdoor sets and instruments.
    open_paths : list of str
        Backdoor paths the graph's best observed adjustment leaves open.

    Returns
    -------
    list of str
        One sentence per disagreement (empty when DoWhy agrees).
    """
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
    """Notes on where DoWhy's answer for a natural effect differs from the graph's.

    Parameters
    ----------
    record : dict
        DoWhy's answer (:func:`dowhy_record`).
    kind : str or None
        How the graph identifies the effect (``"mediation"``, ``"within"`` or ``None``).
    m : str
        The mediator.
    open_paths : list of str
        Backdoor paths left open.

    Returns
    -------
    list of str
        One sentence per disagreement (empty when DoWhy agrees).
    """
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
