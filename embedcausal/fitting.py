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
from embedcausal.spec import SEED_LIMIT, ModelSpec

#: compiled models kept per process
CACHE_SIZE = 8
_COMPILED: OrderedDict[str, Any] = OrderedDict()
#: pointwise log-likelihood values (rows × draws) kept in memory at most; above, LOO is chunked
LOGLIK_MAX_VALUES = 150_000_000
#: seed offset of the mediator part (parts get distinct, reproducible streams)
_PART_SEED = {"outcome": 0, "joint": 0, "mediator": 104_729}


#: draws per chain a partial run needs at least (``keep_partial``)
MIN_PARTIAL_DRAWS = 2


class Interrupted(KeyboardInterrupt):
    """Sampling was stopped (Ctrl-C). ``trace`` holds the complete draws so far, or None.

    A ``KeyboardInterrupt``: code that does not ask for partial results stops as on any
    Ctrl-C. Only ``fit(..., keep_partial=True)`` keeps ``trace``, as a run marked incomplete.
    """

    def __init__(self, message: str, trace: xr.DataTree | None = None) -> None:
        super().__init__(message)
        self.trace = trace


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


def _sample_part(
    model,
    spec: ModelSpec,
    *,
    key: str,
    seed: int,
    progress: bool,
    timer: Timer,
    keep_partial: bool = False,
    part: str = "joint",
):
    s = spec.sampler
    cores = min(s.chains, os.cpu_count() or 1)
    if s.backend == "nutpie":
        import nutpie

        swappable = tuple(n for n in CONFOUNDER_PARAMS if n in model.named_vars)
        with timer.phase("compile"):
            compiled = compiled_nutpie(model, key, swappable=swappable)
        with timer.phase("sample"):
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


def _complete_draws(post: xr.Dataset) -> np.ndarray:
    """Per chain, the number of leading draws without a NaN in any variable."""
    n_chain, n_draw = post.sizes.get("chain", 0), post.sizes.get("draw", 0)
    ok = np.ones((n_chain, n_draw), dtype=bool)
    for v in post.data_vars:
        a = np.asarray(post[v].values, dtype=float).reshape(n_chain, n_draw, -1)
        ok &= ~np.isnan(a).any(axis=-1)
    return np.where(ok.all(axis=1), n_draw, np.argmin(ok, axis=1)) if n_draw else ok.sum(1)


def _check_complete(trace: xr.DataTree, spec: ModelSpec, part: str) -> None:
    """Raise :class:`Interrupted` when a sampler returned fewer draws than asked (Ctrl-C)."""
    post = trace["posterior"]
    s = spec.sampler
    n_chain, n_draw = post.sizes.get("chain", 0), post.sizes.get("draw", 0)
    incomplete = n_chain < s.chains or n_draw < s.draws
    if not incomplete and (_complete_draws(post.to_dataset()) < n_draw).any():
        incomplete = True
    if incomplete:
        raise Interrupted(
            f"sampling of the {part} model stopped early ({n_chain} chains x {n_draw} draws of "
            f"{s.chains} x {s.draws})",
            trace,
        )


def _truncated(trace: xr.DataTree, n_draw: int) -> dict[str, xr.Dataset]:
    """A trace's posterior and sample statistics, first ``n_draw`` draws (no warm-up)."""
    return {
        g: trace[g].to_dataset().isel(draw=slice(0, n_draw))
        for g in ("posterior", "sample_stats")
        if g in trace.children
    }


def _partial(
    done: list[tuple[str, xr.DataTree]], part: str, trace: xr.DataTree | None, parts: list[str]
) -> tuple[list[tuple[str, dict[str, xr.Dataset]]], int] | None:
    """The draws every part has, when the interrupted ``part`` is the last one sampled."""
    if trace is None or "posterior" not in trace.children or part != parts[-1]:
        return None
    counts = _complete_draws(trace["posterior"].to_dataset())
    n = int(counts.min()) if counts.size else 0
    if n < MIN_PARTIAL_DRAWS:
        return None
    return [(p, _truncated(t, n)) for p, t in [*done, (part, trace)]], n


def sample(
    design: Design,
    *,
    confounder: bool = False,
    models: list[tuple[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
    progress: bool = False,
    timer: Timer | None = None,
    keep_partial: bool = False,
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
    keep_partial : bool
        On Ctrl-C, hand the complete draws so far to the :class:`Interrupted` raised (when
        every part has at least :data:`MIN_PARTIAL_DRAWS` of them).

    Returns
    -------
    xarray.DataTree
        ``posterior`` (every part's parameters), ``sample_stats`` (the outcome's or the joint
        model's) and ``sample_stats_mediator`` when the mediator was sampled on its own.

    Raises
    ------
    Interrupted
        A ``KeyboardInterrupt``: sampling was interrupted; it carries a partial trace only
        with ``keep_partial``.
    """
    import pymc as pm

    timer = timer or Timer()
    spec = design.spec
    if models is None:
        with timer.phase("build"):
            models = part_models(design, confounder=confounder)
    done: list[tuple[str, xr.DataTree]] = []
    for part, model in models:
        if data:
            with model:
                pm.set_data({k: v for k, v in data.items() if k in model.named_vars})
        try:
            trace = _sample_part(
                model,
                spec,
                key=structure_key(design, part, confounder),
                seed=(spec.sampler.seed + _PART_SEED[part]) % SEED_LIMIT,
                progress=progress,
                timer=timer,
                keep_partial=keep_partial,
                part=part,
            )
            _check_complete(trace, spec, part)
        except Interrupted as exc:
            kept = _partial(done, part, exc.trace, [p for p, _ in models]) if keep_partial else None
            if kept is None:
                raise Interrupted(str(exc)) from None
            parts, n = kept
            total = spec.sampler.draws
            raise Interrupted(
                f"{exc} after {n} of {total} draws per chain",
                _assemble([(p, xr.DataTree.from_dict(g)) for p, g in parts], design),
            ) from None
        done.append((part, trace))
    return _assemble(done, design)


def _assemble(done: list[tuple[str, xr.DataTree]], design: Design) -> xr.DataTree:
    """One DataTree from the parts' traces (``sample_stats_mediator`` for the mediator's)."""
    posts, tree = [], {}
    for part, trace in done:
        posts.append(trace["posterior"].to_dataset())
        group = "sample_stats_mediator" if part == "mediator" else "sample_stats"
        if "sample_stats" in trace.children:
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
        # every grouping's levels, even where only its integer codes are data (a saved run
        # rebuilds the groupings from them)
        used = {d for v in ds.data_vars for d in ds[v].dims} | set(design.data.group_codes)
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
    from embedcausal.likelihoods import outcome_logp

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


def _validate_settings(design: Design, names: dict[str, str] | None = None) -> None:
    """Refuse sampler settings the machine cannot hold, before any work.

    ``names`` says where a setting came from when not from the model file (``{"draws":
    "--draws"}`` for a command-line flag); the message names the file and each key.
    """
    s = design.spec.sampler
    names = names or {}
    n_params = sum(len(v) for k, v in design.data.coords.items() if k != "obs") * 4 + 50
    # nutpie keeps warm-up draws until the end, so tuning steps count as draws here
    values = s.chains * (s.draws + s.tune) * n_params
    loglik = min(design.data.n_obs * s.chains * s.draws, LOGLIK_MAX_VALUES)
    need = values * 8 + loglik * 4
    avail = _available_memory()
    if avail is not None and need > 0.8 * avail:
        from_file = [k for k in ("draws", "tune", "chains") if k not in names]
        flags = [k for k in ("draws", "tune", "chains") if k in names]
        where = ", ".join(f"{names[k]} {getattr(s, k)}" for k in flags)
        if from_file:
            keys = ", ".join(f"sampler.{k} = {getattr(s, k)}" for k in from_file)
            where = f"{where} (with {keys} in {design.spec.source})" if where else keys
            if not flags:
                where = f"{design.spec.source}: {where}"
        raise EmbedcausalError(
            f"{where}: need about {need / 2**30:.3g} GiB for the draws, more than the "
            f"{avail / 2**30:.1f} GiB of memory available; expected fewer draws, tuning steps "
            "or chains"
        )


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
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
    keep_partial: bool = False,
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
    keep_partial : bool
        On Ctrl-C during sampling, return a run of the draws made so far, marked
        ``complete = False`` (``Run.interrupted`` says why), instead of raising. Nothing is
        kept when some part of the model has fewer than :data:`MIN_PARTIAL_DRAWS` draws.

    Returns
    -------
    Run

    Raises
    ------
    SpecError, DataError, IdentificationError
        Bad input, before any sampling.
    KeyboardInterrupt
        When interrupted (and nothing is kept); nothing is returned or saved.

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
    interrupted = ""
    try:
        idata = sample(plan, progress=progress, timer=timer, keep_partial=keep_partial)
    except Interrupted as exc:
        if exc.trace is None:
            kept = "; too few draws to keep a partial run" if keep_partial else ""
            raise Interrupted(f"{exc}{kept}") from None
        idata, interrupted = exc.trace, str(exc)
    with timer.phase("log_likelihood"):
        ll = log_likelihood(idata, plan)
    if ll is not None:
        idata["log_likelihood"] = xr.DataTree(ll)
    with timer.phase("diagnostics"), warnings.catch_warnings():
        if interrupted:  # a handful of draws: statistics may be undefined, and are flagged
            warnings.simplefilter("ignore")
        diag = diagnose(idata)
    run = Run(
        design=plan,
        idata=idata,
        diagnostics=diag,
        versions=package_versions(),
        complete=not interrupted,
        interrupted=interrupted,
    )
    const, observed = data_groups(run.model, plan)
    idata["observed_data"] = xr.DataTree(observed)
    idata["constant_data"] = xr.DataTree(const)
    if compute_effects:
        with timer.phase("effects"), warnings.catch_warnings():
            if interrupted:
                warnings.simplefilter("ignore")
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
