"""Task functions for tests/test_parallel.py (importable by worker processes).

Every task records each call as an empty file ``<x>-<pid>-<ns>`` in ``payload["log"]`` so that
tests can count how often each point was computed and by which process.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import xarray as xr

from embedcausal.parallel import worker_cache


def _record(payload: dict) -> float:
    x = float(payload["params"]["x"])
    log = Path(payload["log"])
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{x}-{os.getpid()}-{time.time_ns()}").touch()
    return x


def square(payload: dict) -> xr.Dataset:
    """x**2 draws (dims chain, draw); counts its calls through one worker_cache object."""
    x = _record(payload)
    time.sleep(float(payload.get("sleep", 0.0)))
    built = worker_cache("square-counter", lambda: {"calls": 0})
    built["calls"] += 1
    ds = xr.Dataset({"y": (("chain", "draw"), np.full((2, 3), x**2))})
    ds.attrs.update({"x": x, "pid": os.getpid(), "cache_calls": built["calls"]})
    return ds


def fail_on_two(payload: dict) -> xr.Dataset:
    """Like :func:`square` but raises for x == 2."""
    if payload["params"]["x"] == 2:
        _record(payload)
        raise ValueError("x must not be 2")
    return square(payload)


def die_on_two(payload: dict) -> xr.Dataset:
    """Like :func:`square` but the worker process kills itself (SIGKILL) for x == 2."""
    if payload["params"]["x"] == 2:
        _record(payload)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)
    return square(payload)


def with_attrs(payload: dict) -> xr.Dataset:
    """A dataset whose attributes are those in ``payload["params"]["attrs"]``."""
    ds = xr.Dataset({"y": ("draw", np.arange(3.0))})
    ds.attrs.update(payload["params"]["attrs"])
    return ds


def not_a_dataset(payload: dict) -> dict:
    """Returns a dict instead of a Dataset."""
    return {"y": payload["params"]["x"]}
