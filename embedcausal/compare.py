"""Comparing rival-mechanism models fitted to the same data with PSIS-LOO."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embedcausal.errors import EmbedcausalError

PARETO_K_BAD = 0.7
MIN_DRAWS = 100


@dataclass(frozen=True)
class Comparison:
    """PSIS-LOO comparison of runs.

    Attributes
    ----------
    table : pandas.DataFrame
        ArviZ's comparison table (rank, elpd, elpd difference and its se, weight...).
    pareto_k : dict
        Run name -> number of observations with Pareto k > 0.7 (unreliable LOO).
    """

    table: pd.DataFrame
    pareto_k: dict[str, int]
    n_obs: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        rows = self.table.reset_index(names="model").to_dict(orient="records")
        return {
            "models": rows,
            "pareto_k_bad": self.pareto_k,
            "n_obs": self.n_obs,
            "pareto_k_threshold": PARETO_K_BAD,
        }

    def summary(self) -> str:
        """Plain-text report."""
        lines = [self.table.to_string(float_format=lambda x: f"{x:.2f}"), ""]
        for name, n in self.pareto_k.items():
            flag = (
                f"{n} observation(s) with Pareto k > {PARETO_K_BAD}: LOO unreliable"
                if n
                else "all Pareto k <= 0.7"
            )
            lines.append(f"{name}: {flag}")
        return "\n".join(lines)


def compare_runs(runs: dict[str, Any]) -> Comparison:
    """Compare runs (name -> :class:`embedcausal.fit.Run`) with PSIS-LOO.

    Raises
    ------
    EmbedcausalError
        If fewer than two runs are given, a run has no log-likelihood, or the runs were fitted
        to different data (their data hashes differ) — LOO is only comparable on the same data.
    """
    import arviz as az

    if len(runs) < 2:
        raise EmbedcausalError(f"compare needs at least two runs, got {len(runs)}")
    outcome = {name: r.spec.estimand.outcome for name, r in runs.items()}
    nobs = {name: r.n_obs for name, r in runs.items()}
    for name, r in runs.items():
        if "log_likelihood" not in r.idata.children:
            raise EmbedcausalError(
                f"run {name!r} has no log_likelihood group; refit it with embedcausal fit"
            )
    rows = {
        name: tuple(map(str, r.idata["log_likelihood"]["obs"].values)) for name, r in runs.items()
    }
    if len(set(rows.values())) > 1:
        raise EmbedcausalError(
            "runs were fitted to different rows ("
            + ", ".join(f"{n}: {k} rows" for n, k in nobs.items())
            + "); PSIS-LOO compares models on the same observations only"
        )
    for name, r in runs.items():
        post = r.idata["posterior"]
        n = post.sizes["chain"] * post.sizes["draw"]
        if n < MIN_DRAWS:
            raise EmbedcausalError(
                f"run {name!r} has {n} posterior draws; PSIS-LOO needs at least {MIN_DRAWS} "
                "(refit with more --draws)"
            )
    pareto = {}
    loos = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, r in runs.items():
            loo = az.loo(r.idata, var_name=outcome[name], pointwise=True)
            loos[name] = loo
            pareto[name] = int(np.sum(np.asarray(loo.pareto_k) > PARETO_K_BAD))
        names = set(outcome.values())
        if len(names) > 1:
            raise EmbedcausalError(f"runs model different outcomes {sorted(names)}; expected one")
        table = az.compare({n: r.idata for n, r in runs.items()}, var_name=names.pop())
    return Comparison(table=table, pareto_k=pareto, n_obs=next(iter(nobs.values())))
