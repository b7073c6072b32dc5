"""What runs where the points run: the context installed once, then one call per point.

The grid's context reaches a worker once, not once per point:

* in this process (``jobs=1``) the task gets the very object passed to ``run_grid``;
* a local pool process unpickles it once, in :func:`start_pool_worker` (the pool's
  ``initializer``), and each point's call carries only an :class:`Installed` token;
* a Dask worker holds it once (``client.scatter(..., broadcast=True)``); each point's call
  carries the Dask future, which the worker resolves to the object it holds.

:func:`run_point` then calls the task by the grid's convention: a dict context gives
``task({**context, "params": params})``, any other object ``task(context, params)``.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Contexts installed in this process by start_pool_worker, by run token.
_INSTALLED: dict[str, Any] = {}


@dataclass(frozen=True)
class Installed:
    """Stands for the context that :func:`start_pool_worker` installed under ``token``."""

    token: str


def run_point(task: Callable[..., Any], context: Any, params: dict) -> Any:
    """Run ``task`` on one point's ``params`` with the grid's ``context``.

    A dict context (JSON data) is merged with the parameters into one payload,
    ``task({**context, "params": params})``; any other object is passed as it is,
    ``task(context, params)``.
    """
    if isinstance(context, Installed):
        context = _INSTALLED[context.token]
    if isinstance(context, dict):
        return task({**context, "params": params})
    return task(context, params)


def start_pool_worker(parent_pid: int, token: str, blob: bytes, pids: Any, abort: Any) -> None:
    """Initializer of a local pool process: runs once per process, before its first point.

    Ctrl-C is the parent's to handle, so SIGINT is ignored here. The process reports its pid
    (``pids``, a queue) so that the parent can stop it, exits at once when the parent sets
    ``abort`` (an event; also when it is already set, for a process that was still starting)
    or dies, and unpickles the context (``blob``) once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pids.put(os.getpid())
    if abort.is_set():
        os._exit(1)
    threading.Thread(
        target=_watch_parent,
        args=(parent_pid, abort),
        daemon=True,
        name="embedcausal-watch-parent",
    ).start()
    _INSTALLED.clear()  # one grid per pool: nothing of an earlier one stays alive
    _INSTALLED[token] = pickle.loads(blob)


def _watch_parent(parent_pid: int, abort: Any) -> None:
    while True:
        # the parent stopped the grid, or was killed: do not run on
        if abort.wait(1.0) or os.getppid() != parent_pid:
            os._exit(1)
