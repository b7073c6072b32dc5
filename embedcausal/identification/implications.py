"""Testable implications of a DAG: the conditional independences it implies, tested on data.

:func:`implied_independences` lists, for each non-adjacent pair of observed nodes, the smallest
set of observed nodes that d-separates them; :func:`test_implications` tests each against data
(partial correlation, or a logistic likelihood-ratio test when one side is binary) with
multiple-testing adjustment, and :func:`contradicted` reads the verdict.
"""

from __future__ import annotations

import itertools
import math
import warnings

import networkx as nx
import numpy as np
import pandas as pd

from embedcausal.dag import CausalDAG
from embedcausal.errors import DataError, EmbedcausalError
from embedcausal.identification.criteria import MAX_EXHAUSTIVE
from embedcausal.identification.result import Independence

__all__ = ["contradicted", "implied_independences", "test_implications"]


def implied_independences(dag: CausalDAG, *, max_conditioning: int = 3) -> list[Independence]:
    """Conditional independences among observed nodes implied by the DAG.

    For each non-adjacent pair of observed nodes, the smallest set of observed nodes (at most
    ``max_conditioning``) that d-separates them in the full graph (latent nodes included, never
    conditioned on). Pairs that no such set separates imply nothing testable here.

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    max_conditioning : int
        Largest conditioning set considered.

    Returns
    -------
    list of Independence
        Sorted by ``(x, y)`` with ``x < y``.
    """
    if not isinstance(max_conditioning, int) or max_conditioning < 0:
        raise EmbedcausalError(f"max_conditioning = {max_conditioning!r}; expected an integer >= 0")
    g = dag.to_networkx()
    observed = list(dag.observed)
    out = []
    for x, y in itertools.combinations(observed, 2):
        if g.has_edge(x, y) or g.has_edge(y, x):
            continue
        cands = sorted((nx.ancestors(g, x) | nx.ancestors(g, y)) & set(observed) - {x, y})
        given = _smallest_separator(g, x, y, cands, max_conditioning)
        if given is not None:
            out.append(Independence(x, y, given))
    return sorted(out)


def _smallest_separator(
    g: nx.DiGraph, x: str, y: str, cands: list[str], max_size: int
) -> tuple[str, ...] | None:
    if len(cands) > 2 * MAX_EXHAUSTIVE:
        try:
            z = nx.find_minimal_d_separator(g, {x}, {y}, restricted=set(cands))
        except nx.NetworkXError:
            return None
        if z is None or len(z) > max_size:
            return None
        return tuple(sorted(z))
    for size in range(min(max_size, len(cands)) + 1):
        for combo in itertools.combinations(cands, size):
            if nx.is_d_separator(g, {x}, {y}, set(combo)):
                return combo
    return None


_TEST_COLUMNS = [
    "x",
    "y",
    "given",
    "test",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "rejected",
    "n",
]
_ADDED = ("p_adjusted", "rejected")


def test_implications(
    dag: CausalDAG,
    data: pd.DataFrame,
    *,
    alpha: float = 0.05,
    method: str = "holm",
    max_conditioning: int = 3,
    columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Test the DAG's implied conditional independences against data.

    Each implication ``x ⟂ y | Z`` is tested with a partial correlation (Fisher's z; the
    correlation of the residuals of statsmodels OLS fits of ``x`` and ``y`` on ``Z``) when
    neither ``x`` nor ``y`` is binary, and with a likelihood-ratio test in a statsmodels
    logistic regression of the binary one on the other and ``Z`` otherwise. P-values are
    adjusted for multiple testing with :func:`statsmodels.stats.multitest.multipletests`.
    A test that cannot be computed (too few rows, a column that ``Z`` explains fully, a
    singular logistic design) has ``NaN`` statistic and p-value and is left out of the
    adjustment.

    Parameters
    ----------
    dag : CausalDAG
        The graph.
    data : pandas.DataFrame
        One column per observed node involved (rows with missing values are dropped per test).
    alpha : float
        Family-wise (or false-discovery) level.
    method : str
        A ``multipletests`` method, e.g. ``"holm"``, ``"bonferroni"``, ``"fdr_bh"``.
    max_conditioning : int
        Passed to :func:`implied_independences`.
    columns : dict, optional
        Node -> column name, where they differ.

    Returns
    -------
    pandas.DataFrame
        Columns ``x, y, given, test, statistic, df, p_value, p_adjusted, rejected, n``;
        ``table.attrs["contradicted"]`` is True when any implication is rejected (see
        :func:`contradicted`).

    Raises
    ------
    DataError
        If columns are missing, or a column is neither numeric nor binary.
    """
    from statsmodels.stats.multitest import multipletests

    methods = (
        "bonferroni",
        "sidak",
        "holm-sidak",
        "holm",
        "simes-hochberg",
        "hommel",
        "fdr_bh",
        "fdr_by",
        "fdr_tsbh",
        "fdr_tsbky",
    )
    if method not in methods:
        raise EmbedcausalError(
            f"unknown multiple-testing method {method!r}; expected one of "
            f"{', '.join(map(repr, methods))}"
        )
    if not 0 < alpha < 1:
        raise EmbedcausalError(f"alpha = {alpha!r}; expected a number between 0 and 1")
    implications = implied_independences(dag, max_conditioning=max_conditioning)
    columns = dict(columns or {})
    needed = sorted({n for i in implications for n in (i.x, i.y, *i.given)})
    missing = [n for n in needed if columns.get(n, n) not in data.columns]
    if missing:
        raise DataError(
            f"data lacks the column(s) {', '.join(repr(columns.get(n, n)) for n in missing)} "
            f"needed to test the DAG's implications; expected a column per observed node"
        )
    frame = pd.DataFrame({n: _numeric(data[columns.get(n, n)], columns.get(n, n)) for n in needed})
    rows = [_test_one(frame, i) for i in implications]
    table = pd.DataFrame(rows, columns=[c for c in _TEST_COLUMNS if c not in _ADDED])
    p = table["p_value"].to_numpy(dtype=float)
    ok = np.isfinite(p)
    adjusted = np.full(len(p), np.nan)
    rejected = np.zeros(len(p), dtype=bool)
    if ok.any():
        rej, padj, _, _ = multipletests(p[ok], alpha=alpha, method=method)
        adjusted[ok] = padj
        rejected[ok] = rej
    table["p_adjusted"] = adjusted
    table["rejected"] = rejected
    table = table[_TEST_COLUMNS]
    table.attrs["contradicted"] = bool(rejected.any())
    table.attrs["alpha"] = alpha
    table.attrs["method"] = method
    return table


def contradicted(table: pd.DataFrame) -> bool:
    """Whether a :func:`test_implications` table rejects any implication of the DAG.

    Parameters
    ----------
    table : pandas.DataFrame
        A table returned by :func:`test_implications`.

    Returns
    -------
    bool
        True when at least one implied independence is rejected.

    Raises
    ------
    EmbedcausalError
        If the table has no ``rejected`` column.
    """
    if "rejected" not in table.columns:
        raise EmbedcausalError("expected a table from test_implications (no 'rejected' column)")
    return bool(table["rejected"].astype(bool).any())


def _numeric(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64")
    levels = sorted(col.dropna().unique().tolist(), key=str)
    if len(levels) == 2:
        return col.map({levels[0]: 0.0, levels[1]: 1.0}).astype("float64")
    raise DataError(
        f"column {name!r} is neither numeric nor binary (levels: "
        f"{', '.join(map(repr, levels[:5]))}{', ...' if len(levels) > 5 else ''}); "
        "expected numbers or two levels"
    )


def _is_binary(values: np.ndarray) -> bool:
    return len(np.unique(values)) == 2


def _test_one(frame: pd.DataFrame, ind: Independence) -> dict:
    cols = [ind.x, ind.y, *ind.given]
    sub = frame[cols].dropna()
    n = len(sub)
    row = {"x": ind.x, "y": ind.y, "given": ", ".join(ind.given), "n": n}
    x, y = sub[ind.x].to_numpy(), sub[ind.y].to_numpy()
    z = sub[list(ind.given)].to_numpy()
    if _is_binary(y) or _is_binary(x):
        response, predictor = (y, x) if _is_binary(y) else (x, y)
        stat, p = _logistic_lr(response, predictor, z)
        row.update(test="logistic likelihood ratio", statistic=stat, df=1, p_value=p)
    else:
        stat, p = _partial_correlation(x, y, z)
        row.update(test="partial correlation", statistic=stat, df=n - z.shape[1] - 3, p_value=p)
    return row


def _design(z: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(z)), z]) if z.size else np.ones((len(z), 1))


#: residual norm, relative to the column's norm, below which a column counts as fully explained
_EXPLAINED = 1e-10


def _partial_correlation(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Fisher's z statistic of the partial correlation of x and y given z, and its p-value.

    The partial correlation is the correlation of the residuals of x and of y from OLS
    regressions on an intercept and z.
    """
    import statsmodels.api as sm
    from scipy import stats

    k = z.shape[1] if z.ndim == 2 else 0
    n = len(x)
    if n - k - 3 < 1:
        return math.nan, math.nan
    d = _design(z)
    rx = sm.OLS(x, d).fit().resid
    ry = sm.OLS(y, d).fit().resid
    sx, sy = np.sqrt(rx @ rx), np.sqrt(ry @ ry)
    # a column that z (with the intercept) explains fully has only rounding error left, whose
    # correlation means nothing: the partial correlation is undefined
    if sx <= _EXPLAINED * np.sqrt(x @ x) or sy <= _EXPLAINED * np.sqrt(y @ y):
        return math.nan, math.nan
    r = float(np.clip(rx @ ry / (sx * sy), -0.9999999, 0.9999999))
    stat = math.atanh(r) * math.sqrt(n - k - 3)
    return stat, float(2 * stats.norm.sf(abs(stat)))


def _logistic_lr(response: np.ndarray, predictor: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Likelihood-ratio statistic and p-value for ``predictor`` in a logistic regression."""
    import statsmodels.api as sm
    from scipy import stats
    from statsmodels.tools.sm_exceptions import ModelWarning

    yv = (response == np.max(response)).astype(float)
    base = _design(z)
    full = np.column_stack([base, predictor])
    try:
        with warnings.catch_warnings():
            # a fit that struggles (no convergence, separation, a singular Hessian; numpy's
            # overflow in statsmodels' likelihood) still gives a statistic; other warnings show
            warnings.filterwarnings("ignore", category=ModelWarning)
            warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"statsmodels\.")
            llf_full = sm.Logit(yv, full).fit(disp=0, maxiter=200).llf
            llf_base = sm.Logit(yv, base).fit(disp=0, maxiter=200).llf
    except (np.linalg.LinAlgError, ValueError):  # singular design, perfect separation
        return math.nan, math.nan
    stat = max(0.0, 2.0 * (llf_full - llf_base))
    return float(stat), float(stats.chi2.sf(stat, 1))


# pytest would otherwise collect the function wherever it is imported into a test module
test_implications.__test__ = False  # type: ignore[attr-defined]
