"""Fitting: sample a design's model, check it, compute its effects.

:func:`fit` is the one explicit call that samples. It takes a :class:`~embedcausal.Design`
(or a model file, from which it builds one), samples with nutpie (default) or PyMC's own NUTS
(``backend = "pymc"``), checks the chains (:mod:`embedcausal.diagnostics`), computes the
outcome's pointwise log-likelihood and the effects, and returns a :class:`~embedcausal.Run`.

Speed (measured in ``docs/performance.md``):

* **independent parts are sampled separately.** Without a latent confounder the mediator
  model and the outcome model share no parameter; each gets its own NUTS adaptation (step size
  and mass matrix), which mixes better than one adaptation of both;
* **one compilation per model and process**: the data are frozen into the graph (constant
  folding) and compiled nutpie models are cached by a key of everything in the graph; a refit
  (another seed, more draws) or a new strength of the latent confounder in a sensitivity grid
  (its strengths stay ``pm.Data``, swapped with ``with_data``) does not compile again;
* no warm-up draws are kept unless ``[sampler] save_warmup = true``.

The same seed gives the same draws, in this process or another, compiled fresh or cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from embedcausal.diagnostics import diagnose
from embedcausal.errors import EmbedcausalError
from embedcausal.geometry import plan_part
from embedcausal.models import (
    CONFOUNDER_PARAMS,
    build_model,
    linear_predictor,
    vectorized_function,
)
from embedcausal.plan import Design, design
from embedcausal.runs import Run, package_versions
from embedcausal.spec import ModelSpec

#: compiled models kept per process
CACHE_SIZE = 8
_COMPILED: OrderedDict[str, Any] = OrderedDict()
#: pointwise log-likelihood values (rows × draws) kept in memory at most; above, LOO is chunked
LOGLIK_MAX_VALUES = 150_000_000
#: seed offset of the mediator part (parts get distinct, reproducible streams)
_PART_SEED = {"outcome": 0, "joint": 0, "mediator": 104_729}


class Timer:
    """Wall-clock seconds per phase (``fit(..., verbose=True)`` prints them)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t


def progress_default() -> bool:
    """Show progress bars when output goes to a terminal or a notebook."""
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def part_models(design: Design, *, confounder: bool = False) -> list[tuple[str, Any]]:
    """The models sampled for a design: one per set of parts that share parameters."""
    if confounder or not design.data.mediator:
        return [("joint", build_model(design, confounder=confounder))]
    return [
        ("mediator", build_model(design, parts=("mediator",))),
        ("outcome", build_model(design, parts=("outcome",))),
    ]


def structure_key(design: Design, part: str, confounder: bool) -> str:
    """A key of everything in a part's compiled graph: structure, priors and frozen data."""
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
    cached = _COMPILED.get(key)
    if cached is None:
        frozen = freeze_dims_and_data(model, data=[k for k in values if k not in swappable])
        with warnings.catch_warnings():
            # nutpie/numba announce their compilation choices; nothing for the user to act on
            warnings.filterwarnings("ignore", module=r"nutpie|numba|pytensor")
            cached = nutpie.compile_pymc_model(frozen)
        _COMPILED[key] = cached
        while len(_COMPILED) > CACHE_SIZE:
            _COMPILED.popitem(last=False)
        return cached
    _COMPILED.move_to_end(key)
    known = {v.name for v in cached.shared_var_keys}  # data the compiled graph uses
    update = {k: values[k] for k in swappable if k in values and k in known}
    return cached.with_data(**update) if update else cached


def clear_compiled() -> None:
    """Forget the compiled models of this process."""
    _COMPILED.clear()


def _sample_part(model, spec: ModelSpec, *, key: str, seed: int, progress: bool, timer: Timer):
    s = spec.sampler
    cores = min(s.chains, os.cpu_count() or 1)
    if s.backend == "nutpie":
        import nutpie

        swappable = tuple(n for n in CONFOUNDER_PARAMS if n in model.named_vars)
        with timer.phase("compile"):
            compiled = compiled_nutpie(model, key, swappable=swappable)
        with timer.phase("sample"):
            trace = nutpie.sample(
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
            )
        return trace
    import pymc as pm

    with timer.phase("sample"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"pymc|pytensor")
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
            idata_kwargs={"log_likelihood": False},
            model=model,
        )
    return trace


def _check_complete(trace: xr.DataTree, spec: ModelSpec, part: str) -> None:
    """Raise KeyboardInterrupt when a sampler returned fewer draws than asked (Ctrl-C)."""
    post = trace["posterior"]
    s = spec.sampler
    n_chain, n_draw = post.sizes.get("chain", 0), post.sizes.get("draw", 0)
    incomplete = n_chain < s.chains or n_draw < s.draws
    if not incomplete:
        for v in post.data_vars:
            if np.isnan(np.asarray(post[v].values, dtype=float)).any():
                incomplete = True
                break
    if incomplete:
        raise KeyboardInterrupt(
            f"sampling of the {part} model stopped early ({n_chain} chains x {n_draw} draws of "
            f"{s.chains} x {s.draws}); nothing was kept"
        )


def sample(
    design: Design,
    *,
    confounder: bool = False,
    models: list[tuple[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
    progress: bool = False,
    timer: Timer | None = None,
) -> xr.DataTree:
    """Sample a design's model (its parts separately when they share no parameter).

    Parameters
    ----------
    design : Design
    confounder : bool
        Sample the latent-confounder model of the sensitivity analysis (one joint model).
    models : list of (part, model), optional
        Models built already (:func:`part_models`), e.g. one a sensitivity grid reuses.
    data : dict, optional
        ``pm.Data`` values to set first (e.g. ``{"conf_on_outcome": 0.5}``).
    progress : bool
        Show the sampler's progress bar.
    timer : Timer, optional
        Collects seconds per phase.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (every part's parameters), ``sample_stats`` (the outcome's or the joint
        model's) and ``sample_stats_mediator`` when the mediator was sampled on its own.

    Raises
    ------
    KeyboardInterrupt
        When sampling is interrupted; no partial result is returned.
    """
    import pymc as pm

    timer = timer or Timer()
    spec = design.spec
    if models is None:
        with timer.phase("build"):
            models = part_models(design, confounder=confounder)
    posts, tree = [], {}
    for part, model in models:
        if data:
            with model:
                pm.set_data({k: v for k, v in data.items() if k in model.named_vars})
        trace = _sample_part(
            model,
            spec,
            key=structure_key(design, part, confounder),
            seed=spec.sampler.seed + _PART_SEED[part],
            progress=progress,
            timer=timer,
        )
        _check_complete(trace, spec, part)
        posts.append(trace["posterior"].to_dataset())
        group = "sample_stats_mediator" if part == "mediator" else "sample_stats"
        tree[group] = trace["sample_stats"].to_dataset()
        for name in ("warmup_posterior", "warmup_sample_stats"):
            if name in trace.children:
                suffix = "_mediator" if part == "mediator" else ""
                tree[name + suffix] = trace[name].to_dataset()
    post = xr.merge(posts, compat="override", join="exact")
    post = _with_names(post, design)
    tree = {"posterior": post, **tree}
    return xr.DataTree.from_dict(tree)


def _with_names(ds: xr.Dataset, design: Design) -> xr.Dataset:
    """Attach readable level names (``country_name``) as coordinates where the data have them."""
    extra = {
        f"{g}_name": (g, names) for g, names in design.data.group_names.items() if g in ds.dims
    }
    return ds.assign_coords(extra) if extra else ds


def data_groups(model, design: Design) -> tuple[xr.Dataset, xr.Dataset]:
    """``(constant_data, observed_data)``: every ``pm.Data`` of the model and the observations.

    Named and dimensioned as in the model, so ``pm.sample_posterior_predictive(run.idata,
    model=run.model)`` (or on ``pm.do(run.model, ...)``) finds the data unchanged.
    """
    from pymc.backends.arviz import find_constants, find_observations

    dims = model.named_vars_to_dims
    coords = {k: np.asarray(v) for k, v in model.coords.items() if v is not None}

    def dataset(values: dict) -> xr.Dataset:
        ds = xr.Dataset(
            {k: (dims.get(k) or (), np.asarray(v)) for k, v in values.items()},
        )
        used = {d for v in ds.data_vars for d in ds[v].dims} | set(design.data.coords)
        ds = ds.assign_coords({k: v for k, v in coords.items() if k in used})
        return _with_names(ds, design)

    const = dataset(find_constants(model))
    # every grouping's levels, also those only reached through integer codes (``mission__code``
    # has dim ``obs``): a saved run rebuilds its PreparedData from them
    levels = {g: np.asarray(design.data.coords[g]) for g in design.data.group_codes}
    const = _with_names(
        const.assign_coords({g: v for g, v in levels.items() if g not in const}), design
    )
    return const, dataset(find_observations(model))


def log_likelihood(idata: xr.DataTree, design: Design, *, dtype=np.float32) -> xr.Dataset | None:
    """The outcome's pointwise log-likelihood (dims chain, draw, obs), or None when too large.

    Computed from the outcome model's graph, vectorised over draws, in chunks; stored as
    ``float32``. Above :data:`LOGLIK_MAX_VALUES` values it is not kept in memory.
    """
    from embedcausal.models import bernoulli_logit_logp

    post = idata["posterior"]
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    n = design.data.n_obs
    if n * nchain * ndraw > LOGLIK_MAX_VALUES:
        return None
    model = build_model(design, parts=("outcome",))
    eta = linear_predictor(model, "y")
    y = model[f"{design.data.outcome}__observed"]
    names, fn = vectorized_function(model, [bernoulli_logit_logp(y, eta)])
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


def _validate_settings(design: Design) -> None:
    """Refuse sampler settings the machine cannot hold, before any work."""
    s = design.spec.sampler
    n_params = sum(len(v) for k, v in design.data.coords.items() if k != "obs") * 4 + 50
    values = s.chains * (s.draws + (s.tune if s.save_warmup else 0)) * n_params
    loglik = min(design.data.n_obs * s.chains * s.draws, LOGLIK_MAX_VALUES)
    need = values * 8 + loglik * 4
    avail = _available_memory()
    if avail is not None and need > 0.8 * avail:
        raise EmbedcausalError(
            f"{design.spec.source}: sampler: draws = {s.draws}, chains = {s.chains} need about "
            f"{need / 2**30:.1f} GiB for the posterior, more than the {avail / 2**30:.1f} GiB "
            "of memory available; expected fewer draws or chains"
        )


def _available_memory() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def fit(
    spec: Design | ModelSpec | str | Path,
    data: pd.DataFrame | str | Path | None = None,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    backend: str | None = None,
    target_accept: float | None = None,
    progress: bool | None = None,
    compute_effects: bool = True,
    verbose: bool = False,
) -> Run:
    """Fit a design: sample, diagnose, compute the log-likelihood and the effects.

    Parameters
    ----------
    spec : Design, ModelSpec or path
        A design from :func:`embedcausal.design`, or a model file (a design is built from it).
    data : DataFrame or path, optional
        The panel when ``spec`` is a model file (default: its ``data.path``).
    draws, tune, chains, seed, backend, target_accept : optional
        Override the model file's ``[sampler]`` settings (``backend``: ``"nutpie"`` or
        ``"pymc"``). The same ``seed`` reproduces the same draws.
    progress : bool, optional
        Show the sampler's progress bar (default: when output is a terminal or a notebook).
    compute_effects : bool
        Compute the g-computation effects (stored in the DataTree group ``effects``).
    verbose : bool
        Print the seconds spent in each phase to stderr.

    Returns
    -------
    Run

    Raises
    ------
    SpecError, DataError, IdentificationError
        Bad input, before any sampling.
    KeyboardInterrupt
        When interrupted; nothing is returned or saved.

    See Also
    --------
    embedcausal.design : the plan a fit uses.
    embedcausal.Run.save : write a run directory.

    Examples
    --------
    >>> import embedcausal as ec                                  # doctest: +SKIP
    >>> run = ec.fit("models/personal.toml", draws=500)           # doctest: +SKIP
    >>> run.effects                                               # doctest: +SKIP
    """
    timer = Timer()
    if isinstance(spec, Design):
        if data is not None:
            raise TypeError("fit(design, data): a Design already holds its data")
        plan = spec
    else:
        with timer.phase("design"):
            plan = design(spec, data)
    plan = plan.with_sampler(
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        backend=backend,
        target_accept=target_accept,
    )
    _validate_settings(plan)
    if progress is None:
        progress = progress_default()
    idata = sample(plan, progress=progress, timer=timer)
    with timer.phase("log_likelihood"):
        ll = log_likelihood(idata, plan)
    if ll is not None:
        idata["log_likelihood"] = xr.DataTree(ll)
    with timer.phase("diagnostics"):
        diag = diagnose(idata)
    run = Run(design=plan, idata=idata, diagnostics=diag, versions=package_versions())
    const, observed = data_groups(run.model, plan)
    idata["observed_data"] = xr.DataTree(observed)
    idata["constant_data"] = xr.DataTree(const)
    if compute_effects:
        with timer.phase("effects"):
            run.compute_effects()
    run.timings = dict(timer.phases)
    if verbose:
        print(format_timings(run.timings), file=sys.stderr)
    return run


def format_timings(timings: dict[str, float]) -> str:
    """``phase: seconds`` lines with the total."""
    total = sum(timings.values())
    lines = [f"  {k:<15} {v:7.2f} s" for k, v in timings.items()]
    return "\n".join(["time by phase:", *lines, f"  {'total':<15} {total:7.2f} s"])
