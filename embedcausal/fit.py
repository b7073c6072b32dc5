"""Fitting: identification check, model build, sampling, diagnostics and saved runs.

:func:`fit` is the one explicit call that samples. It refuses a model file whose DAG does
not identify the effects it asks for (unless the file lists explicit assumptions in
``estimand.assume``), takes the adjustment set from the identification result, samples with
nutpie (default) or PyMC's own NUTS, checks R-hat, ESS, divergences and BFMI, computes the
effects by g-computation, and returns a :class:`Run`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from embedcausal.data import PreparedData, prepare, read_table
from embedcausal.errors import EmbedcausalError, IdentificationError, RunError
from embedcausal.identification import Identification, identify
from embedcausal.models import build_model
from embedcausal.spec import ModelSpec, SamplerSection, load_spec

RUN_FORMAT = 1
THRESHOLDS = {"r_hat": 1.01, "ess_bulk": 400, "ess_tail": 400, "bfmi": 0.3, "divergences": 0}
_VERSIONS = ("embedcausal", "pymc", "pytensor", "arviz", "nutpie", "dowhy", "numpy", "pandas")


@dataclass
class Run:
    """A fitted model: posterior, spec, identification and provenance.

    Attributes
    ----------
    idata : xarray.DataTree
        ArviZ data with named dims (``posterior``, ``sample_stats``, ``log_likelihood``,
        ``observed_data``, and ``effects`` holding the g-computation draws).
    spec : ModelSpec
    identification : dict of str to Identification
        One per effect asked for (``total``, ``nde``, ``nie``).
    diagnostics : dict
        R-hat, ESS, divergences and BFMI, with ``ok`` and the list of ``problems``.
    data_hash : str
        SHA-256 of the data used.
    versions : dict
        Package versions at fit time.
    effects : pandas.DataFrame or None
        Tidy effects table (see :func:`embedcausal.effects.effects_table`).
    """

    idata: xr.DataTree
    spec: ModelSpec
    identification: dict[str, Identification]
    diagnostics: dict[str, Any]
    data_hash: str
    versions: dict[str, str]
    contrast: tuple[float, float]
    n_obs: int
    dropped: list = field(default_factory=list)
    effects: pd.DataFrame | None = None
    prepared: PreparedData | None = field(default=None, repr=False)

    @property
    def assumptions(self) -> list[str]:
        """Explicit assumptions from the model file (printed with every result)."""
        return list(self.spec.estimand.assume)

    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the run to ``directory`` atomically (a crash leaves no half directory).

        Files: ``posterior.nc`` (the DataTree), ``run.json`` (spec, identification,
        diagnostics, hashes, versions), ``effects.csv``.
        """
        target = Path(directory)
        if target.exists() and not overwrite:
            raise RunError(f"{target}: already exists; choose another --out or remove it")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            self.idata.to_netcdf(tmp / "posterior.nc", engine="h5netcdf")
            meta = {
                "format": RUN_FORMAT,
                "spec": self.spec.raw,
                "spec_source": self.spec.source,
                "spec_base_dir": str(self.spec.base_dir),
                "identification": {k: v.to_dict() for k, v in self.identification.items()},
                "diagnostics": self.diagnostics,
                "data_hash": self.data_hash,
                "versions": self.versions,
                "contrast": list(self.contrast),
                "n_obs": self.n_obs,
                "dropped": [str(d) for d in self.dropped],
                "assumptions": self.assumptions,
            }
            (tmp / "run.json").write_text(json.dumps(meta, indent=2, default=_json_default))
            if self.effects is not None:
                self.effects.to_csv(tmp / "effects.csv", index=False)
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def load_run(directory: str | Path) -> Run:
    """Read a run written by :meth:`Run.save`.

    Raises
    ------
    RunError
        If the directory or one of its files is missing or of another format version.
    """
    d = Path(directory)
    for name in ("run.json", "posterior.nc"):
        if not (d / name).is_file():
            raise RunError(
                f"{d}: not a saved run ({name} missing); expected a directory written by "
                "`embedcausal fit --out`"
            )
    meta = json.loads((d / "run.json").read_text())
    if meta.get("format") != RUN_FORMAT:
        raise RunError(f"{d}/run.json: format {meta.get('format')!r}; expected {RUN_FORMAT}")
    with xr.open_datatree(d / "posterior.nc", engine="h5netcdf") as tree:
        idata = tree.load()
    spec = ModelSpec.from_dict(
        meta["spec"], source=meta["spec_source"], base_dir=meta["spec_base_dir"]
    )
    ident = {k: Identification.from_dict(v) for k, v in meta["identification"].items()}
    effects = pd.read_csv(d / "effects.csv") if (d / "effects.csv").is_file() else None
    return Run(
        idata=idata,
        spec=spec,
        identification=ident,
        diagnostics=meta["diagnostics"],
        data_hash=meta["data_hash"],
        versions=meta["versions"],
        contrast=tuple(meta["contrast"]),
        n_obs=meta["n_obs"],
        dropped=meta["dropped"],
        effects=effects,
    )


def identification_for(spec: ModelSpec) -> dict[str, Identification]:
    """Identify every effect the model file asks for; refuse unidentified ones.

    Raises
    ------
    IdentificationError
        If an effect is not identified and ``estimand.assume`` is empty, or if it is identified
        only within a group but the treatment (and mediator) lack a within/between split.
    """
    e = spec.estimand
    out: dict[str, Identification] = {}
    for effect in e.effect_list:
        kind = "ate" if effect == "total" else effect
        res = identify(spec, estimand=kind)
        out[effect] = res
        if not res.identified and not e.assume:
            paths = "; ".join(res.open_paths) or "no valid adjustment"
            raise IdentificationError(
                f"{spec.source}: the {effect} effect of {e.treatment!r} on {e.outcome!r} is not "
                f"identified by the DAG (open: {paths}); fix the DAG, or state the assumption "
                "you rely on in estimand.assume"
            )
        if res.identified and res.kind == "within":
            need = [n for n in (e.treatment, e.mediator) if n]
            missing = [n for n in need if n not in spec.model.within_between]
            if missing:
                raise IdentificationError(
                    f"{spec.source}: the {effect} effect is identified only within "
                    f"{res.within_group!r} (a latent confounder is constant within it); add "
                    f"{missing} to model.within_between and set model.within_group = "
                    f"{res.within_group!r}"
                )
        if res.identified and res.kind not in ("backdoor", "mediation", "within") and not e.assume:
            raise IdentificationError(
                f"{spec.source}: the {effect} effect is identified by a {res.kind} estimand, "
                "which the hierarchical regression models do not implement; model the "
                "adjustment explicitly or state the assumption in estimand.assume"
            )
    return out


def adjustment_for(ident: dict[str, Identification]) -> tuple[str, ...]:
    """Union of the adjustment sets of all identified effects."""
    nodes: list[str] = []
    for res in ident.values():
        nodes.extend(res.adjustment_set or ())
    return tuple(dict.fromkeys(nodes))


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine a result."""
    out = {}
    for name in _VERSIONS:
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "not installed"
    return out


def diagnose(idata: xr.DataTree) -> dict[str, Any]:
    """R-hat, bulk/tail ESS, divergences and BFMI, checked against :data:`THRESHOLDS`."""
    import arviz as az

    post = idata["posterior"].to_dataset()
    names = [v for v in post.data_vars if not v.startswith("X_")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(idata, var_names=names).to_dataset()
        ess_b = az.ess(idata, var_names=names, method="bulk").to_dataset()
        ess_t = az.ess(idata, var_names=names, method="tail").to_dataset()

    def extreme(ds: xr.Dataset, fn) -> float:
        vals = [float(fn(ds[v].values)) for v in ds.data_vars if ds[v].size]
        vals = [v for v in vals if np.isfinite(v)]
        return float(fn(vals)) if vals else float("nan")

    stats = idata["sample_stats"].to_dataset()
    div_name = "diverging" if "diverging" in stats else "divergences"
    divergences = int(np.asarray(stats[div_name].values).sum()) if div_name in stats else 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = az.bfmi(idata)
            res = res.to_dataset() if hasattr(res, "to_dataset") else res
            bfmi = [float(x) for x in np.ravel(np.asarray(res["energy"].values))]
    except Exception:
        bfmi = []
    diag = {
        "max_r_hat": extreme(rhat, np.max),
        "min_ess_bulk": extreme(ess_b, np.min),
        "min_ess_tail": extreme(ess_t, np.min),
        "divergences": divergences,
        "min_bfmi": min(bfmi) if bfmi else None,
        "thresholds": THRESHOLDS,
    }
    problems = []
    if not diag["max_r_hat"] <= THRESHOLDS["r_hat"]:
        problems.append(f"max R-hat {diag['max_r_hat']:.3f} > {THRESHOLDS['r_hat']}")
    if not diag["min_ess_bulk"] >= THRESHOLDS["ess_bulk"]:
        problems.append(f"min bulk ESS {diag['min_ess_bulk']:.0f} < {THRESHOLDS['ess_bulk']}")
    if not diag["min_ess_tail"] >= THRESHOLDS["ess_tail"]:
        problems.append(f"min tail ESS {diag['min_ess_tail']:.0f} < {THRESHOLDS['ess_tail']}")
    if divergences > THRESHOLDS["divergences"]:
        problems.append(f"{divergences} divergent transitions")
    if bfmi and min(bfmi) < THRESHOLDS["bfmi"]:
        problems.append(f"min BFMI {min(bfmi):.2f} < {THRESHOLDS['bfmi']}")
    diag["problems"] = problems
    diag["ok"] = not problems
    return diag


def sample_model(
    model,
    sampler: SamplerSection,
    *,
    progress: bool = False,
    compiled=None,
) -> xr.DataTree:
    """Sample a PyMC model with the ``[sampler]`` settings; return the DataTree (log-lik added).

    ``compiled`` is an already compiled nutpie model (e.g. with new data via ``with_data``),
    so a sensitivity grid compiles once.
    """
    import pymc as pm

    backend, draws, tune, chains = sampler.backend, sampler.draws, sampler.tune, sampler.chains
    seed, target_accept = sampler.seed, sampler.target_accept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if backend == "nutpie":
            import nutpie

            if compiled is None:
                compiled = nutpie.compile_pymc_model(model)
            idata = nutpie.sample(
                compiled,
                draws=draws,
                tune=tune,
                chains=chains,
                cores=min(chains, os.cpu_count() or 1),
                seed=seed,
                progress_bar=progress,
                target_accept=target_accept,
            )
        elif backend == "pymc":
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=min(chains, os.cpu_count() or 1),
                random_seed=seed,
                target_accept=target_accept,
                progressbar=progress,
                compute_convergence_checks=False,
                model=model,
            )
        else:
            raise EmbedcausalError(
                f"sampler backend {backend!r} unknown; expected 'nutpie' or 'pymc'"
            )
        observed = [v.name for v in model.observed_RVs if not v.name.endswith("__treatment_model")]
        pm.stats.compute_log_likelihood(idata, var_names=observed, model=model, progressbar=False)
    return idata


def fit(
    spec: ModelSpec | str | Path,
    data: pd.DataFrame | str | Path | None = None,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    backend: str | None = None,
    target_accept: float | None = None,
    progress: bool = False,
    compute_effects: bool = True,
) -> Run:
    """Fit a model file: identify, validate the data, build, sample, diagnose, compute effects.

    Parameters
    ----------
    spec : ModelSpec or path
        The model file (loaded with :func:`embedcausal.load_spec` when a path).
    data : DataFrame or path, optional
        The panel; default: the model file's ``data.path``.
    draws, tune, chains, seed, backend, target_accept : optional
        Override the model file's ``[sampler]`` settings (``backend``: ``"nutpie"`` or
        ``"pymc"``). The same ``seed`` reproduces the same draws.
    progress : bool
        Show the sampler's progress bar.
    compute_effects : bool
        Compute the g-computation effects (stored in the ``effects`` group).

    Returns
    -------
    Run
    """
    if not isinstance(spec, ModelSpec):
        spec = load_spec(spec)
    overrides = {
        k: v
        for k, v in dict(
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            backend=backend,
            target_accept=target_accept,
        ).items()
        if v is not None
    }
    if overrides:
        spec = spec.replace(sampler=overrides)
    ident = identification_for(spec)
    source = None
    if isinstance(data, str | Path):
        source = str(data)
        data = read_table(data)
    prepared = prepare(spec, data, adjustment=adjustment_for(ident), source=source)
    model = build_model(spec, prepared)
    idata = sample_model(model, spec.sampler, progress=progress)
    run = Run(
        idata=idata,
        spec=spec,
        identification=ident,
        diagnostics=diagnose(idata),
        data_hash=prepared.data_hash,
        versions=package_versions(),
        contrast=prepared.contrast,
        n_obs=prepared.n_obs,
        dropped=list(prepared.dropped),
        prepared=prepared,
    )
    if compute_effects:
        from embedcausal.effects import attach_effects

        attach_effects(run)
    return run
