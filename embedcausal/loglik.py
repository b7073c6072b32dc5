"""The outcome's pointwise log-likelihood of a posterior, for PSIS-LOO (:mod:`embedcausal.compare`).

Computed from the outcome model's own graph (so it always matches the model that was sampled),
vectorised over draws and in chunks, stored as ``float32``. :func:`embedcausal.fit` adds it to a
run's DataTree; :func:`embedcausal.load_run` recomputes it, as a saved run does not store it.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from embedcausal.likelihoods import outcome_logp
from embedcausal.models import build_model, linear_predictor, vectorized_function
from embedcausal.plan import Design

#: pointwise log-likelihood values (rows × draws) kept in memory at most; above, LOO is chunked
LOGLIK_MAX_VALUES = 150_000_000


def log_likelihood(idata: xr.DataTree, design: Design, *, dtype=np.float32) -> xr.Dataset | None:
    """The outcome's pointwise log-likelihood (dims chain, draw, obs), or None when too large.

    Computed from the outcome model's graph, vectorised over draws, in chunks; stored as
    ``float32``. Above :data:`LOGLIK_MAX_VALUES` values it is not kept in memory.
    """
    post = idata["posterior"]
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    n = design.data.n_obs
    if n * nchain * ndraw > LOGLIK_MAX_VALUES:
        return None
    model = build_model(design, parts=("outcome",))
    eta = linear_predictor(model, "y")
    y = model[f"{design.data.outcome}__observed"]
    names, fn = vectorized_function(model, [outcome_logp(design, model, y, eta)])
    flat = {
        k: np.asarray(post[k].values).reshape(nchain * ndraw, *post[k].shape[2:]) for k in names
    }
    out = np.empty((nchain * ndraw, n), dtype=dtype)
    step = max(1, 2_000_000 // max(n, 1))
    for start in range(0, nchain * ndraw, step):
        (vals,) = fn(*(flat[k][start : start + step] for k in names))
        out[start : start + step] = vals
    da = xr.DataArray(
        out.reshape(nchain, ndraw, n),
        dims=("chain", "draw", "obs"),
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "obs": design.data.coords["obs"],
        },
        name=design.data.outcome,
    )
    return da.to_dataset()
