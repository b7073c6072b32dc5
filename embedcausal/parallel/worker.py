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
import time
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


def start_pool_worker(parent_pid: int, token: str, blob: bytes, pids: Any) -> None:
    """Initializer of a local pool process: runs once per process, before its first point.

    Ctrl-C is the parent's to handle (it stops the workers), so SIGINT is ignored here; the
    process reports its pid to the parent (``pids``, a queue) so that the parent can stop it,
    exits by itself if the parent dies, and unpickles the context (``blob``) once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pids.put(os.getpid())
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), daemon=True, name="embedcausal-watch-parent"
    ).start()
    _INSTALLED.clear()  # one grid per pool: nothing of an earlier one stays alive
    _INSTALLED[token] = pickle.loads(blob)


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:  # the parent was killed: do not run on as an orphan
            os._exit(1)
