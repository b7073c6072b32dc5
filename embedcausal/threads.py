"""BLAS threads while other compiled code runs in parallel.

nutpie samples chains in threads of this process, and the g-computation's kernels run draws
in numba's threads; a multithreaded OpenBLAS called from them, or beside them, both rounds
differently from run to run and, on a loaded 2-core machine, made each small matrix product
of the counterfactual predictors ~100× slower (24 ms against 0.2 ms; ``docs/performance.md``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread in this process for the duration (threadpoolctl).

    Concurrent callers of a multithreaded OpenBLAS get results whose rounding depends on
    which of them held the thread pool; with one thread per caller every dot product is
    summed in one order, so a seed gives the same draws whatever else the machine runs.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
