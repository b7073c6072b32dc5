"""The sampler backends: nutpie (default) and PyMC's own NUTS, and nutpie's compiled models.

:func:`sample_part` samples one model with the backend the model file's ``[sampler]`` names.
With nutpie, a model is compiled once per process and structure (:func:`compiled_nutpie`): its
data are frozen into the graph (constant folding) and the compiled model is cached under
:func:`structure_key`, a key of everything in the graph, so a refit (another seed, more draws)
or a new strength of the latent confounder or a new ρ in a sensitivity grid (they stay
``pm.Data``, swapped with ``with_data``) does not compile again. The same seed gives the same
draws, compiled fresh or cached, in this process or another, on a busy machine or an idle one:
nutpie's chains run as threads of one process and call BLAS concurrently, and a multithreaded
OpenBLAS then runs a call on its thread pool or in the calling thread depending on whether
another chain holds the pool, so the summation order (and the last bits of every dot product)
changed from run to run under load. BLAS is therefore single-threaded while nutpie samples
(:func:`single_threaded_blas`); the chains are the parallelism.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import OrderedDict
from typing import Any

import numpy as np
import xarray as xr

from embedcausal.correlated import RHO_PARAM
from embedcausal.geometry import plan_part
from embedcausal.models import CONFOUNDER_PARAMS
from embedcausal.plan import Design
from embedcausal.spec import ModelSpec
from embedcausal.threads import single_threaded_blas
from embedcausal.timing import Timer
from embedcausal.traces import Interrupted

#: compiled models kept per process
CACHE_SIZE = 8
_COMPILED: OrderedDict[str, Any] = OrderedDict()


def structure_key(design: Design, part: str, confounder: bool, marginal: str | None = None) -> str:
    """A key of everything in a part's compiled graph: structure, priors and frozen data.

    ``marginal`` names the grouping a model integrates out (``model.marginal``), if any.
    """
    spec = design.spec
    d = design.data
    parts = {
        "joint": ["outcome", *(["mediator"] if d.mediator else [])],
        "mediator": ["mediator"],
        "outcome": ["outcome"],
    }[part]
    plans = [plan_part(design, p) for p in parts]
    body = {
        "part": part,
        "confounder": confounder,
        "model": spec.model.model_dump(mode="json"),
        "priors": {k: str(v) for k, v in spec.priors.items()},
        "roles": [d.treatment, d.mediator, d.outcome],
        "predictors": [[p.name, p.part] for p in d.y_predictors + d.m_predictors],
        "plans": [pl.key() for pl in plans],
        # a model that integrates a grouping out (embedcausal.marginal) is another graph
        "marginal": marginal,
        "sizes": {k: len(v) for k, v in d.coords.items()},
        "nested": d.nested,
        "data": d.data_hash,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _shared_values(model) -> dict[str, np.ndarray]:
    from pytensor.compile.sharedvalue import SharedVariable

    return {
        v.name: v.get_value() for v in model.named_vars.values() if isinstance(v, SharedVariable)
    }


def compiled_nutpie(model, key: str, *, swappable: tuple[str, ...] = ()):
    """A nutpie model for ``model``, compiled once per key and process.

    Every ``pm.Data`` except ``swappable`` is frozen into the graph (constant folding makes
    both compiling and sampling faster); a cached model gets the current values of the
    swappable ones through ``with_data``.
    """
    import nutpie
    from pymc.model.transform.optimization import freeze_dims_and_data

    values = _shared_values(model)
    entry = _COMPILED.get(key)
    if entry is None:
        frozen = freeze_dims_and_data(model, data=[k for k in values if k not in swappable])
        entry = (nutpie.compile_pymc_model(frozen), frozen)
        _COMPILED[key] = entry
        while len(_COMPILED) > CACHE_SIZE:
            _COMPILED.popitem(last=False)
        return entry[0]
    _COMPILED.move_to_end(key)
    cached, frozen = entry
    known = {v.name for v in cached.shared_var_keys}  # data the compiled graph uses
    update = {k: values[k] for k in swappable if k in values and k in known}
    # the initial-point function nutpie keeps reads the frozen model's own data containers:
    # set them too, or a warm model starts where the first compiled point's data put it, and
    # the same seed gives other draws than a fresh compilation (a resumed sweep would differ)
    for k, v in update.items():
        frozen[k].set_value(v)
    return cached.with_data(**update) if update else cached


def clear_compiled() -> None:
    """Forget the compiled models of this process."""
    _COMPILED.clear()


def sample_part(
    model,
    spec: ModelSpec,
    *,
    key: str,
    seed: int,
    progress: bool,
    timer: Timer,
    keep_partial: bool = False,
    part: str = "joint",
) -> xr.DataTree:
    """Sample one model with the backend of ``spec.sampler`` (``key``: its compiled form's).

    Raises
    ------
    Interrupted
        On Ctrl-C; with nutpie and ``keep_partial``, it carries the draws so far.
    """
    s = spec.sampler
    cores = min(s.chains, os.cpu_count() or 1)
    if s.backend == "nutpie":
        import nutpie

        swappable = tuple(n for n in (*CONFOUNDER_PARAMS, RHO_PARAM) if n in model.named_vars)
        with timer.phase("compile"):
            compiled = compiled_nutpie(model, key, swappable=swappable)
        with timer.phase("sample"), single_threaded_blas():
            sampler = nutpie.sample(
                compiled,
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                cores=cores,
                seed=seed,
                progress_bar=progress,
                target_accept=s.target_accept,
                save_warmup=s.save_warmup,
                adaptation=s.adaptation,
                blocking=False,
            )
            try:
                trace = sampler.wait()
            except KeyboardInterrupt:
                # nutpie's own blocking call would return the partial trace (or fail with
                # "no results to take" when nothing was drawn yet); keep it only when asked
                partial = None
                with contextlib.suppress(Exception):
                    if keep_partial:
                        partial = sampler.abort()
                    else:
                        sampler.cancel()
                raise Interrupted(
                    f"sampling of the {part} model was interrupted", partial
                ) from None
        return trace
    import pymc as pm

    with timer.phase("sample"):
        trace = pm.sample(
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            cores=cores,
            random_seed=seed,
            target_accept=s.target_accept,
            progressbar=progress,
            nuts_sampler="pymc",
            compute_convergence_checks=False,
            discard_tuned_samples=not s.save_warmup,
            model=model,
        )
    return trace
