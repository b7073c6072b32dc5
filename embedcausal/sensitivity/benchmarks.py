"""Observed covariates as benchmarks for the latent confounder's strengths.

The strength of an observed covariate X is measured on the confounder grid's axes: its
coefficient (per SD of X) in a regression of the standardised treatment on the adjustment set
(the ``on_treatment`` axis) and in a logistic regression of the outcome on the treatment and
the adjustment set (``on_outcome``), so that a contour can say "a confounder k times as strong
as alliance membership would be needed" (:meth:`ConfoundingResult.contour`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from embedcausal.errors import EmbedcausalError
from embedcausal.plan import Design


def benchmarks(d: Design, names: Sequence[str]) -> pd.DataFrame:
    """Strength of observed covariates on the (on_treatment, on_outcome) axes, per SD.

    Raises
    ------
    EmbedcausalError
        If a benchmark is not in the adjustment set (its strength would not be comparable).
    """
    import statsmodels.api as sm

    spec, prepared = d.spec, d.data
    e = spec.estimand
    cov = [p for p in prepared.y_predictors if p.node not in (e.treatment, e.mediator)]
    cov_names = [p.node for p in cov]
    for n in names:
        if n not in cov_names:
            raise EmbedcausalError(
                f"{spec.source}: sensitivity.confounder.benchmark {n!r} is not in the adjustment "
                f"set {cov_names}; expected an observed confounder the model adjusts for"
            )
    idx = [j for j, p in enumerate(prepared.y_predictors) if p.node in cov_names]
    Xc = prepared.X_y[:, idx].copy()
    # per-SD scaling for every covariate (binary ones are left 0/1 in the design)
    Xc = (Xc - Xc.mean(axis=0)) / np.where(Xc.std(axis=0) > 0, Xc.std(axis=0), 1.0)
    t = prepared.values[e.treatment]
    tz = (t - t.mean()) / t.std()
    ols = sm.OLS(tz, sm.add_constant(Xc)).fit()
    logit = sm.Logit(prepared.y, sm.add_constant(np.column_stack([tz, Xc]))).fit(disp=0)
    rows = []
    for n in names:
        j = [p.node for p in (prepared.y_predictors[i] for i in idx)].index(n)
        rows.append(
            {
                "benchmark": n,
                "on_treatment": abs(float(ols.params[1 + j])),
                "on_outcome": abs(float(logit.params[2 + j])),
            }
        )
    return pd.DataFrame(rows, columns=["benchmark", "on_treatment", "on_outcome"])
