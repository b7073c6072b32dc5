"""Results as JSON: the one conversion of NumPy, pandas and path values to plain Python.

Every ``to_dict`` and every JSON file the library writes goes through here: :func:`json_safe`
makes a strict-JSON copy (NaN and ±inf become ``null``), :func:`dumps` writes it, and
:func:`plain` is the ``default=`` hook for :func:`json.dumps` where non-finite numbers are kept
(``run.json``, read back by :func:`embedcausal.runs.load_run`).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

__all__ = ["dumps", "json_safe", "plain"]


def plain(obj: Any) -> Any:
    """One value as plain Python: NumPy scalars as numbers, arrays as lists, paths as text.

    Parameters
    ----------
    obj : object
        A value :mod:`json` cannot write by itself.

    Returns
    -------
    object
        ``obj.item()`` for a NumPy scalar, ``obj.tolist()`` for an array, ``str(obj)`` for
        anything else (paths, timestamps).
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def json_safe(obj: Any) -> Any:
    """A strict-JSON copy: NaN and ±inf become ``None``, NumPy values plain Python.

    Parameters
    ----------
    obj : object
        Nested dicts, lists and tuples of numbers, strings, NumPy values and paths.

    Returns
    -------
    object
        The same structure (tuples and arrays as lists) that ``json.dumps(...,
        allow_nan=False)`` accepts.
    """
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic | np.ndarray):
        return json_safe(plain(obj))
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, str | int | float):
        return obj
    return plain(obj)


def dumps(obj: Any) -> str:
    """Strict JSON text of ``obj`` (see :func:`json_safe`), indented by two spaces."""
    return json.dumps(json_safe(obj), indent=2, allow_nan=False)
