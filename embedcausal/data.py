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

from embedcausal.errors import DataError, close_matches, one_line, shown
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
    if p.is_dir():
        raise DataError(f"{p}: is a directory; expected a .csv or .parquet data file")
    if not p.is_file():
        raise DataError(f"{p}: data file not found")
    try:
        if p.suffix.lower() == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except OSError as exc:
        raise DataError(
            f"{p}: cannot read the data file ({exc.strerror or type(exc).__name__})"
        ) from None
    except (ValueError, pd.errors.ParserError) as exc:
        # ParserError (a ragged row), EmptyDataError, UnicodeDecodeError, ArrowInvalid, ...
        raise DataError(f"{p}: cannot read as a table: {shown_error(exc)}") from None


def shown_error(exc: BaseException) -> str:
    """A reader's exception as one capped line (pandas' messages may span lines)."""
    return one_line(str(exc) or type(exc).__name__, limit=300)


def load_data(spec: ModelSpec) -> pd.DataFrame:
    """Read the data file named by the model file (``data.path``)."""
    return read_table(spec.data_path)


def _check_columns(frame: pd.DataFrame, columns: dict[str, str], source: str) -> None:
    for what, col in columns.items():
        if col not in frame.columns:
            raise DataError(f"{source}: column {shown(col)} ({what}) not found{_hint(col, frame)}")


def _hint(col: str, frame: pd.DataFrame) -> str:
    """``"; did you mean 'x'? (columns: …)"``: the tail of a missing-column message."""
    close = close_matches(col, frame.columns)
    hint = f"; did you mean {shown(close[0])}?" if close else ""
    more = f", … ({len(frame.columns)} in all)" if len(frame.columns) > 30 else ""
    return f"{hint} (columns: {', '.join(shown(c, 40) for c in frame.columns[:30])}{more})"


def check_groupings(spec: ModelSpec, frame: pd.DataFrame, source: str) -> None:
    """Every grouping column exists; a missing one is blamed on the model-file key naming it."""
    for col, key in spec.grouping_keys().items():
        if col not in frame.columns:
            raise DataError(
                f"{spec.source}: {key}: grouping column {shown(col)} is not a column of "
                f"{source}{_hint(col, frame)}"
            )


def _numeric(frame: pd.DataFrame, col: str, what: str, source: str, hint: str = "") -> np.ndarray:
    s = frame[col]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s):
        if s.empty:
            return s.to_numpy(dtype=float)
        bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
        raise DataError(
            f"{source}: column {shown(col)} ({what}) must be numeric, got dtype {s.dtype}; "
            f"non-numeric values such as {shown(bad.iloc[0])} in {_rows(bad.index)}{hint}"
        )
    x = s.to_numpy(dtype=float)
    bad = np.isinf(x)
    if bad.any():
        raise DataError(
            f"{source}: column {shown(col)} ({what}) has infinite values such as "
            f"{shown(float(x[bad][0]))} in {_rows(s.index[bad])}; expected finite numbers"
        )
    return x


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
    0/1; a categorical treatment is in the two levels its contrast names (then coded 0/1,
    :func:`code_treatment`); numeric columns are numeric; count mediators are non-negative
    integers; each grouping has at least two levels; the treatment is not constant; no
    duplicate rows.

    Returns
    -------
    frame : pandas.DataFrame
        The rows to use (all rows, or those without missing values when dropping).
    dropped : list
        Index labels of the rows dropped for missing values.
    """
    source = source or str(spec.data_path)
    spec = spec.for_columns(frame.columns)  # an unset model.varying: the groupings present
    if frame.empty:
        raise DataError(
            f"{source}: no data rows ({len(frame.columns)} column(s), 0 rows); expected a "
            "header line and at least one row per observation"
        )
    dag = spec.dag()
    for node in dag.latent:
        if spec.column(node) in frame.columns:
            raise DataError(
                f"{source}: column {shown(spec.column(node))} is the latent node {shown(node)} of "
                "the DAG; "
                "a latent node must not be observed (remove it from dag.latent or rename the "
                "column)"
            )
    used = used_nodes(spec, adjustment)
    needed = {
        (
            f"node {n}, data.columns.{n} in {spec.source}"
            if n in spec.data.columns
            else f"node {n} of {spec.source}"
        ): spec.column(n)
        for n in used
    }
    _check_columns(frame, needed, source)
    check_groupings(spec, frame, source)
    needed.update({f"grouping {g}": g for g in spec.groupings})
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
                f"{source}: column {shown(col)} has {len(bad)} missing value(s) in {_rows(bad)}; "
                'expected none (set data.missing = "drop" in the model file to drop such rows)'
            )
        dropped = list(frame.index[na.any(axis=1)])
        frame = frame.loc[~na.any(axis=1)]
        if frame.empty:
            raise DataError(f"{source}: no rows left after dropping rows with missing values")

    frame = code_treatment(spec, frame, source)
    e = spec.estimand
    ycol = spec.column(e.outcome)
    yv = frame[ycol]
    gaussian = spec.model.family == "gaussian"
    if gaussian:
        _numeric(frame, ycol, "a Gaussian outcome (model.family)", source)
    else:
        num = yv if pd.api.types.is_bool_dtype(yv) else pd.to_numeric(yv, errors="coerce")
        ok = num.isin([0, 1, True, False])
        if not ok.all():
            raise DataError(
                f"{source}: outcome column {shown(ycol)} must be 0/1, got "
                f"{shown(yv[~ok].iloc[0])} in {_rows(frame.index[~ok])} (a continuous outcome "
                "needs model.family = 'gaussian')"
            )
    if yv.nunique() < 2:
        raise DataError(
            f"{source}: outcome column {shown(ycol)} is {shown(yv.iloc[0])} in all "
            f"{len(yv)} rows; expected " + ("varying values" if gaussian else "both 0 and 1")
        )
    for node in used:
        if node == e.outcome or node in spec.data.factors:
            continue
        hint = (
            "; for a categorical treatment name the two levels compared, estimand.contrast = "
            "{from = <level>, to = <level>} (or code them as 0/1)"
            if node == e.treatment
            else ""
        )
        _numeric(frame, spec.column(node), f"node {node}", source, hint)
    if e.mediator:
        mcol = spec.column(e.mediator)
        mv = frame[mcol].to_numpy(dtype=float)
        fam = spec.model.mediator_family
        if fam in ("poisson", "negbinomial"):
            bad = (mv < 0) | (mv != np.round(mv))
            if bad.any():
                raise DataError(
                    f"{source}: mediator column {shown(mcol)} must hold non-negative integers for "
                    f"mediator_family = {shown(fam)}, got {shown(mv[bad][0])} in "
                    f"{_rows(frame.index[bad])}"
                )
        if fam == "ordered":
            bad = (mv < 0) | (mv != np.round(mv))
            if bad.any() or len(np.unique(mv)) < 2 or len(np.unique(mv)) != int(mv.max()) + 1:
                raise DataError(
                    f"{source}: mediator column {shown(mcol)} must hold the categories 0, 1, …, "
                    f"K-1 (each present, K >= 2) for mediator_family = 'ordered', got "
                    f"{shown(sorted(np.unique(mv))[:8])}"
                )
        if fam == "bernoulli" and not np.isin(mv, [0, 1]).all():
            bad = ~np.isin(mv, [0, 1])
            raise DataError(
                f"{source}: mediator column {shown(mcol)} must be 0/1 for mediator_family = "
                f"'bernoulli', got {shown(mv[bad][0])} in {_rows(frame.index[bad])}"
            )
    for g in spec.groupings:
        levels = frame[g].nunique()
        if levels < 2:
            raise DataError(
                f"{source}: grouping column {shown(g)} has {levels} level(s) "
                f"({shown(frame[g].iloc[0])}); a varying effect needs at least 2"
            )
    tcol = spec.column(e.treatment)
    if frame[tcol].nunique() < 2:
        raise DataError(
            f"{source}: treatment column {shown(tcol)} is constant ({shown(frame[tcol].iloc[0])}); "
            "expected variation"
        )
    for node in spec.model.within_between:
        col = spec.column(node)
        within = frame[col] - frame.groupby(spec.model.within_group)[col].transform("mean")
        if np.allclose(within.to_numpy(dtype=float), 0):
            raise DataError(
                f"{source}: column {shown(col)} does not vary within "
                f"{shown(spec.model.within_group)}; "
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


def treatment_levels(spec: ModelSpec) -> tuple[str, str] | None:
    """The (from, to) level names of a categorical treatment's contrast, else None."""
    c = spec.estimand.contrast
    return c.levels if c is not None else None


def code_treatment(spec: ModelSpec, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """A categorical treatment's two named levels coded 0 (``from``) and 1 (``to``).

    Only when ``estimand.contrast`` names two levels (:func:`treatment_levels`); the frame is
    returned unchanged otherwise. The column must be text (or a pandas categorical), both
    levels must be present, and every row must be in one of them: rows in a third level are
    an error, not dropped, because the effects average over the rows used and which rows
    those are is the analyst's choice, made visibly in the data file.
    """
    levels = treatment_levels(spec)
    if levels is None:
        return frame
    col = spec.column(spec.estimand.treatment)
    s = frame[col]
    where = f"{spec.source}: estimand.contrast"
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise DataError(
            f"{where}: from = {shown(levels[0])} and to = {shown(levels[1])} name levels, but "
            f"treatment column {shown(col)} of {source} is numeric (values such as "
            f"{shown(s.iloc[0])}); expected quantiles ('p25') or numbers for a numeric treatment"
        )
    text = s.astype(str)
    present = sorted(text.unique())
    listed = ", ".join(shown(v, 40) for v in present[:20])
    listed += f", … ({len(present)} in all)" if len(present) > 20 else ""
    for key, level in zip(("from", "to"), levels, strict=True):
        if level not in present:
            close = close_matches(level, present)
            hint = f"; did you mean {shown(close[0])}?" if close else ""
            raise DataError(
                f"{where}.{key}: level {shown(level)} is not in treatment column {shown(col)} of "
                f"{source}{hint} (levels: {listed})"
            )
    other = ~text.isin(levels)
    if other.any():
        extra = sorted(text[other].unique())
        raise DataError(
            f"{source}: treatment column {shown(col)} has rows in level(s) "
            f"{', '.join(shown(v, 40) for v in extra[:5])} ({_rows(frame.index[other])}) besides "
            f"the contrast's {shown(levels[0])} and {shown(levels[1])} (estimand.contrast in "
            f"{spec.source}); expected only these two levels: keep only their rows in the data "
            "file"
        )
    frame = frame.copy()
    frame[col] = (text == levels[1]).to_numpy(dtype=float)
    return frame


def resolve_contrast(spec: ModelSpec, values: np.ndarray) -> tuple[float, float]:
    """The contrast's (from, to) treatment values in data units.

    Without ``estimand.contrast``: 0 → 1 for a binary (0/1) treatment, p25 → p75 otherwise.
    A contrast of two level names is 0 → 1: the codes :func:`code_treatment` gives them
    (``values`` are the coded treatment).
    """
    e = spec.estimand
    col = spec.column(e.treatment)
    x = np.asarray(values, dtype=float)
    c = e.contrast
    if treatment_levels(spec) is not None:
        return 0.0, 1.0
    if c is None:
        if x.size and np.isin(x, [0.0, 1.0]).all():
            return 0.0, 1.0
        ends: tuple[str | float, str | float] = ("p25", "p75")
    else:
        ends = (c.from_, c.to)

    def one(v: str | float) -> float:
        if isinstance(v, str):
            return float(np.percentile(x, float(v[1:])))
        return float(v)

    t0, t1 = one(ends[0]), one(ends[1])
    if t0 == t1:
        default = "" if c is not None else " (the default for a non-binary treatment)"
        raise DataError(
            f"{spec.source}: estimand.contrast: from = {shown(ends[0])} and to = {shown(ends[1])}"
            f"{default} are both {t0:g} in treatment column {shown(col)}; expected two different "
            "treatment values (set estimand.contrast = {from = ..., to = ...} in data units)"
        )
    return t0, t1
