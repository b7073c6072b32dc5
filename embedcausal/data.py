"""Reading and validating a panel against a model file.

Validation happens here, at the edge, before any model is built: every problem is a
:class:`~embedcausal.errors.DataError` naming the column, the offending rows and what was
expected. Nothing is silently dropped or imputed; rows with missing values are dropped only
when the model file says ``data.missing = "drop"``, and the dropped rows are recorded.
Turning the validated rows into model inputs is :mod:`embedcausal.prepared`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from embedcausal.errors import DataError, close_matches
from embedcausal.spec import ModelSpec

MAX_ROWS_SHOWN = 5


def _rows(index: Iterable, n_total: int | None = None) -> str:
    labels = list(index)
    n = len(labels) if n_total is None else n_total
    shown = ", ".join(map(str, labels[:MAX_ROWS_SHOWN]))
    more = f", … ({n} rows in all)" if n > MAX_ROWS_SHOWN else f" ({n} row{'s' * (n != 1)})"
    return f"rows {shown}{more}"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame; errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: data file not found")
    try:
        if p.suffix.lower() == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{p}: cannot read as a table: {exc}") from None


def load_data(spec: ModelSpec) -> pd.DataFrame:
    """Read the data file named by the model file (``data.path``)."""
    return read_table(spec.data_path)


def _check_columns(frame: pd.DataFrame, columns: dict[str, str], source: str) -> None:
    for what, col in columns.items():
        if col not in frame.columns:
            close = close_matches(col, frame.columns)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(
                f"{source}: column {col!r} ({what}) not found{hint} "
                f"(columns: {', '.join(map(str, frame.columns[:30]))})"
            )


def _numeric(frame: pd.DataFrame, col: str, what: str, source: str) -> np.ndarray:
    s = frame[col]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s):
        bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
        raise DataError(
            f"{source}: column {col!r} ({what}) must be numeric, got dtype {s.dtype}; "
            f"non-numeric values such as {bad.iloc[0]!r} in {_rows(bad.index)}"
        )
    return s.to_numpy(dtype=float)


def validate(
    spec: ModelSpec,
    frame: pd.DataFrame,
    *,
    adjustment: Sequence[str] = (),
    source: str | None = None,
) -> tuple[pd.DataFrame, list]:
    """Check a panel against a model file and return the rows to use.

    Checks, each a one-line :class:`DataError` naming the column and rows: every DAG node
    that the model uses and every grouping column exists; no latent node is a column;
    no missing values in used columns (unless ``data.missing = "drop"``); the outcome is
    0/1; numeric columns are numeric; count mediators are non-negative integers; each
    grouping has at least two levels; the treatment is not constant; no duplicate rows.

    Returns
    -------
    frame : pandas.DataFrame
        The rows to use (all rows, or those without missing values when dropping).
    dropped : list
        Index labels of the rows dropped for missing values.
    """
    source = source or str(spec.data_path)
    dag = spec.dag()
    for node in dag.latent:
        if spec.column(node) in frame.columns:
            raise DataError(
                f"{source}: column {spec.column(node)!r} is the latent node {node!r} of the DAG; "
                "a latent node must not be observed (remove it from dag.latent or rename the "
                "column)"
            )
    used = used_nodes(spec, adjustment)
    needed = {f"node {n}": spec.column(n) for n in used}
    needed.update({f"grouping {g}": g for g in spec.groupings})
    _check_columns(frame, needed, source)
    cols = list(dict.fromkeys(needed.values()))

    if spec.data.key:
        _check_columns(frame, {f"data.key {k}": k for k in spec.data.key}, source)
        dupk = frame.duplicated(subset=spec.data.key, keep="first")
        if dupk.any():
            first = frame.loc[dupk, spec.data.key].iloc[0].tolist()
            raise DataError(
                f"{source}: {int(dupk.sum())} row(s) repeat the key {spec.data.key} "
                f"(e.g. {first} in {_rows(frame.index[dupk])}); expected each key once"
            )
    dup = frame.duplicated(keep="first")
    if dup.any():
        raise DataError(
            f"{source}: {int(dup.sum())} duplicate row(s), e.g. {_rows(frame.index[dup])}; "
            "expected each row once"
        )

    dropped: list = []
    na = frame[cols].isna()
    if na.any().any():
        if spec.data.missing == "error":
            col = next(c for c in cols if na[c].any())
            bad = frame.index[na[col]]
            raise DataError(
                f"{source}: column {col!r} has {len(bad)} missing value(s) in {_rows(bad)}; "
                'expected none (set data.missing = "drop" in the model file to drop such rows)'
            )
        dropped = list(frame.index[na.any(axis=1)])
        frame = frame.loc[~na.any(axis=1)]
        if frame.empty:
            raise DataError(f"{source}: no rows left after dropping rows with missing values")

    e = spec.estimand
    ycol = spec.column(e.outcome)
    yv = frame[ycol]
    ok = yv.isin([0, 1, True, False])
    if not ok.all():
        raise DataError(
            f"{source}: outcome column {ycol!r} must be 0/1, got {yv[~ok].iloc[0]!r} in "
            f"{_rows(frame.index[~ok])}"
        )
    for node in used:
        if node == e.outcome:
            continue
        _numeric(frame, spec.column(node), f"node {node}", source)
    if e.mediator:
        mcol = spec.column(e.mediator)
        mv = frame[mcol].to_numpy(dtype=float)
        fam = spec.model.mediator_family
        if fam in ("poisson", "negbinomial"):
            bad = (mv < 0) | (mv != np.round(mv))
            if bad.any():
                raise DataError(
                    f"{source}: mediator column {mcol!r} must hold non-negative integers for "
                    f"mediator_family = {fam!r}, got {mv[bad][0]!r} in {_rows(frame.index[bad])}"
                )
        if fam == "bernoulli" and not np.isin(mv, [0, 1]).all():
            bad = ~np.isin(mv, [0, 1])
            raise DataError(
                f"{source}: mediator column {mcol!r} must be 0/1 for mediator_family = "
                f"'bernoulli', got {mv[bad][0]!r} in {_rows(frame.index[bad])}"
            )
    for g in spec.groupings:
        levels = frame[g].nunique()
        if levels < 2:
            raise DataError(
                f"{source}: grouping column {g!r} has {levels} level(s) "
                f"({frame[g].iloc[0]!r}); a varying effect needs at least 2"
            )
    tcol = spec.column(e.treatment)
    if frame[tcol].nunique() < 2:
        raise DataError(
            f"{source}: treatment column {tcol!r} is constant ({frame[tcol].iloc[0]!r}); "
            "expected variation"
        )
    for node in spec.model.within_between:
        col = spec.column(node)
        within = frame[col] - frame.groupby(spec.model.within_group)[col].transform("mean")
        if np.allclose(within.to_numpy(dtype=float), 0):
            raise DataError(
                f"{source}: column {col!r} does not vary within {spec.model.within_group!r}; "
                "a within/between split needs within-group variation"
            )
    return frame, dropped


def used_nodes(spec: ModelSpec, adjustment: Sequence[str] = ()) -> list[str]:
    """DAG nodes whose columns the model reads."""
    e = spec.estimand
    nodes = [e.outcome, e.treatment]
    if e.mediator:
        nodes.append(e.mediator)
    nodes.extend(adjustment)
    nodes.extend(spec.model.covariates)
    return list(dict.fromkeys(nodes))


def resolve_contrast(spec: ModelSpec, values: np.ndarray) -> tuple[float, float]:
    """The contrast's (from, to) treatment values in data units."""

    def one(v: str | float) -> float:
        if isinstance(v, str):
            return float(np.percentile(values, float(v[1:])))
        return float(v)

    c = spec.estimand.contrast
    t0, t1 = one(c.from_), one(c.to)
    if t0 == t1:
        raise DataError(
            f"{spec.source}: estimand.contrast: from = {c.from_!r} and to = {c.to!r} are both "
            f"{t0:g} in the data; expected two different treatment values"
        )
    return t0, t1
