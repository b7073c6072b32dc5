"""Grid points: their keys (file names), their parameters (JSON data) and their validation."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedcausal.errors import EmbedcausalError

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VALUE = re.compile(r"[A-Za-z0-9.-]+")
#: Longest key: ``points/.<key>.nc.tmp-<pid>-<hex>`` must stay under the usual 255-byte name limit.
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class GridPoint:
    """One point of a grid.

    Parameters
    ----------
    key : str
        Unique, filesystem-safe id: a letter or digit, then letters, digits, ``.``, ``_`` or
        ``-`` (e.g. ``"t0.25_y0.5"``), at most 200 characters. The point's result is
        ``points/<key>.nc``. :func:`point_key` builds one from parameter values.
    params : dict
        JSON-serialisable parameters of this point (numpy scalars are accepted and stored as
        plain numbers). The task receives them as plain JSON data.

    Raises
    ------
    EmbedcausalError
        If the key is not filesystem-safe or ``params`` is not a dict.

    Examples
    --------
    >>> GridPoint("seed-3", {"seed": 3})
    GridPoint(key='seed-3', params={'seed': 3})
    """

    key: str
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.fullmatch(self.key):
            raise EmbedcausalError(
                f"grid key {self.key!r} is not filesystem-safe; expected a letter or digit "
                "followed by letters, digits, '.', '_' or '-'"
            )
        if len(self.key) > MAX_KEY_LENGTH:
            raise EmbedcausalError(
                f"grid key {self.key[:40]!r}... is {len(self.key)} characters long; expected at "
                f"most {MAX_KEY_LENGTH} (it is a file name)"
            )
        if not isinstance(self.params, dict):
            raise EmbedcausalError(
                f"grid point {self.key!r}: params is {type(self.params).__name__}; expected a dict"
            )


def _format_value(name: str, value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        text = repr(v).replace("e+", "e")  # the shortest text that reads back as the same float
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, str) and _VALUE.fullmatch(value):
        return value
    raise EmbedcausalError(
        f"point_key: {name} = {value!r:.60} ({type(value).__name__}); expected a number, a bool "
        "or a string of letters, digits, '.' and '-'"
    )


def point_key(prefix: str = "", /, **values: Any) -> str:
    """A grid key that names parameter values exactly: distinct values give distinct keys.

    Each value is written after its name and the parts are joined by ``_``. Floats use the
    shortest text that reads back as the same float (``repr``; ``0.1`` and ``0.1000001`` stay
    apart, where ``f"{x:g}"`` would give ``"0.1"`` for both), without a trailing ``.0`` and
    without the ``+`` of an exponent; ints and bools as text; strings as they are (letters,
    digits, ``.`` and ``-`` only).

    Parameters
    ----------
    prefix : str, optional
        Written first (e.g. the grid's name); empty for none.
    **values
        The parameter values, in the order they should appear.

    Returns
    -------
    str
        A key accepted by :class:`GridPoint`.

    Raises
    ------
    EmbedcausalError
        If a value is not a number, a bool or a filesystem-safe string, or the key is not
        valid (e.g. a prefix with a ``/``).

    Examples
    --------
    >>> point_key(t=0.5, m=0.0, y=-1.25)
    't0.5_m0_y-1.25'
    >>> point_key("conf", t=0.1), point_key("conf", t=0.1000001)
    ('conf_t0.1', 'conf_t0.1000001')
    >>> point_key("seed", n=1e-7)
    'seed_n1e-07'
    """
    parts = [prefix] if prefix else []
    parts += [f"{name}{_format_value(name, v)}" for name, v in values.items()]
    key = "_".join(parts)
    GridPoint(key)  # validates the result (a bad prefix, an empty key, its length)
    return key


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays as plain numbers, paths as strings."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} value {obj!r:.60} is not JSON-serialisable")


def jsonable(obj: Any, what: str, hint: str = "") -> Any:
    """``obj`` as plain JSON data (a round trip), so every execution mode sees the same types."""
    try:
        return json.loads(json.dumps(obj, default=json_default, allow_nan=True))
    except (TypeError, ValueError) as exc:
        raise EmbedcausalError(
            f"{what} is not JSON-serialisable ({exc}); expected str, numbers, bools, None, "
            f"lists and dicts with string keys{hint}"
        ) from None


def check_points(points: Sequence[GridPoint]) -> list[tuple[str, dict]]:
    """``[(key, params as JSON data), ...]`` in grid order, after checking the grid.

    Raises
    ------
    EmbedcausalError
        If an item is not a :class:`GridPoint`, params are not JSON data, or keys repeat
        (also when they differ only in case: they would share a file on macOS and Windows).
    """
    if isinstance(points, GridPoint | str | bytes) or not isinstance(points, Sequence):
        raise EmbedcausalError(
            f"run_grid: points is {type(points).__name__}; expected a list of GridPoint"
        )
    out: list[tuple[str, dict]] = []
    seen: dict[str, str] = {}
    dup: set[str] = set()
    for i, p in enumerate(points):
        if not isinstance(p, GridPoint):
            raise EmbedcausalError(
                f"grid point #{i} is {type(p).__name__}; expected embedcausal.parallel.GridPoint"
            )
        folded = p.key.casefold()
        if folded in seen:
            dup.update({seen[folded], p.key})
        seen.setdefault(folded, p.key)
        out.append((p.key, jsonable(p.params, f"grid point {p.key!r}: params")))
    if dup:
        raise EmbedcausalError(
            f"grid keys repeat: {sorted(dup)}; expected unique keys (compared ignoring case, "
            "as file names on macOS and Windows are)"
        )
    return out
