"""Prior sensitivity: power-scaling diagnostics of each effect, and refits under alternative priors.

**Power-scaling** (Kallioinen et al. 2024, as implemented by ArviZ's ``psense``): the prior
(or the likelihood) is raised to a power close to 1 and the change of each effect's posterior
is measured by importance sampling, without refitting. A sensitivity above 0.05 flags a
quantity driven by the prior (with a likelihood sensitivity too: prior–data conflict) or one
that the data barely inform.

**Alternative prior sets** named in ``[sensitivity.priors.sets]`` are refitted one by one (as a
grid through :mod:`embedcausal.parallel`) and their effects tabulated beside the base model's.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import xarray as xr

from embedcausal.fitting import fit
from embedcausal.parallel import GridPoint
from embedcausal.plan import Design
from embedcausal.run import Run
from embedcausal.spec import ModelSpec

EFFECTS = ("total", "nde", "nie")


def power_scaling(run: Run, *, threshold: float = 0.05) -> pd.DataFrame:
    """Power-scaling sensitivity of each effect of a fitted run.

    Returns
    -------
    pandas.DataFrame
        One row per effect: ``effect, prior, likelihood, diagnosis`` (ArviZ's
        ``psense_summary``: sensitivities as CJS distances, diagnosis in words).
    """
    import arviz as az
    import pymc as pm

    model = run.model
    idata = run.idata.copy()
    pm.stats.compute_log_prior(idata, model=model, progressbar=False)
    if run.prepared.mediator:
        # the likelihood of every part is power-scaled, the mediator's too
        med = pm.stats.compute_log_likelihood(
            idata.copy(), var_names=[run.prepared.mediator], model=model, progressbar=False
        )
        idata["log_likelihood"] = xr.DataTree(
            xr.merge([idata["log_likelihood"].to_dataset(), med["log_likelihood"].to_dataset()])
        )
    effects = idata["effects"].to_dataset()
    names = [e for e in EFFECTS if e in effects]
    post = idata["posterior"].to_dataset()
    idata["posterior"] = xr.DataTree(post.assign({k: effects[k] for k in names}))
    summary = az.psense_summary(idata, var_names=names, threshold=threshold)
    table = summary.reset_index(names="effect")
    return table[["effect", "prior", "likelihood", "diagnosis"]]


def prior_set_points(spec: ModelSpec) -> list[GridPoint]:
    """One grid point per alternative prior set of the model file."""
    ps = spec.sensitivity.priors if spec.sensitivity else None
    if ps is None:
        return []
    return [
        GridPoint(f"prior-{name}", {"name": name, "priors": dict(priors)})
        for name, priors in ps.sets.items()
    ]


def fit_prior_set(d: Design, params: dict[str, Any]) -> xr.Dataset:
    """Refit the design under one alternative prior set (a task for ``run_grid``).

    The design travels to the worker once; only the priors change, so nothing is identified
    or read again.
    """
    run = fit(d.with_priors(params["priors"]), progress=False)
    ds = run.idata["effects"].to_dataset()
    diag = run.diagnostics
    ds.attrs["prior_set"] = params["name"]
    ds.attrs["priors"] = json.dumps(params["priors"], sort_keys=True)
    ds.attrs.update(diag.point_attrs())
    return ds
