"""Fitting: sample a design's model, check it, compute its effects.

:func:`fit` is the one explicit call that samples. It takes a :class:`~embedcausal.Design`
(or a model file, from which it builds one), samples with nutpie (default) or PyMC's own NUTS
(``backend = "pymc"``, :mod:`embedcausal.samplers`), checks the chains
(:mod:`embedcausal.diagnostics`), computes the outcome's pointwise log-likelihood
(:mod:`embedcausal.loglik`, attached lazily) and the effects, and returns a
:class:`~embedcausal.Run`.

Speed (measured in ``docs/performance.md``):

* **independent parts are sampled separately.** Without a latent confounder the mediator
  model and the outcome model share no parameter; each gets its own NUTS adaptation (step size
  and mass matrix), which mixes better than one adaptation of both;
* **a Gaussian mediator samples with one grouping integrated out** (:mod:`embedcausal.marginal`):
  its effects are drawn back exactly from their conditional after sampling (phase
  ``draw_back``), so the posterior is the full model's;
* **a parent grouping is integrated out of its children's prior** when they are centred
  throughout (:mod:`embedcausal.grouped`), and drawn back exactly after sampling;
* **varying intercepts are redrawn from their conditional after sampling**
  (:mod:`embedcausal.refresh`, phase ``refresh``): a Gibbs step that leaves the posterior as
  it is and makes each effect's draws nearly independent of NUTS's given the rest;
* **one compilation per model and process**: compiled nutpie models are cached by a key of
  everything in the graph (:func:`~embedcausal.samplers.compiled_nutpie`), so a refit or a new
  strength of the latent confounder in a sensitivity grid does not compile again;
* no warm-up draws are kept unless ``[sampler] save_warmup = true``.

The same seed gives the same draws, in this process or another, compiled fresh or cached.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from embedcausal.confounder import draw_back as confounder_draw_back
from embedcausal.diagnostics import diagnose
from embedcausal.errors import EmbedcausalError
from embedcausal.grouped import draw_back_parents
from embedcausal.loglik import LOGLIK_MAX_VALUES, lazy_log_likelihood
from embedcausal.marginal import draw_back
from embedcausal.models import build_model
from embedcausal.plan import Design, design
from embedcausal.refresh import refresh_effects
from embedcausal.run import Run, package_versions
from embedcausal.samplers import sample_part, structure_key
from embedcausal.spec import SEED_LIMIT, ModelSpec
from embedcausal.timing import Timer, format_timings
from embedcausal.traces import (
    Interrupted,
    assemble,
    check_complete,
    data_groups,
    partial_draws,
)

#: seed offset of the mediator part (parts get distinct, reproducible streams)
_PART_SEED = {"outcome": 0, "joint": 0, "mediator": 104_729}


def progress_default() -> bool:
    """Show progress bars when output goes to a terminal or a notebook."""
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def part_models(design: Design, *, confounder: bool = False) -> list[tuple[str, Any]]:
    """The models sampled for a design: one per set of parts that share parameters.

    Built with ``marginal=True``: what can be drawn back exactly afterwards is integrated out
    (:func:`_finish` draws it back), so the posterior is the full model's.
    """
    if confounder or not design.data.mediator:
        return [("joint", build_model(design, confounder=confounder, marginal=True))]
    return [
        ("mediator", build_model(design, parts=("mediator",), marginal=True)),
        ("outcome", build_model(design, parts=("outcome",), marginal=True)),
    ]


def _part_seed(spec: ModelSpec, part: str, offset: int = 0) -> int:
    """The seed of a part's sampler (``offset`` 0) or of what is redrawn after it (1–4)."""
    return (spec.sampler.seed + _PART_SEED[part] + offset) % SEED_LIMIT


def _confounder_kind(model) -> str | bool:
    """How a model holds the latent confounder: ``"integrated"``, ``"explicit"`` or not."""
    if getattr(model, "confounder", None) is not None:
        return "integrated"
    return "explicit" if "U_raw" in model.named_vars else False


def _marginal_name(model) -> str | None:
    """What a model integrates out (a compiled graph's key): its marginal grouping, parents."""
    marginal = getattr(model, "marginal", None)
    names = [marginal[0].name] if marginal is not None else []
    names += [f"{p}_{parent.name}" for p, parent, _ in getattr(model, "parents", ())]
    return "+".join(names) or None


def _finish(trace: xr.DataTree, model, design: Design, part: str, timer: Timer) -> xr.DataTree:
    """What follows NUTS for one part: what it integrated out drawn back, effects refreshed."""
    spec = design.spec
    if getattr(model, "confounder", None) is not None:  # U, drawn back exactly
        with timer.phase("draw_back"):
            rng = np.random.default_rng(_part_seed(spec, part, 2))
            trace = confounder_draw_back(trace, model, design, rng)
    marginal = getattr(model, "marginal", None)
    if marginal is not None:  # the effects it integrated out, drawn back exactly
        with timer.phase("draw_back"):
            rng = np.random.default_rng(_part_seed(spec, part, 1))
            trace = draw_back(trace, model, design, marginal[0], rng)
    if getattr(model, "parents", None):  # parents integrated out of their children
        with timer.phase("draw_back"):
            rng = np.random.default_rng(_part_seed(spec, part, 4))
            trace = draw_back_parents(trace, model, design, rng)
    with timer.phase("refresh"):  # varying intercepts, from their conditional
        rng = np.random.default_rng(_part_seed(spec, part, 3))
        trace, _ = refresh_effects(trace, model, design, part, rng)
    return trace


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
        every part has at least :data:`~embedcausal.traces.MIN_PARTIAL_DRAWS` of them).

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
            trace = sample_part(
                model,
                spec,
                key=structure_key(design, part, _confounder_kind(model), _marginal_name(model)),
                seed=_part_seed(spec, part),
                progress=progress,
                timer=timer,
                keep_partial=keep_partial,
                part=part,
            )
            check_complete(trace, spec, part)
            trace = _finish(trace, model, design, part, timer)
        except Interrupted as exc:
            # a partial run is kept only when the last part (the outcome) was interrupted: an
            # earlier part, such as a marginal mediator to draw back from, finished already
            kept = (
                partial_draws(done, part, exc.trace, [p for p, _ in models])
                if keep_partial
                else None
            )
            if kept is None:
                raise Interrupted(str(exc)) from None
            parts, n = kept
            traces = [(p, xr.DataTree.from_dict(g)) for p, g in parts]
            # the interrupted part's complete draws, finished as a whole trace would be
            traces[-1] = (part, _finish(traces[-1][1], model, design, part, timer))
            total = spec.sampler.draws
            raise Interrupted(
                f"{exc} after {n} of {total} draws per chain", assemble(traces, design)
            ) from None
        done.append((part, trace))
    return assemble(done, design)


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


def _release_freed_memory() -> None:
    """Hand memory that is free inside the process back to the system (glibc's ``malloc_trim``).

    nutpie samples in threads and glibc keeps what each thread freed in that thread's arena,
    where it still counts as the process's memory until reused. On the canonical 9k panel the
    two samplings leave 40 and 58 MB of it, the log-likelihood's chunks 33 MB
    (``bench/memory.py --trim``). Elsewhere than glibc this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass


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
    """Fit a design: sample, diagnose, compute the effects.

    The outcome's pointwise log-likelihood (``run.idata["log_likelihood"]``, for ``az.loo``)
    is attached lazily: computed the first time its values are read
    (:func:`embedcausal.loglik.lazy_log_likelihood`).

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
        kept when some part of the model has fewer than
        :data:`~embedcausal.traces.MIN_PARTIAL_DRAWS` draws.

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
    _release_freed_memory()
    # attached lazily: computed when first read (az.loo), never for a fit that does not need it
    ll = lazy_log_likelihood(idata, plan)
    if ll is not None:
        idata["log_likelihood"] = xr.DataTree(ll)
    with timer.phase("diagnostics"):
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
        with timer.phase("effects"):
            run.compute_effects()
        _release_freed_memory()
    run.timings = dict(timer.phases)
    if verbose:
        print(format_timings(run.timings), file=sys.stderr)
    return run
