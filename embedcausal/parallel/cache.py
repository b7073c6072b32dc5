"""The worker cache: build an expensive object (a compiled model) once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[str, threading.Lock] = {}


def worker_cache[T](key: str, factory: Callable[[], T]) -> T:
    """Return the object cached under ``key`` in this process, building it once with ``factory``.

    The cache is a plain per-process dict: it works the same in-process (``jobs=1``), in a
    local pool process and on a Dask worker. Each process builds its own copy the first time
    one of its tasks asks for it and then reuses it for every later point it runs, so a task
    can compile a model once per model structure and only swap data between points.

    Choose ``key`` so that it changes whenever the cached object would (hash the model file
    and data, not just the name). Building is serialised per key, so two threads of one Dask
    worker never build the same object twice; using one cached object from several threads
    at once is the task's concern (run PyMC fits with ``threads_per_worker=1``).

    Parameters
    ----------
    key : str
        Cache key.
    factory : callable
        Called with no arguments to build the object when ``key`` is not cached yet. If it
        raises, nothing is cached.

    Returns
    -------
    object
        The cached object.

    Examples
    --------
    >>> built = []
    >>> worker_cache("doc-example", lambda: built.append(1) or "model")
    'model'
    >>> worker_cache("doc-example", lambda: built.append(2) or "other")
    'model'
    >>> built
    [1]

    In a task::

        def fit_point(payload):
            model = worker_cache(f"model-{payload['spec_hash']}", lambda: compile_model(...))
            ...
    """
    try:
        return _CACHE[key]
    except KeyError:
        pass
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _CACHE:
            _CACHE[key] = factory()
        return _CACHE[key]


def clear_worker_cache() -> None:
    """Drop everything :func:`worker_cache` holds in this process (e.g. compiled models).

    Examples
    --------
    >>> clear_worker_cache()
    """
    with _CACHE_LOCK:
        _CACHE.clear()
        _KEY_LOCKS.clear()
