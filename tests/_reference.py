"""An independent numpy implementation of the models' linear predictors, for the tests.

Whatever the parameterisation (centred, non-centred, hierarchical centring of group-level
predictors), the model promises (``embedcausal.models`` docstring)::

    η_i = {p}_b0 + Σ_k {p}_beta[k] · z_k(i) + Σ_g {p}_{g}[code_g(i)] (+ slopes)

with ``z_k`` the standardised predictor columns and ``{p}_{g}`` each grouping's deviations.
The tests compare the PyTensor graph with this formula, so the graph cannot drift from what
the documentation says the model is.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr


def numpy_eta(post: xr.Dataset, design, prefix: str, values: dict | None = None) -> np.ndarray:
    """η of part ``prefix`` (``"y"``/``"m"``) per draw (draws × rows), from named quantities.

    ``post`` has a leading ``sample`` dim; ``values`` replaces node values (data units).
    """
    d = design.data
    preds = d.y_predictors if prefix == "y" else d.m_predictors
    values = values or {}

    def var(name):
        return np.asarray(post[name].values)

    eta = var(f"{prefix}_b0")[:, None] + np.zeros(d.n_obs)
    beta = var(f"{prefix}_beta")
    for k, p in enumerate(preds):
        eta = eta + beta[:, k : k + 1] * d.column(p, values.get(p.node))[None, :]
    groups = []
    for item in design.spec.model.varying:
        groups.extend(item.split("/"))
    for g in dict.fromkeys(groups):
        eta = eta + var(f"{prefix}_{g}")[:, d.group_codes[g]]
    if prefix == "y":
        for node, g in design.spec.model.varying_slopes.items():
            for p in preds:
                if p.node == node and p.part != "between":
                    z = (
                        var(f"y_slope_sigma_{g}")[:, None]
                        * var(f"y_slope_z_{g}")[:, d.group_codes[g]]
                    )
                    eta = eta + z * d.column(p, values.get(p.node))[None, :]
    return eta


def prior_posterior(model: pm.Model, draws: int = 6, seed: int = 3) -> xr.DataTree:
    """A fake posterior: prior draws of every free variable and deterministic (1 chain)."""
    names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    prior = pm.sample_prior_predictive(draws=draws, model=model, var_names=names, random_seed=seed)
    return xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})


def stacked(tree: xr.DataTree) -> xr.Dataset:
    post = tree["posterior"].to_dataset()
    return post.stack(sample=("chain", "draw")).transpose("sample", ...)
