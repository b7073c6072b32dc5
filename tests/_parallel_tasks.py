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


def interrupt_on_two(payload: dict) -> xr.Dataset:
    """Like :func:`square` but raises KeyboardInterrupt for x == 2 (wherever it runs)."""
    if payload["params"]["x"] == 2:
        _record(payload)
        raise KeyboardInterrupt
    return square(payload)


def sigint_self_on_two(payload: dict) -> xr.Dataset:
    """Like :func:`square` but sends SIGINT to its own process for x == 2, then goes on."""
    if payload["params"]["x"] == 2:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the signal arrives here
    return square(payload)


class _InterruptWhenCollected:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # KeyboardInterrupt is raised here, inside __del__: Python drops it


def lose_ctrl_c_on_two(payload: dict) -> xr.Dataset:
    """Like :func:`square`, but for x == 2 a Ctrl-C arrives inside a ``__del__`` and is lost."""
    if payload["params"]["x"] == 2:
        _InterruptWhenCollected()
    return square(payload)


class Design:
    """A stand-in for a prepared design: picklable, not JSON data, a few arrays.

    Every unpickling leaves an empty file ``unpickled-<pid>-<ns>`` in ``log``, so tests can
    count how often (and in which processes) the context was deserialised.
    """

    def __init__(self, log: str | Path, scale: float, sleep: float = 0.0) -> None:
        self.log = str(log)
        self.scale = scale
        self.sleep = sleep
        self.data = np.arange(10_000.0)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        Path(self.log).mkdir(parents=True, exist_ok=True)
        (Path(self.log) / f"unpickled-{os.getpid()}-{time.time_ns()}").touch()


def scaled(design: Design, params: dict) -> xr.Dataset:
    """``scale * x**2`` draws for the two-argument convention ``task(context, params)``."""
    x = _record({"params": params, "log": str(Path(design.log) / "calls")})
    time.sleep(design.sleep)
    ds = xr.Dataset({"y": (("chain", "draw"), np.full((2, 3), design.scale * x**2))})
    ds.attrs.update({"x": x, "pid": os.getpid(), "context_id": id(design)})
    return ds


def echo_context(context: list, params: dict) -> xr.Dataset:
    """A non-dict JSON context, passed as it is."""
    return xr.Dataset({"y": ("i", np.asarray(context, dtype=float) * params["x"])})
