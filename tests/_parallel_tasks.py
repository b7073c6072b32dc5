"""Task functions for tests/test_parallel.py (importable by worker processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

from embedcausal.parallel import worker_cache


def square(payload: dict) -> xr.Dataset:
    """Records each call in ``payload['log']`` (one file per call) and returns x**2 draws."""
    x = float(payload["params"]["x"])
    log = Path(payload["log"])
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{x}-{os.getpid()}-{time.time_ns()}").touch()
    time.sleep(float(payload.get("sleep", 0.0)))
    built = worker_cache("offset", lambda: {"pid": os.getpid(), "calls": 0})
    built["calls"] += 1
    draws = np.full((1, 3), x**2)
    ds = xr.Dataset({"y": (("chain", "draw"), draws)})
    ds.attrs.update({"x": x, "pid": os.getpid(), "cache_calls": built["calls"], "ok": True})
    return ds


def fail_on_two(payload: dict) -> xr.Dataset:
    """Fails for x == 2."""
    if payload["params"]["x"] == 2:
        raise ValueError("x must not be 2")
    return square(payload)
