"""Muting DoWhy: its loggers and its known warnings, nothing else, and safely across threads."""

from __future__ import annotations

import logging
import sys
import threading
import warnings

import pytest

from embedcausal.dag import CausalDAG
from embedcausal.identification.dowhy_adapter import (
    DOWHY_LOGGERS,
    KNOWN_DOWHY_WARNINGS,
    dowhy_record,
    quiet_dowhy,
)

DOWHY_CHILD = "dowhy.causal_identifier.auto_identifier"


def _dowhy_warning(category: type[Warning], message: str, module: str) -> None:
    """Issue a warning as if from the DoWhy module ``module``."""
    warnings.warn_explicit(message, category, f"{module.replace('.', '/')}.py", 1, module=module)


def test_dowhy_logs_are_muted_and_levels_restored():
    before = {n: logging.getLogger(n).level for n in DOWHY_LOGGERS}
    with quiet_dowhy():
        assert not logging.getLogger(DOWHY_CHILD).isEnabledFor(logging.CRITICAL)
    assert {n: logging.getLogger(n).level for n in DOWHY_LOGGERS} == before
    assert logging.getLogger(DOWHY_CHILD).isEnabledFor(logging.CRITICAL)


def test_standard_streams_are_not_replaced():
    out, err = sys.stdout, sys.stderr
    with quiet_dowhy():
        assert sys.stdout is out and sys.stderr is err


@pytest.mark.parametrize(
    ("category", "message", "module"),
    [
        (
            UserWarning,
            "2 variables are assumed unobserved because they are not in the dataset. Configure",
            "dowhy.causal_model",
        ),
        (
            DeprecationWarning,
            "The copy keyword is deprecated and will be removed in a future version.",
            "dowhy.causal_estimators.regression_estimator",
        ),
    ],
    ids=["latent-unobserved", "pandas-copy"],
)
def test_known_dowhy_warnings_are_filtered(category, message, module):
    assert len(KNOWN_DOWHY_WARNINGS) == 2
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_dowhy():
            _dowhy_warning(category, message, module)
        assert seen == []
        _dowhy_warning(category, message, module)  # outside the block it is shown again
        assert len(seen) == 1


def test_other_warnings_still_show():
    with pytest.warns(UserWarning, match="something new"), quiet_dowhy():
        _dowhy_warning(UserWarning, "something new", "dowhy.causal_model")
    with pytest.warns(RuntimeWarning, match="overflow"), quiet_dowhy():
        warnings.warn("overflow", RuntimeWarning, stacklevel=1)
    # the known message, but from somewhere else than DoWhy
    with pytest.warns(UserWarning, match="assumed unobserved"), quiet_dowhy():
        _dowhy_warning(UserWarning, "3 variables are assumed unobserved because", "mypkg")


def test_overlapping_threads_restore_levels_once_all_have_left():
    logger = logging.getLogger(DOWHY_LOGGERS[0])
    before = logger.level
    a_in, b_in, a_out, b_may_leave = (threading.Event() for _ in range(4))
    levels: dict[str, int] = {}

    def a() -> None:
        with quiet_dowhy():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with quiet_dowhy():
            b_in.set()
            a_out.wait(5)
            levels["b after a left"] = logging.getLogger(DOWHY_CHILD).getEffectiveLevel()
            b_may_leave.wait(5)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    a_out.wait(5)
    b_may_leave.set()
    for t in threads:
        t.join(5)
    assert levels["b after a left"] > logging.CRITICAL  # still muted for b
    assert logger.level == before  # restored, not left muted


def test_identification_through_dowhy_is_silent_and_records_its_answer(capsys):
    dag = CausalDAG.from_edges(["u -> x", "u -> y", "x -> m", "m -> y"], latent=["u"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning DoWhy emits that is not known fails here
        record = dowhy_record(dag, "x", "y", "ate")
    assert "error" not in record
    assert record["frontdoor_variables"] == ["m"]
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
