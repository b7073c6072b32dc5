"""A sweep task that counts, in whatever process runs it, the calls a worker must not make.

Imported by worker processes (tests/test_sensitivity.py): at import it wraps the one function
that asks DoWhy (``identifier.dowhy_record``) and ``pandas.read_csv`` with counters.
"""

from __future__ import annotations

import os

import pandas as pd
import xarray as xr

import embedcausal.identification.identifier as identifier

CALLS = {"dowhy": 0, "read_csv": 0}
_dowhy, _read_csv = identifier.dowhy_record, pd.read_csv


def _count_dowhy(*args, **kwargs):
    CALLS["dowhy"] += 1
    return _dowhy(*args, **kwargs)


def _count_read_csv(*args, **kwargs):
    CALLS["read_csv"] += 1
    return _read_csv(*args, **kwargs)


identifier.dowhy_record = _count_dowhy
pd.read_csv = _count_read_csv


def counted_point(design, params) -> xr.Dataset:
    """``confounding.fit_point`` with the counts and the worker's pid as attributes."""
    from embedcausal.sensitivity.confounding import fit_point

    ds = fit_point(design, params)
    ds.attrs.update({"dowhy_calls": CALLS["dowhy"], "read_csv_calls": CALLS["read_csv"]})
    ds.attrs["pid"] = os.getpid()
    return ds


def counted_rho_point(design, params) -> xr.Dataset:
    """``rho.fit_rho_point`` with the counts and the worker's pid as attributes."""
    from embedcausal.sensitivity.rho import fit_rho_point

    ds = fit_rho_point(design, params)
    ds.attrs.update({"dowhy_calls": CALLS["dowhy"], "read_csv_calls": CALLS["read_csv"]})
    ds.attrs["pid"] = os.getpid()
    return ds
