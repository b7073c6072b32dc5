"""Session fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_run_dir(tmp_path_factory):
    """A saved run directory of a small simulated fit (see ``tests/_runs.py``)."""
    from _runs import small_run_dir

    return small_run_dir(tmp_path_factory.mktemp("small_run"))


@pytest.fixture(scope="session")
def small_run(small_run_dir):
    """The saved small run, loaded with its log-likelihood."""
    from embedcausal.runs import load_run

    return load_run(small_run_dir)
