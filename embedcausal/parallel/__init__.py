"""Running many fits: in-process, on local processes, or on a Dask distributed cluster.

Sensitivity grids and simulation studies are lists of :class:`GridPoint`\\ s. :func:`run_grid`
runs a task on each point and writes each result, an ``xarray.Dataset``, to
``out_dir/points/<key>.nc`` the moment it is done (atomically: a file under its final name is
a finished point, and nothing else is). An interrupted run — Ctrl-C, a killed worker or a
killed parent process — continues with ``resume=True`` and computes only the missing points.

Execution is delegated to one ``concurrent.futures`` loop: ``jobs == 1`` runs in this process
(so a task can reuse a compiled model across points, :func:`worker_cache`), ``jobs > 1`` uses
the standard library's ``ProcessPoolExecutor`` (spawned processes), and
``scheduler="tcp://HOST:PORT"`` a Dask distributed cluster
(``pip install 'embedcausal[distributed]'``). The grid's ``context`` reaches each worker
process once: a dict of JSON settings (the task gets ``{**context, "params": params}``) or
any picklable object (the task gets ``(context, params)``). See ``docs/parallel.md``.

Modules: :mod:`.points` (grid points and keys), :mod:`.store` (the result directory),
:mod:`.results` (reading it back), :mod:`.executor` (where points run, the loop),
:mod:`.worker` (what runs in a worker), :mod:`.cache` (:func:`worker_cache`), :mod:`.run`
(:func:`run_grid`).
"""

from __future__ import annotations

from embedcausal.parallel.cache import clear_worker_cache, worker_cache
from embedcausal.parallel.points import GridPoint, point_key
from embedcausal.parallel.results import GridResult
from embedcausal.parallel.run import run_grid

__all__ = [
    "GridPoint",
    "GridResult",
    "clear_worker_cache",
    "point_key",
    "run_grid",
    "worker_cache",
]
