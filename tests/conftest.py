"""Session fixtures shared by several test modules."""

from __future__ import annotations

import dowhy  # noqa: F401
import pytest

# DoWhy is imported here so that identification asks it in this process: without it each new
# graph starts a child process that imports DoWhy (embedcausal.identification.dowhy_adapter),
# a few seconds for each of the suite's many graphs. test_dowhy_adapter checks the
# child's answers against this process's.


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
