"""The contestants of ``bench/peers.py``, and the worker that runs one of them in a fresh process.

    python bench/contestants.py NAME --csv PANEL.csv --out DIR [--draws N --tune N --chains N
        --seed N] [--save-run]

Every contestant fits the *canonical joint model* to the same panel:

* mediator ``personal_ties`` (z-scored) ``~ Normal(m_intercept + X_m·m_beta
  + m_sigma_country·m_z_country[c] + m_sigma_mission·m_z_mission[j], m_sigma)``,
  ``X_m`` = [inst_ties, alliance, threat, us_war];
* outcome ``participation ~ Bernoulli(logit⁻¹(y_intercept + X_y·y_beta
  + y_sigma_country·y_z_country[c] + y_sigma_mission·y_z_mission[j]))``,
  ``X_y`` = [inst_ties, personal_ties, alliance, threat, us_war];
* priors (embedcausal's defaults): intercepts Normal(0, 2.5), coefficients Normal(0, 1),
  group scales and ``m_sigma`` HalfNormal(1), ``z`` Normal(0, 1) (non-centred intercepts);
* continuous predictors standardised (population SD), 0/1 predictors as they are
  (``pymc-nutpie-centred``: centred as well); NUTS with target acceptance 0.9.

The worker times the region from "data frame in memory" to "posterior draws in memory" (the
``wall`` of the table), reports the imports separately, and writes ``result.json`` and
``draws.npz`` (the free parameters only) to ``--out``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    GROUPS,
    MEDIATOR,
    MEDIATOR_TERMS,
    OUTCOME,
    OUTCOME_TERMS,
    SEED,
    Design,
    Fitted,
    Settings,
    design,
    divergences_in,
    draws_from_dataset,
    save_fitted,
    standardised_frame,
    write_json,
)

# -- embedcausal ----------------------------------------------------------------------------

DAG_EDGES = (
    "inst_ties -> personal_ties",
    "personal_ties -> participation",
    "inst_ties -> participation",
    "threat -> inst_ties",
    "threat -> personal_ties",
    "threat -> participation",
    "alliance -> inst_ties",
    "alliance -> personal_ties",
    "alliance -> participation",
    "us_war -> participation",
)


def model_file_text(csv_name: str, s: Settings) -> str:
    """The embedcausal model file (TOML) of the canonical joint model."""
    edges = ",\n".join(f'  "{e}"' for e in DAG_EDGES)
    return f"""\
name = "canonical joint model (bench/peers.py)"
description = "I -> P -> Y and I -> Y; threat and alliance confound; us_war affects Y."

[data]
path = "{csv_name}"

[dag]
edges = [
{edges},
]

[estimand]
treatment = "inst_ties"
mediator = "personal_ties"
outcome = "participation"

[model]
mediator_family = "gaussian"
varying = ["country", "mission"]
covariates = ["us_war"]

[sampler]
draws = {s.draws}
tune = {s.tune}
chains = {s.chains}
seed = {s.seed}
target_accept = {s.target_accept}
"""


@dataclass
class LibraryRun:
    """What the benchmark needs from an embedcausal fit."""

    posterior: Any  # xarray.Dataset, dims (chain, draw, ...)
    sample_stats: Any  # xarray.Dataset
    save: Callable[[Path], None]  # writes the run directory


def embedcausal_fit(model_file: Path, frame: pd.DataFrame) -> LibraryRun:
    """embedcausal's default fitting path. The one place to update when the library's API changes.

    Today: ``embedcausal.fit(model_file, data=frame)``, which identifies the effects (DoWhy,
    imported inside the clock),
    validates and prepares the panel, builds the PyMC model, compiles and samples it with the
    default backend (nutpie), draws back integrated-out effects, runs the diagnostics and
    computes the effects by g-computation (the log-likelihood waits until it is read). The
    benchmark times this whole call.
    """
    from embedcausal.fitting import fit

    run = fit(model_file, data=frame, progress=False)
    return LibraryRun(
        posterior=run.idata["posterior"].to_dataset(),
        sample_stats=run.idata["sample_stats"].to_dataset(),
        save=lambda directory: run.save(directory),
    )


def _free_parameters(posterior: Any, n_obs: int) -> list[str]:
    """Posterior variables without a per-observation dimension."""
    names = []
    for name, da in posterior.data_vars.items():
        per_obs = any(d == "obs" or posterior.sizes[d] == n_obs for d in da.dims)
        if not per_obs:
            names.append(str(name))
    return names


def _check_terms(posterior: Any) -> dict[str, Any]:
    """The library's fitted design terms against the hand-written contestants' terms."""
    out: dict[str, Any] = {}
    for coord, ours in (("m_term", MEDIATOR_TERMS), ("y_term", OUTCOME_TERMS)):
        if coord not in posterior.coords:
            out[coord] = "not in posterior (check by hand)"
            continue
        theirs = tuple(str(x) for x in posterior.coords[coord].values)
        out[coord] = "same" if theirs == ours else f"DIFFERENT: library {theirs}, ours {ours}"
    return out


def fit_embedcausal(frame: pd.DataFrame, s: Settings, workdir: Path) -> Fitted:
    """embedcausal's default path from a model file written into ``workdir`` beforehand."""
    run = embedcausal_fit(workdir / "model.toml", frame)
    names = _free_parameters(run.posterior, len(frame))
    return Fitted(
        draws=draws_from_dataset(run.posterior, names),
        divergences=divergences_in(run.sample_stats),
        info={"terms": _check_terms(run.posterior), "sampler": which_sampler(run.sample_stats)},
        save_run=run.save,
    )


def setup_embedcausal(s: Settings, workdir: Path, csv: Path) -> None:
    """Write the model file (its ``data.path`` is the panel's absolute path); untimed."""
    (workdir / "model.toml").write_text(model_file_text(str(csv.resolve()), s))


# -- hand-written PyMC ----------------------------------------------------------------------


def build_pymc_model(d: Design) -> Any:
    """The canonical joint model written by hand in PyMC (non-centred varying intercepts)."""
    import pymc as pm

    coords = {
        "m_term": list(MEDIATOR_TERMS),
        "y_term": list(OUTCOME_TERMS),
        **{g: list(d.levels[g]) for g in GROUPS},
    }
    with pm.Model(coords=coords) as model:

        def linear(prefix: str, X: np.ndarray, terms: str) -> Any:
            intercept = pm.Normal(f"{prefix}_intercept", 0.0, 2.5)
            beta = pm.Normal(f"{prefix}_beta", 0.0, 1.0, dims=terms)
            eta = intercept + pm.math.dot(X, beta)
            for g in GROUPS:
                sigma = pm.HalfNormal(f"{prefix}_sigma_{g}", 1.0)
                z = pm.Normal(f"{prefix}_z_{g}", 0.0, 1.0, dims=g)
                eta = eta + sigma * z[d.codes[g]]
            return eta

        pm.Bernoulli(OUTCOME, logit_p=linear("y", d.X_y, "y_term"), observed=d.y)
        eta_m = linear("m", d.X_m, "m_term")
        m_sigma = pm.HalfNormal("m_sigma", 1.0)
        pm.Normal(MEDIATOR, mu=eta_m, sigma=m_sigma, observed=d.m)
    return model


# Sampler statistics only one of the two NUTS implementations writes.
_PYMC_ONLY_STATS = {"tree_depth", "process_time_diff", "perf_counter_diff"}
_NUTPIE_ONLY_STATS = {"depth", "maxdepth_reached", "mean_tree_accept"}


def which_sampler(stats: Any) -> str:
    """Which NUTS wrote these ``sample_stats``: ``"pymc"``, ``"nutpie"`` or ``"unknown"``."""
    names = {str(v) for v in stats.data_vars}
    if names & _PYMC_ONLY_STATS and not names & _NUTPIE_ONLY_STATS:
        return "pymc"
    if names & _NUTPIE_ONLY_STATS and not names & _PYMC_ONLY_STATS:
        return "nutpie"
    return "unknown"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def captured_logs(name: str) -> Iterator[list[str]]:
    """Collect the INFO messages of logger ``name`` (PyMC announces its sampler there)."""
    logger = logging.getLogger(name)
    handler = _Records()
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def fit_pymc_nuts(frame: pd.DataFrame, s: Settings, workdir: Path) -> Fitted:
    """Hand-written model, PyMC's own NUTS (``nuts_sampler="pymc"``; PyMC 6 would pick nutpie).

    Verified after sampling: the sampler statistics must be PyMC's (``tree_depth``,
    ``process_time_diff``; nutpie writes ``depth``, ``mean_tree_accept``) and PyMC's log must
    not announce ``NUTS[nutpie]``; otherwise the run fails.
    """
    import pymc as pm

    t0 = time.perf_counter()
    model = build_pymc_model(design(frame))
    t1 = time.perf_counter()
    with captured_logs("pymc") as log:
        idata = pm.sample(
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            cores=s.cores,
            random_seed=s.seed,
            nuts_sampler="pymc",
            target_accept=s.target_accept,
            progressbar=False,
            compute_convergence_checks=False,
            model=model,
        )
    t2 = time.perf_counter()
    stats = idata["sample_stats"]
    ran = which_sampler(stats)
    if ran != "pymc" or any("NUTS[" in m and "pymc" not in m for m in log):
        raise RuntimeError(f"asked for PyMC's NUTS but {ran!r} ran (log: {log})")
    names = [rv.name for rv in model.free_RVs]
    return Fitted(
        draws=draws_from_dataset(idata["posterior"], names),
        divergences=divergences_in(stats),
        phases={"build_s": t1 - t0, "compile_and_sample_s": t2 - t1},
        info={"sampler": ran, "pymc_log": log, "sample_stats": sorted(map(str, stats.data_vars))},
    )


def sample_nutpie(compiled: Any, s: Settings) -> Any:
    """nutpie's NUTS on a compiled model at the benchmark's settings (the by-hand contestants)."""
    import nutpie

    return nutpie.sample(
        compiled,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        cores=s.cores,
        seed=s.seed,
        progress_bar=False,
        target_accept=s.target_accept,
    )


def _fit_nutpie(frame: pd.DataFrame, s: Settings, *, centred: bool) -> Fitted:
    import nutpie

    t0 = time.perf_counter()
    model = build_pymc_model(design(frame, centred=centred))
    t1 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    t2 = time.perf_counter()
    idata = sample_nutpie(compiled, s)
    t3 = time.perf_counter()
    stats = idata["sample_stats"]
    names = [rv.name for rv in model.free_RVs]
    return Fitted(
        draws=draws_from_dataset(idata["posterior"], names),
        divergences=divergences_in(stats),
        phases={"build_s": t1 - t0, "compile_s": t2 - t1, "sample_s": t3 - t2},
        info={"sampler": which_sampler(stats)},
    )


def fit_pymc_nutpie(frame: pd.DataFrame, s: Settings, workdir: Path) -> Fitted:
    """Hand-written model, ``nutpie.compile_pymc_model`` (numba) + ``nutpie.sample``."""
    return _fit_nutpie(frame, s, centred=False)


def fit_pymc_nutpie_centred(frame: pd.DataFrame, s: Settings, workdir: Path) -> Fitted:
    """As ``pymc-nutpie``, with every predictor centred (the 0/1 columns too)."""
    return _fit_nutpie(frame, s, centred=True)


# -- Bambi ----------------------------------------------------------------------------------


def fit_bambi(frame: pd.DataFrame, s: Settings, workdir: Path) -> Fitted:
    """Two Bambi models (mediator, outcome), each sampled with nutpie through Bambi.

    ``inference_method="nutpie"`` (Bambi passes it to ``pm.sample(nuts_sampler=...)``),
    Bambi's defaults as a user gets them (predictors centred internally, group-specific
    intercepts non-centred), priors set to embedcausal's. Draws of both models are pooled
    (prefixes ``m:`` and ``y:``).
    """
    import bambi as bmb

    t0 = time.perf_counter()
    sf = standardised_frame(frame)
    group_prior = bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=1))

    def priors(terms: tuple[str, ...]) -> dict[str, Any]:
        return {
            "Intercept": bmb.Prior("Normal", mu=0, sigma=2.5),
            **{t: bmb.Prior("Normal", mu=0, sigma=1) for t in terms},
            **{f"1|{g}": group_prior for g in GROUPS},
        }

    def formula(response: str, terms: tuple[str, ...]) -> str:
        return f"{response} ~ " + " + ".join([*terms, *(f"(1|{g})" for g in GROUPS)])

    models = {
        "m:": bmb.Model(
            formula(MEDIATOR, MEDIATOR_TERMS),
            sf,
            family="gaussian",
            priors={**priors(MEDIATOR_TERMS), "sigma": bmb.Prior("HalfNormal", sigma=1)},
        ),
        "y:": bmb.Model(
            formula(OUTCOME, OUTCOME_TERMS),
            sf,
            family="bernoulli",
            priors=priors(OUTCOME_TERMS),
        ),
    }
    phases = {"formula_s": time.perf_counter() - t0}
    draws: dict[str, np.ndarray] = {}
    divergences = 0
    samplers = []
    for prefix, mdl in models.items():
        t = time.perf_counter()
        idata = mdl.fit(
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            cores=s.cores,
            random_seed=s.seed,
            inference_method="nutpie",
            nuts={"target_accept": s.target_accept},
            omit_offsets=False,
            progressbar=False,
        )
        phases[f"{prefix[0]}_model_s"] = time.perf_counter() - t
        names = [rv.name for rv in mdl.backend.model.free_RVs]
        draws.update(draws_from_dataset(idata["posterior"], names, prefix=prefix))
        divergences += divergences_in(idata["sample_stats"])
        samplers.append(which_sampler(idata["sample_stats"]))
    return Fitted(draws=draws, divergences=divergences, phases=phases, info={"sampler": samplers})


# -- NumPyro --------------------------------------------------------------------------------


def numpyro_model(
    X_m: Any,
    X_y: Any,
    country: Any,
    mission: Any,
    n_country: int,
    n_mission: int,
    m: Any = None,
    y: Any = None,
) -> None:
    """The canonical joint model in NumPyro (same names, priors and parameterisation)."""
    import numpyro
    import numpyro.distributions as dist

    codes = {"country": country, "mission": mission}
    sizes = {"country": n_country, "mission": n_mission}

    def linear(prefix: str, X: Any) -> Any:
        intercept = numpyro.sample(f"{prefix}_intercept", dist.Normal(0.0, 2.5))
        beta = numpyro.sample(
            f"{prefix}_beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1)
        )
        eta = intercept + X @ beta
        for g in GROUPS:
            sigma = numpyro.sample(f"{prefix}_sigma_{g}", dist.HalfNormal(1.0))
            z = numpyro.sample(
                f"{prefix}_z_{g}", dist.Normal(0.0, 1.0).expand([sizes[g]]).to_event(1)
            )
            eta = eta + sigma * z[codes[g]]
        return eta

    eta_y = linear("y", X_y)
    eta_m = linear("m", X_m)
    m_sigma = numpyro.sample("m_sigma", dist.HalfNormal(1.0))
    with numpyro.plate("obs", X_y.shape[0]):
        numpyro.sample(OUTCOME, dist.BernoulliLogits(eta_y), obs=y)
        numpyro.sample(MEDIATOR, dist.Normal(eta_m, m_sigma), obs=m)


def init_numpyro() -> None:
    """Double precision, like PyMC (JAX defaults to float32). Runs in the import phase."""
    import jax

    jax.config.update("jax_enable_x64", True)


def fit_numpyro(frame: pd.DataFrame, s: Settings, workdir: Path) -> Fitted:
    """NumPyro NUTS on JAX's CPU backend, ``chain_method="parallel"`` over host devices.

    The number of host devices comes from ``XLA_FLAGS`` (set by ``bench/peers.py`` before the
    worker starts); with fewer devices than chains NumPyro falls back to sequential chains,
    which ``info["chain_method"]`` records.
    """
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    t0 = time.perf_counter()
    d = design(frame)
    args = (
        jnp.asarray(d.X_m),
        jnp.asarray(d.X_y),
        jnp.asarray(d.codes["country"]),
        jnp.asarray(d.codes["mission"]),
        len(d.levels["country"]),
        len(d.levels["mission"]),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mcmc = MCMC(
            NUTS(numpyro_model, target_accept_prob=s.target_accept),
            num_warmup=s.tune,
            num_samples=s.draws,
            num_chains=s.chains,
            chain_method="parallel",
            progress_bar=False,
        )
        t1 = time.perf_counter()
        mcmc.run(
            jax.random.PRNGKey(s.seed),
            *args,
            m=jnp.asarray(d.m),
            y=jnp.asarray(d.y),
            extra_fields=("diverging",),
        )
        samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
        diverging = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"])
    t2 = time.perf_counter()
    return Fitted(
        draws=samples,
        divergences=int(diverging.sum()),
        phases={"setup_s": t1 - t0, "compile_and_sample_s": t2 - t1},
        info={
            "devices": jax.local_device_count(),
            "chain_method": str(mcmc.chain_method),
            "x64": bool(jax.config.jax_enable_x64),
            "warnings": [str(w.message) for w in caught],
        },
    )


# -- registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contestant:
    """One way of fitting the canonical model.

    ``imports`` are imported (and ``init`` run) before the timer starts; ``setup`` writes
    whatever the contestant reads from disk (untimed); ``fit`` is the timed region.
    """

    name: str
    imports: tuple[str, ...]
    fit: Callable[[pd.DataFrame, Settings, Path], Fitted]
    setup: Callable[[Settings, Path, Path], None] | None = None
    init: Callable[[], None] | None = None


# PyTensor's numba linker imports numba on first compile; import it up front like the rest.
_PYMC = ("pymc", "numba")

CONTESTANTS: dict[str, Contestant] = {
    c.name: c
    for c in (
        Contestant(
            "embedcausal",
            (
                *_PYMC,
                "nutpie",
                "arviz",
                # not "dowhy": embedcausal imports it during `design`, inside the clock; its
                # import is part of what a fit costs (no peer needs it)
                "embedcausal.fitting",
                "embedcausal.effects",
                "embedcausal.quadrature",
            ),
            fit_embedcausal,
            setup=setup_embedcausal,
        ),
        Contestant("pymc-nuts", (*_PYMC, "multiprocessing.pool"), fit_pymc_nuts),
        Contestant("pymc-nutpie", (*_PYMC, "nutpie"), fit_pymc_nutpie),
        Contestant("pymc-nutpie-centred", (*_PYMC, "nutpie"), fit_pymc_nutpie_centred),
        Contestant("bambi", (*_PYMC, "nutpie", "bambi"), fit_bambi),
        Contestant("numpyro", ("jax", "numpyro", "numpyro.infer"), fit_numpyro, init=init_numpyro),
    )
}


# -- worker ---------------------------------------------------------------------------------


def imported_since(before: set[str]) -> list[str]:
    """Top-level packages with a module first imported since ``before`` (lazy imports).

    Lazy-loader stubs (``importlib.util.LazyLoader`` modules not yet touched, e.g. the ``jax``
    placeholder that ArviZ registers) are not imports and are left out.
    """
    new = set()
    for name in set(sys.modules) - before:
        mod = sys.modules.get(name)
        if mod is not None and type(mod).__name__ != "_LazyModule":
            new.add(name.split(".")[0])
    return sorted(new)


def worker(argv: list[str] | None = None) -> int:
    """Run one contestant once; write ``result.json`` (and ``draws.npz``) to ``--out``."""
    ap = argparse.ArgumentParser(description="run one contestant once (used by peers.py)")
    ap.add_argument("name", choices=sorted(CONTESTANTS))
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--save-run", action="store_true", help="save the library's run directory")
    args = ap.parse_args(argv)
    c = CONTESTANTS[args.name]
    s = Settings(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"contestant": c.name, "settings": s, "ok": False}
    try:
        t = time.perf_counter()
        for module in c.imports:
            importlib.import_module(module)
        if c.init:
            c.init()
        result["import_s"] = time.perf_counter() - t

        t = time.perf_counter()
        frame = pd.read_csv(args.csv)
        result["read_s"] = time.perf_counter() - t
        result["rows"] = len(frame)
        if c.setup:
            c.setup(s, args.out, args.csv)

        before = set(sys.modules)
        t = time.perf_counter()
        fitted = c.fit(frame, s, args.out)
        result["wall_s"] = time.perf_counter() - t
        result["imported_in_wall"] = imported_since(before)

        save_fitted(fitted, args.out)
        result.update(
            divergences=fitted.divergences,
            phases=fitted.phases,
            info=fitted.info,
            parameters=sorted(fitted.draws),
        )
        if args.save_run:
            if fitted.save_run is None:
                raise RuntimeError(f"{c.name} has no run directory to save")
            t = time.perf_counter()
            fitted.save_run(args.out / "run")
            result["save_s"] = time.perf_counter() - t
        result["ok"] = True
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    write_json(args.out / "result.json", result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(worker())
