"""Comparing rival-mechanism models fitted to the same data with PSIS-LOO (ArviZ 1.x).

Each run's LOO is computed once (:func:`arviz.loo` on the outcome's pointwise
log-likelihood) and handed to :func:`arviz.compare`. Pareto-k values are judged against
ArviZ's sample-size-dependent threshold ``good_k`` (``min(1 - 1/log10(S), 0.7)`` for ``S``
draws), not a fixed 0.7.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embedcausal.errors import EmbedcausalError

MIN_DRAWS = 100


@dataclass(frozen=True)
class Comparison:
    """PSIS-LOO comparison of runs.

    Attributes
    ----------
    table : pandas.DataFrame
        ArviZ's comparison table (rank, elpd, elpd difference and its se, weight, …).
    pareto_k : dict
        Run name -> number of observations whose Pareto k exceeds ``good_k`` (unreliable LOO).
    good_k : dict
        Run name -> ArviZ's threshold for that run's number of draws.
    n_obs : int
    loo : dict
        Run name -> ArviZ's ``ELPDData`` (pointwise values included).
    """

    table: pd.DataFrame
    pareto_k: dict[str, int]
    good_k: dict[str, float]
    n_obs: int
    loo: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        rows = self.table.reset_index(names="model").to_dict(orient="records")
        return {
            "models": rows,
            "pareto_k_bad": self.pareto_k,
            "good_k": self.good_k,
            "n_obs": self.n_obs,
        }

    def summary(self) -> str:
        """Plain-text report."""
        lines = [self.table.to_string(float_format=lambda x: f"{x:.2f}"), ""]
        for name, n in self.pareto_k.items():
            k = self.good_k[name]
            flag = (
                f"{n} observation(s) with Pareto k > {k:.2f}: LOO unreliable for them"
                if n
                else f"all Pareto k <= {k:.2f}"
            )
            lines.append(f"{name}: {flag}")
        return "\n".join(lines)


def observations_fingerprint(run) -> str:
    """SHA-256 of the rows (``obs`` labels) and the outcome values a run was fitted to."""
    obs = run.idata["observed_data"][run.spec.estimand.outcome]
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, obs["obs"].values)).encode())
    h.update(np.ascontiguousarray(obs.values, dtype=np.int64).tobytes())
    return h.hexdigest()


def compare_runs(runs: dict[str, Any]) -> Comparison:
    """Compare runs (name -> :class:`embedcausal.Run`) with PSIS-LOO.

    Parameters
    ----------
    runs : dict of str to Run
        At least two runs of the same outcome on the same data.

    Returns
    -------
    Comparison

    Raises
    ------
    EmbedcausalError
        Fewer than two runs, a run without log-likelihood or with too few draws, different
        outcomes, or runs fitted to different observations (their rows or outcome values
        differ): LOO is comparable on the same observations only.

    Examples
    --------
    >>> import embedcausal as ec                                    # doctest: +SKIP
    >>> c = ec.compare_runs({"inst": ec.load_run("runs/i"), "pers": ec.load_run("runs/p")})
    >>> print(c.summary())                                          # doctest: +SKIP
    """
    import arviz as az

    if len(runs) < 2:
        raise EmbedcausalError(f"compare needs at least two runs, got {len(runs)}")
    outcome = {name: r.spec.estimand.outcome for name, r in runs.items()}
    if len(set(outcome.values())) > 1:
        raise EmbedcausalError(
            f"runs model different outcomes {sorted(set(outcome.values()))}; expected one"
        )
    for name, r in runs.items():
        if "log_likelihood" not in r.idata.children:
            raise EmbedcausalError(
                f"run {name!r} has no log_likelihood group (too large to keep in memory, or "
                "loaded with log_likelihood=False); refit or load it with the log-likelihood"
            )
    prints = {name: observations_fingerprint(r) for name, r in runs.items()}
    if len(set(prints.values())) > 1:
        raise EmbedcausalError(
            "runs were fitted to different observations ("
            + ", ".join(f"{n}: {r.n_obs} rows, {prints[n][:12]}" for n, r in runs.items())
            + "); PSIS-LOO compares models on the same observations only (rows and outcome values)"
        )
    for name, r in runs.items():
        post = r.idata["posterior"]
        n = post.sizes["chain"] * post.sizes["draw"]
        if n < MIN_DRAWS:
            raise EmbedcausalError(
                f"run {name!r} has {n} posterior draws; PSIS-LOO needs at least {MIN_DRAWS} "
                "(refit with more --draws)"
            )
    loos: dict[str, Any] = {}
    pareto: dict[str, int] = {}
    good: dict[str, float] = {}
    var = next(iter(outcome.values()))
    with warnings.catch_warnings():
        # ArviZ warns about high Pareto k; the comparison reports those counts itself
        warnings.filterwarnings("ignore", message=r".*(Pareto k|shape parameter of Pareto).*")
        for name, r in runs.items():
            loo = az.loo(r.idata, var_name=var, pointwise=True)
            loos[name] = loo
            good[name] = float(loo.good_k)
            pareto[name] = int(np.sum(np.asarray(loo.pareto_k) > loo.good_k))
        table = az.compare(loos)
    return Comparison(
        table=table, pareto_k=pareto, good_k=good, n_obs=next(iter(runs.values())).n_obs, loo=loos
    )
