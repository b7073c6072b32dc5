"""The one JSON helper: strict JSON from NumPy values, arrays, paths and non-finite numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from embedcausal.serialize import dumps, json_safe, plain


def test_json_safe_converts_nested_values():
    obj = {
        "nan": math.nan,
        "inf": np.float64(-np.inf),
        "int": np.int64(3),
        "bool": np.bool_(True),
        "array": np.array([[1.5, np.nan], [2.0, 3.0]]),
        "path": Path("runs") / "a",
        "tuple": (np.float32(0.5), "x", None),
    }
    out = json_safe(obj)
    assert out == {
        "nan": None,
        "inf": None,
        "int": 3,
        "bool": True,
        "array": [[1.5, None], [2.0, 3.0]],
        "path": str(Path("runs") / "a"),
        "tuple": [0.5, "x", None],
    }
    assert type(out["int"]) is int and type(out["bool"]) is bool
    assert json.loads(dumps(obj)) == out


def test_dumps_is_strict_and_indented():
    text = dumps({"a": [float("inf")], "b": np.arange(2)})
    assert "Infinity" not in text and "NaN" not in text
    assert text.startswith('{\n  "a"')
    assert json.loads(text) == {"a": [None], "b": [0, 1]}


def test_plain_keeps_non_finite_numbers_for_run_json():
    # run.json keeps NaN (read back as NaN); plain converts only what json cannot write
    text = json.dumps({"r_hat": np.float64(np.nan), "x": np.arange(3)}, default=plain)
    assert json.loads(text)["x"] == [0, 1, 2]
    assert math.isnan(json.loads(text)["r_hat"])
