"""Loading, validating and preparing a panel for a model file.

Validation happens here, at the edge, before any model is built: every problem is a
:class:`~embedcausal.errors.DataError` naming the column, the offending rows and what was
expected. Nothing is silently dropped or imputed; rows with missing values are dropped only
when the model file says ``data.missing = "drop"``, and the dropped rows are recorded.

Preparation turns the validated frame into what the model builders need: integer codes and
coordinates for each grouping (``country``, ``mission``, ...), standardised predictors, the
within/between (Mundlak) split of time-varying variables, and the treatment contrast in data
units.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Predictor:
    """One column of a design matrix.

    ``node`` is the DAG node it measures, ``part`` is ``"value"``, ``"within"`` or
    ``"between"``; ``center``/``scale`` undo the standardisation (``z = (x - center) / scale``).
    """

    name: str
    node: str
    part: str
    center: float
    scale: float


@dataclass(frozen=True)
class PreparedData:
    """A validated panel, ready for the model builders.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows used, with their original index labels.
    coords : dict
        Dimension name -> labels: ``obs`` and one entry per grouping column.
    group_codes : dict
        Grouping column -> integer code of each row into ``coords[column]``.
    nested : dict
        Inner grouping -> outer grouping, for ``outer/inner`` nestings (e.g. country -> region).
    y_predictors, m_predictors : list of Predictor
        The columns of the outcome and mediator design matrices.
    X_y, X_m : numpy.ndarray
        Standardised design matrices (rows x predictors); ``X_m`` is empty without a mediator.
    contrast : tuple of float
        The treatment values (from, to) in data units.
    group_means : dict
        Node -> (group mean of each row) for nodes with a within/between split (data units,
        after the mediator transform for count mediators).
    dropped : list
        Index labels of rows dropped for missing values (``data.missing = "drop"``).
    data_hash : str
        SHA-256 of the used columns of the used rows.
    """

    spec: ModelSpec
    frame: pd.DataFrame
    coords: dict[str, np.ndarray]
    group_codes: dict[str, np.ndarray]
    nested: dict[str, str]
    adjustment: tuple[str, ...]
    y_predictors: list[Predictor]
    m_predictors: list[Predictor]
    X_y: np.ndarray
    X_m: np.ndarray
    y: np.ndarray
    m: np.ndarray | None
    contrast: tuple[float, float]
    group_means: dict[str, np.ndarray]
    dropped: list = field(default_factory=list)
    data_hash: str = ""

    @property
    def n_obs(self) -> int:
        """Number of rows used."""
        return len(self.frame)


def mediator_transform(values: np.ndarray, family: str) -> np.ndarray:
    """How a mediator enters the outcome model: ``log1p`` for counts, itself otherwise."""
    values = np.asarray(values, dtype=float)
    return np.log1p(values) if family in ("poisson", "negbinomial") else values


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


def _standardise(x: np.ndarray, binary_ok: bool = True) -> tuple[float, float]:
    if binary_ok and np.isin(x, [0.0, 1.0]).all():
        return 0.0, 1.0
    sd = float(np.std(x))
    return float(np.mean(x)), (sd if sd > 0 else 1.0)


def prepare(
    spec: ModelSpec,
    frame: pd.DataFrame | None = None,
    *,
    adjustment: Sequence[str] = (),
    source: str | None = None,
) -> PreparedData:
    """Validate a panel and build everything the PyMC model builders need.

    Parameters
    ----------
    spec : ModelSpec
    frame : pandas.DataFrame, optional
        The panel; read from ``spec.data_path`` when omitted.
    adjustment : sequence of str
        Covariate nodes to adjust for (normally the identification result's adjustment set).
    source : str, optional
        Name of the data used in error messages (default: the data path).

    Returns
    -------
    PreparedData
    """
    if frame is None:
        frame = load_data(spec)
        source = source or str(spec.data_path)
    source = source or "data"
    dag = spec.dag()
    adjustment = tuple(a for a in adjustment if a in dag.observed)
    frame, dropped = validate(spec, frame, adjustment=adjustment, source=source)
    e = spec.estimand
    wb = set(spec.model.within_between)
    wg = spec.model.within_group

    # groupings
    coords: dict[str, np.ndarray] = {"obs": np.asarray(frame.index)}
    codes: dict[str, np.ndarray] = {}
    # the within group gets codes even when unused by the model: a latent confounder lives there
    for g in [*spec.groupings, *([wg] if wg in frame.columns else [])]:
        cat = pd.Categorical(frame[g])
        coords[g] = np.asarray(cat.categories)
        codes[g] = np.asarray(cat.codes, dtype=np.int64)
    nested: dict[str, str] = {}
    for item in spec.model.varying:
        if "/" in item:
            outer, inner = item.split("/")
            per_inner = frame.groupby(inner)[outer].nunique()
            bad = per_inner[per_inner > 1]
            if len(bad):
                raise DataError(
                    f"{source}: model.varying {item!r}: {inner!r} {bad.index[0]!r} lies in "
                    f"{int(bad.iloc[0])} different {outer!r} groups; expected each {inner} "
                    f"inside one {outer}"
                )
            nested[inner] = outer

    group_means: dict[str, np.ndarray] = {}

    def columns_for(node: str, raw: np.ndarray) -> list[tuple[Predictor, np.ndarray]]:
        if node in wb:
            gm = pd.Series(raw, index=frame.index).groupby(frame[wg].to_numpy()).transform("mean")
            gm = gm.to_numpy(dtype=float)
            group_means[node] = gm
            center, scale = _standardise(raw, binary_ok=False)
            within = raw - gm
            return [
                (Predictor(f"{node}[within]", node, "within", 0.0, scale), within / scale),
                (
                    Predictor(f"{node}[between]", node, "between", center, scale),
                    (gm - center) / scale,
                ),
            ]
        center, scale = _standardise(raw)
        return [(Predictor(node, node, "value", center, scale), (raw - center) / scale)]

    def raw_values(node: str) -> np.ndarray:
        v = frame[spec.column(node)].to_numpy(dtype=float)
        if node == e.mediator:
            v = mediator_transform(v, spec.model.mediator_family)
        return v

    covs = [c for c in dict.fromkeys([*adjustment, *spec.model.covariates])]
    covs = [c for c in covs if c not in (e.treatment, e.mediator, e.outcome)]
    m_nodes = [e.treatment, *covs]
    y_nodes = [e.treatment, *([e.mediator] if e.mediator else []), *covs]
    cache: dict[str, list[tuple[Predictor, np.ndarray]]] = {}
    for node in dict.fromkeys(y_nodes):
        cache[node] = columns_for(node, raw_values(node))

    def design(nodes: list[str]) -> tuple[list[Predictor], np.ndarray]:
        preds, cols = [], []
        for node in nodes:
            for p, col in cache[node]:
                preds.append(p)
                cols.append(col)
        X = np.column_stack(cols) if cols else np.zeros((len(frame), 0))
        return preds, X

    y_preds, X_y = design(y_nodes)
    m_preds, X_m = design(m_nodes) if e.mediator else ([], np.zeros((len(frame), 0)))
    y = frame[spec.column(e.outcome)].to_numpy(dtype=np.int64)
    m = frame[spec.column(e.mediator)].to_numpy(dtype=float) if e.mediator else None
    if m is not None and spec.model.mediator_family in ("poisson", "negbinomial", "bernoulli"):
        m = m.astype(np.int64)
    t0, t1 = resolve_contrast(spec, frame[spec.column(e.treatment)].to_numpy(dtype=float))
    used_cols = list(
        dict.fromkeys([spec.column(n) for n in used_nodes(spec, adjustment)] + list(spec.groupings))
    )
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(frame[used_cols], index=True).to_numpy().tobytes()
    ).hexdigest()
    return PreparedData(
        spec=spec,
        frame=frame,
        coords=coords,
        group_codes=codes,
        nested=nested,
        adjustment=tuple(covs),
        y_predictors=y_preds,
        m_predictors=m_preds,
        X_y=X_y,
        X_m=X_m,
        y=y,
        m=m,
        contrast=(t0, t1),
        group_means=group_means,
        dropped=dropped,
        data_hash=digest,
    )
