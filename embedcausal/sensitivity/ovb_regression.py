"""The regressions behind an omitted-variable-bias analysis, by statsmodels OLS.

The design turns covariates into regressors (a categorical one into drop-first dummies, kept
together as the group a benchmark stands for); :func:`fit_ols` fits ``statsmodels`` OLS after
checking that the design has full column rank and enough rows (statsmodels itself would fall
back on the pseudo-inverse without a word); :func:`group_partial_r2` is the partial R² of a
benchmark covariate or of its group of dummies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg

from embedcausal.errors import DataError

__all__ = ["design", "fit_ols", "group_partial_r2", "is_categorical"]

INTERCEPT = "(intercept)"


def is_categorical(s: pd.Series) -> bool:
    """Whether a column enters the design as dummies (not numeric, or boolean)."""
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def design(
    data: pd.DataFrame, columns: Sequence[str], categorical: set[str]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Regressors for ``columns`` and the regressor names of each column.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows.
    columns : sequence of str
        Covariates and fixed effects, in order.
    categorical : set of str
        Columns taken as dummies even when numeric (fixed effects).

    Returns
    -------
    tuple of (pandas.DataFrame, dict)
        Numeric columns as they are, categorical ones as drop-first dummies named
        ``column=level``; and, per column, the names of its regressors.
    """
    parts, groups = [], {}
    for c in columns:
        s = data[c]
        if c in categorical or is_categorical(s):
            d = pd.get_dummies(
                s.astype(str), prefix=str(c), prefix_sep="=", drop_first=True, dtype=float
            )
            parts.append(d)
            groups[c] = list(map(str, d.columns))
        else:
            parts.append(s.astype(float).rename(c))
            groups[c] = [str(c)]
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
    return X, groups


def fit_ols(y: np.ndarray, X: pd.DataFrame, what: str) -> Any:
    """statsmodels OLS of ``y`` on an intercept and ``X``, after checking the design.

    Parameters
    ----------
    y : numpy.ndarray
        The response.
    X : pandas.DataFrame
        The regressors (numbers); their names become the names of the coefficients.
    what : str
        Which regression this is (``"outcome"``, ``"treatment"``), for the error message.

    Returns
    -------
    statsmodels.regression.linear_model.RegressionResultsWrapper
        With ``params``, ``bse`` and ``cov_params()`` labelled by regressor name (the intercept
        is ``"(intercept)"``).

    Raises
    ------
    DataError
        When the design has fewer than two rows more than coefficients, or its columns are
        collinear (naming the redundant ones).
    """
    import statsmodels.api as sm

    A = pd.DataFrame(
        np.column_stack([np.ones(len(X)), X.to_numpy(float)]),
        columns=[INTERCEPT, *map(str, X.columns)],
    )
    n, p = A.shape
    if n - p < 2:
        raise DataError(
            f"ovb: the {what} regression has {n} rows but {p} coefficients; it needs at least "
            f"{p + 2} rows (drop covariates or fixed effects)"
        )
    values = A.to_numpy()
    rank = int(np.linalg.matrix_rank(values))
    if rank < p:
        _, piv = linalg.qr(values, mode="r", pivoting=True)
        redundant = [str(A.columns[i]) for i in piv[rank:]]
        raise DataError(
            f"ovb: the {what} regression's columns are collinear (rank {rank} < {p}); "
            f"{redundant[:5]} are linear combinations of the others; drop a redundant covariate, "
            "fixed effect or constant column"
        )
    return sm.OLS(y, A).fit()


def group_partial_r2(fit: Any, names: Sequence[str]) -> float:
    """Partial R² of a group of regressors: ``W/(W + dof)``, ``W`` their Wald statistic.

    Parameters
    ----------
    fit : statsmodels.regression.linear_model.RegressionResultsWrapper
        An OLS fit from :func:`fit_ols`.
    names : sequence of str
        Names of the regressors (one, or a categorical covariate's dummies).

    Returns
    -------
    float
        For OLS this equals ``(RSS_without − RSS_with)/RSS_without``, and ``t²/(t² + dof)``
        for a single regressor.
    """
    names = list(names)
    b = fit.params[names].to_numpy()
    cov = fit.cov_params().loc[names, names].to_numpy()
    wald = float(b @ np.linalg.solve(cov, b))
    return wald / (wald + float(fit.df_resid))
