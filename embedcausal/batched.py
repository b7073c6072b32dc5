"""Compiled functions of a model's graph over a batch of posterior draws.

Used wherever a quantity of the sampled model is needed for every draw: the log-likelihood
(:mod:`embedcausal.loglik`), the counterfactual linear predictors of the g-computation
(:mod:`embedcausal.effects`) and the residuals a marginalised grouping is drawn back from
(:mod:`embedcausal.marginal`). The graph is the model's own, so the values are always the
ones the sampler saw.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pymc as pm
import xarray as xr


def flat_draws(post: xr.Dataset | xr.DataTree, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Each named posterior variable's draws, chains and draws merged: (chain·draw, *shape).

    The batch a function from :func:`vectorized_function` takes; names not in ``post`` are
    left out.
    """
    n = post.sizes["chain"] * post.sizes["draw"]
    return {
        k: np.asarray(post[k].values).reshape(n, *post[k].shape[2:]) for k in names if k in post
    }


def linear_predictor(model: pm.Model, prefix: str):
    """The named linear predictor ``{prefix}_eta`` of a model built by :func:`build_model`."""
    from pytensor.graph.traversal import ancestors

    for var in ancestors([*model.observed_RVs, *model.potentials]):
        if getattr(var, "name", None) == f"{prefix}_eta":
            return var
    raise KeyError(f"{prefix}_eta")


def vectorized_function(
    model: pm.Model, outputs: list, replace: dict | None = None, inputs=(), mode=None
):
    """Compile ``outputs`` of a model's graph as a function of a batch of posterior draws.

    Every free random variable the outputs depend on becomes an input with a leading draw
    dimension (:func:`pytensor.graph.vectorize_graph`); ``replace`` substitutes other graph
    variables first (e.g. a ``pm.Data`` by an intervention value); ``inputs`` are extra
    symbolic inputs appended after the draws.

    Returns
    -------
    (names, function)
        The free variables' names in input order, and the compiled function
        ``f(*draws_by_name, *inputs) -> list of arrays`` (leading dim: draws).
    """
    import pytensor
    from pytensor.graph.replace import graph_replace, vectorize_graph
    from pytensor.graph.traversal import ancestors

    if replace:
        outputs = [graph_replace(o, replace, strict=False) for o in outputs]
    free = set(model.free_RVs)
    needed = {v.name: v for v in ancestors(outputs) if v in free}
    names = sorted(needed)
    batched = {
        needed[n]: pytensor.tensor.tensor(
            dtype=needed[n].dtype, shape=(None, *needed[n].type.shape), name=n
        )
        for n in names
    }
    vec = vectorize_graph(outputs, replace=batched)
    fn = pytensor.function([*batched.values(), *inputs], vec, on_unused_input="ignore", mode=mode)
    return names, fn
