"""Sensitivity of the mediation effects to ρ = corr(ε_M, ε_Y) (Imai, Keele & Yamamoto 2010).

The NIE is identified under sequential ignorability: given treatment and covariates, nothing
unobserved moves both the mediator and the outcome. Its failure is summarised by one number,
the correlation ρ of the mediator's error and the outcome's latent error (``medsens`` in R's
``mediation``). For each ρ of a grid the joint mediator + outcome model is refitted with the
outcome's error correlated ρ with the mediator's standardised residual
(:mod:`embedcausal.correlated`), and the effects are computed from the structural equations
(:mod:`.rho_effects`); at ρ = 0 the model and its effects are the ordinary fit's.

ρ is a ``pm.Data``: each worker process compiles the model once
(:func:`embedcausal.parallel.worker_cache`) and swaps ρ with nutpie's ``with_data`` for every
point. The grid runs through :func:`embedcausal.parallel.run_grid` with the
:class:`~embedcausal.Design` as its context: workers neither identify effects nor read data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from embedcausal.effects import Counterfactual, effects_table
from embedcausal.errors import SpecError
from embedcausal.files import atomic_write
from embedcausal.parallel import GridPoint, point_key, run_grid, worker_cache
from embedcausal.plan import Design, design
from embedcausal.sensitivity.confounding import fingerprint
from embedcausal.sensitivity.rho_effects import crossings, rho_gcomp
from embedcausal.spec import SEED_LIMIT, ModelSpec

__all__ = [
    "RHO_COLUMNS",
    "RhoResult",
    "fit_rho_point",
    "rho_points",
    "rho_sensitivity",
    "sample_rho",
]

#: the columns of ``rho.csv``
RHO_COLUMNS = (
    "rho",
    "effect",
    "mean",
    "sd",
    "hdi_low",
    "hdi_high",
    "hdi_prob",
    "excludes_zero",
    "reliable",
)
#: the effects a ρ table reports
RHO_EFFECTS = ("total", "nde", "nie", "prop_mediated")


def rho_points(values: Sequence[float]) -> list[GridPoint]:
    """One grid point per ρ, keyed exactly (``rho0.25``, ``rho-0.5``)."""
    return [GridPoint(point_key(rho=float(r)), {"rho": float(r)}) for r in values]


def _key(d: Design) -> str:
    from embedcausal.samplers import structure_key

    return "rho:" + structure_key(d, "joint", False)


def _compiled(d: Design):
    """(model, counterfactual) of the ρ-model, built once per process."""
    from embedcausal.models import build_model

    def build():
        model = build_model(d, rho=True)
        return model, Counterfactual.compile(d, model)

    return worker_cache(_key(d), build)


def sample_rho(d: Design, rho: float) -> tuple[xr.DataTree, Counterfactual]:
    """Sample the ρ-model at ``rho``: (posterior, its compiled counterfactual function).

    The model is built and compiled once per process; ``rho`` is swapped as data.
    """
    import pymc as pm

    from embedcausal.correlated import RHO_PARAM
    from embedcausal.samplers import sample_part
    from embedcausal.timing import Timer
    from embedcausal.traces import assemble, check_complete

    model, counterfactual = _compiled(d)
    with model:
        pm.set_data({RHO_PARAM: float(rho)})
    spec = d.spec
    trace = sample_part(
        model,
        spec,
        key=_key(d),
        seed=spec.sampler.seed % SEED_LIMIT,
        progress=False,
        timer=Timer(),
    )
    check_complete(trace, spec, "joint")
    return assemble([("joint", trace)], d), counterfactual


def fit_rho_point(d: Design, params: dict[str, Any]) -> xr.Dataset:
    """Fit the ρ-model at ``params["rho"]`` (the task :func:`run_grid` runs per point).

    Returns the effect draws (dims ``chain``, ``draw``) with ``rho`` and the sampler's
    diagnostics as attributes.
    """
    from embedcausal.diagnostics import diagnose

    rho = float(params["rho"])
    idata, counterfactual = sample_rho(d, rho)
    ds = rho_gcomp(idata, d, rho, counterfactual=counterfactual)
    diag = diagnose(idata)
    ds.attrs.update(diag.point_attrs())
    return ds


@dataclass(frozen=True)
class RhoResult:
    """The effects as a function of ρ: one row per ρ × effect.

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`RHO_COLUMNS` (``rho, effect, mean, sd, hdi_low, hdi_high, hdi_prob,
        excludes_zero, reliable``), sorted by effect and ρ.
    computed, skipped : list of str
        Grid keys fitted in this call and resumed from disk.
    out_dir : Path
    """

    table: pd.DataFrame
    computed: list[str]
    skipped: list[str]
    out_dir: Path

    def crossings(self) -> pd.DataFrame:
        """Where the NIE's, NDE's and total effect's means cross 0, with their interval's
        range of ρ (:func:`~embedcausal.sensitivity.rho_effects.crossings`)."""
        return crossings(self.table)

    def plot(self, effects: Sequence[str] = ("nie", "nde"), *, ax=None):
        """The effects against ρ (:func:`embedcausal.plot_rho`)."""
        from embedcausal.plots import plot_rho

        scale = "outcome units" if self.table.attrs.get("gaussian") else "probability scale"
        return plot_rho(
            self.table,
            effects=[e for e in effects if (self.table["effect"] == e).any()],
            xlabel="ρ = corr(mediator error, outcome error)",
            ylabel=f"effect ({scale})",
            ax=ax,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "table": self.table.to_dict(orient="records"),
            "crossings": self.crossings().to_dict(orient="records"),
            "computed": self.computed,
            "skipped": self.skipped,
        }


def _grid(d: Design, rho: Sequence[float] | None) -> list[float]:
    """The ρ grid, sorted: ``rho`` if given, else the model file's ``sensitivity.rho``.

    Values given from Python go through the model file's own checks (``spec.replace``), so a
    bad ρ, or a model the analysis does not apply to, is the same one-line ``SpecError``.
    """
    spec = d.spec
    if rho is not None:
        values = [v.item() if hasattr(v, "item") else v for v in rho]
        spec = spec.replace(sensitivity={"rho": values})
    values = spec.sensitivity.rho if spec.sensitivity else None
    if values is None:
        raise SpecError(
            spec.source,
            "sensitivity.rho",
            "is not set; expected a list of correlations like rho = [-0.5, 0, 0.5] in "
            "[sensitivity] (or rho=... from Python)",
        )
    return sorted(values)


def rho_sensitivity(
    spec: Design | ModelSpec | str | Path,
    out_dir: str | Path,
    *,
    data: pd.DataFrame | str | Path | None = None,
    rho: Sequence[float] | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
    hdi_prob: float = 0.9,
) -> RhoResult:
    """NIE, NDE and total effect as functions of ρ = corr(ε_M, ε_Y) (``sensitivity.rho``).

    Parameters
    ----------
    spec : Design, ModelSpec or path
        The design (or a model file, from which a design is built once, here). It needs a
        Gaussian mediator and a probit (``model.link = "probit"``) or Gaussian outcome.
    out_dir : path
        ``rho/points/<key>.nc`` per ρ, ``rho.csv``, ``rho_crossings.csv`` and ``rho.png``.
    data : DataFrame or path, optional
        The panel when ``spec`` is a model file (default: its ``data.path``).
    rho : sequence of float, optional
        The grid (default: the model file's ``sensitivity.rho``); each ``|ρ| < 1``.
    jobs, scheduler, resume, progress
        See :func:`embedcausal.parallel.run_grid`.
    hdi_prob : float
        Probability of the intervals.

    Returns
    -------
    RhoResult

    Raises
    ------
    SpecError
        A bad ρ, or a model the analysis does not apply to (before any sampling).

    See Also
    --------
    embedcausal.confounding_sweep : a latent confounder of given strengths instead.
    embedcausal.plot_rho : the curve.

    Examples
    --------
    >>> import embedcausal as ec                                            # doctest: +SKIP
    >>> res = ec.rho_sensitivity(d, "runs/rho", rho=[-0.4, 0, 0.4])        # doctest: +SKIP
    >>> res.crossings()                                                    # doctest: +SKIP
    """
    d = spec if isinstance(spec, Design) else design(spec, data)
    values = _grid(d, rho)
    out = Path(out_dir)
    result = run_grid(
        fit_rho_point,
        rho_points(values),
        out / "rho",
        jobs=jobs,
        scheduler=scheduler,
        resume=resume,
        progress=progress,
        context=d,
        fingerprint=fingerprint(d),
    )
    rows = []
    for key in result.keys:
        ds = result.load(key)
        t = effects_table(ds, hdi_prob=hdi_prob, reliable=bool(ds.attrs.get("diagnostics_ok", 1)))
        rows.append(t.assign(rho=float(ds.attrs["rho"])))
    table = pd.concat(rows, ignore_index=True)
    table = table[table["effect"].isin(RHO_EFFECTS)].copy()
    table["excludes_zero"] = (table["hdi_low"] > 0) | (table["hdi_high"] < 0)
    table["order"] = table["effect"].map({e: i for i, e in enumerate(RHO_EFFECTS)})
    table = table.sort_values(["order", "rho"])
    table = table[list(RHO_COLUMNS)].reset_index(drop=True)
    table.attrs["gaussian"] = d.spec.model.family == "gaussian"
    res = RhoResult(table, list(result.computed), list(result.skipped), out)
    _write_outputs(res, out)
    return res


def _write_outputs(res: RhoResult, out: Path) -> None:
    from embedcausal.plots import save_figure

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "rho.csv", lambda p: res.table.to_csv(p, index=False))
    atomic_write(out / "rho_crossings.csv", lambda p: res.crossings().to_csv(p, index=False))
    save_figure(res.plot(), out / "rho.png")
