"""Bayesian sensitivity to an unobserved confounder: a grid over its strength.

A latent confounder ``U`` (standard normal, one value per ``model.within_group`` level, e.g.
per country — a disposition to cooperate) is added to the model with *fixed* strengths:

* ``on_treatment`` γ_T: effect of one SD of U on the standardised treatment (a treatment model
  ``z(T) ~ Normal(α + covariates·β + γ_T U, σ_T)`` is added so that U is informed by T);
* ``on_mediator`` γ_M: on the mediator's linear predictor;
* ``on_outcome`` γ_Y: on the outcome's log-odds.

Each grid point is a full posterior of every effect (total, NDE, NIE) by g-computation.
The strengths are ``pm.Data`` containers: the model is compiled once per worker process
(:func:`embedcausal.parallel.worker_cache`) and each point only swaps the data
(``nutpie``'s ``with_data``), so a 16-point grid costs one compilation, not sixteen. The
sweep's :class:`~embedcausal.Design` is built once in the calling process and sent to each
worker once: workers never run DoWhy or read the data file.

**Points without a path from U to the outcome** (``on_outcome = on_mediator = 0``) have the
same effects whatever ``on_treatment``: they share one fit (:func:`shared_points`), so a 4 × 4
grid samples 13 posteriors, not 16.

**Benchmarks** (:mod:`embedcausal.sensitivity.benchmarks`): the strengths of observed
covariates on the same axes, drawn ``k ×`` on the contour plot, so one can say "a confounder
k times as strong as alliance membership would be needed".
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from embedcausal.effects import Counterfactual, effects_table, gcomp
from embedcausal.errors import EmbedcausalError
from embedcausal.files import atomic_write
from embedcausal.parallel import GridPoint, point_key, run_grid, worker_cache
from embedcausal.plan import Design, design
from embedcausal.sensitivity.benchmarks import benchmarks
from embedcausal.spec import ModelSpec

AXES = ("on_treatment", "on_mediator", "on_outcome")
#: the columns of the grid table shown to users (text summary and HTML report)
GRID_COLUMNS = (*AXES, "effect", "mean", "hdi_low", "hdi_high", "excludes_zero")


def grid_points(
    on_treatment: Sequence[float], on_mediator: Sequence[float], on_outcome: Sequence[float]
) -> list[GridPoint]:
    """The Cartesian grid of strengths, one :class:`GridPoint` per combination.

    Keys name the strengths exactly (:func:`~embedcausal.parallel.point_key`), e.g.
    ``t0.5_m0_y-1``: two strengths that differ, however little, never share a file.
    """
    points = []
    for gt, gm, gy in itertools.product(on_treatment, on_mediator, on_outcome):
        key = point_key(t=float(gt), m=float(gm), y=float(gy))
        points.append(
            GridPoint(
                key, {"on_treatment": float(gt), "on_mediator": float(gm), "on_outcome": float(gy)}
            )
        )
    return points


def shared_points(points: Sequence[GridPoint]) -> dict[str, str]:
    """Points whose effects are another point's: ``{key: key of the point fitted}``.

    With ``on_outcome = on_mediator = 0``, U reaches neither the outcome nor the mediator: the
    posterior factorises into the treatment's regression and the model of the effects, so
    every effect's posterior is the same, exactly, whatever ``on_treatment``. Those points
    share the first one's fit (``tests/test_sensitivity.py`` checks the log density).
    """
    null = [p.key for p in points if not (p.params["on_outcome"] or p.params["on_mediator"])]
    return {key: null[0] for key in null[1:]}


def _compiled(d: Design):
    """(model, counterfactual) of the latent-confounder model, built once per process."""
    from embedcausal.fitting import structure_key
    from embedcausal.models import build_model

    def build():
        model = build_model(d, confounder=True)
        return model, Counterfactual.compile(d, model)

    return worker_cache("confounder:" + structure_key(d, "joint", True), build)


def fit_point(d: Design, params: dict[str, Any]) -> xr.Dataset:
    """Fit one grid point (the task run by :func:`embedcausal.parallel.run_grid`).

    ``d`` is the sweep's design, sent once to each worker: the worker neither identifies
    effects (DoWhy) nor reads the data file. Returns the effect draws (dims ``chain``,
    ``draw``) with the strengths and the sampler diagnostics as attributes.
    """
    import pymc as pm

    from embedcausal.diagnostics import diagnose
    from embedcausal.fitting import sample

    model, counterfactual = _compiled(d)
    values = {f"conf_{a}": float(params[a]) for a in AXES}
    with model:
        pm.set_data({k: v for k, v in values.items() if k in model.named_vars})
    idata = sample(d, confounder=True, models=[("joint", model)])
    ds = gcomp(idata, d, counterfactual=counterfactual)
    diag = diagnose(idata)
    ds.attrs.update({a: float(params[a]) for a in AXES})
    ds.attrs.update(diag.point_attrs())
    return ds


def fingerprint(d: Design) -> str:
    """What identifies a design's results: the model file's content and the data."""
    import hashlib

    body = json.dumps({"spec": d.spec.raw, "data": d.data.data_hash}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class ConfoundingResult:
    """The grid's effects: one row per grid point × effect.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``on_treatment, on_mediator, on_outcome, effect, mean, sd, hdi_low, hdi_high,
        hdi_prob, excludes_zero, reliable``.
    benchmarks : pandas.DataFrame
        ``benchmark, on_treatment, on_outcome`` (per SD of the covariate).
    computed, skipped : list of str
        Grid keys fitted in this call and resumed from disk.
    shared : dict
        Grid keys that reuse another point's fit (``{key: key fitted}``, see
        :func:`shared_points`); they have no file of their own.
    """

    table: pd.DataFrame
    benchmarks: pd.DataFrame
    computed: list[str]
    skipped: list[str]
    out_dir: Path
    shared: dict[str, str] = field(default_factory=dict)

    def tipping_point(self, effect: str = "total") -> pd.DataFrame:
        """Per ``on_treatment``, the smallest ``on_outcome`` whose interval includes 0."""
        t = self.table[
            (self.table["effect"] == effect)
            & (self.table["on_mediator"] == self.table["on_mediator"].min())
        ]
        rows = []
        for gt, grp in t.groupby("on_treatment"):
            hit = grp.sort_values("on_outcome")
            hit = hit[~hit["excludes_zero"]]
            rows.append(
                {
                    "on_treatment": gt,
                    "on_outcome": float(hit["on_outcome"].iloc[0]) if len(hit) else None,
                }
            )
        return pd.DataFrame(rows)

    def contour(self, effect: str = "total", *, ax=None, ks: Sequence[float] = (1, 2, 3)):
        """Contour of the effect's posterior mean over (on_treatment, on_outcome).

        Grid points whose interval includes 0 are hollow, those excluding 0 filled; the
        benchmark covariates are drawn at k × their strength.
        """
        import matplotlib.pyplot as plt

        t = self.table[
            (self.table["effect"] == effect)
            & (self.table["on_mediator"] == self.table["on_mediator"].min())
        ]
        piv = t.pivot_table(index="on_outcome", columns="on_treatment", values="mean")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 5))
        xs, ys = piv.columns.to_numpy(float), piv.index.to_numpy(float)
        if len(xs) > 1 and len(ys) > 1:
            cs = ax.contour(xs, ys, piv.to_numpy(), levels=8, colors="0.4", linewidths=0.8)
            ax.clabel(cs, fmt="%.3f", fontsize=7)
            if piv.to_numpy().min() < 0 < piv.to_numpy().max():
                ax.contour(xs, ys, piv.to_numpy(), levels=[0.0], colors="red", linewidths=2)
        inc = t[~t["excludes_zero"]]
        exc = t[t["excludes_zero"]]
        ax.scatter(
            exc["on_treatment"], exc["on_outcome"], c="black", s=25, label="interval excludes 0"
        )
        ax.scatter(
            inc["on_treatment"],
            inc["on_outcome"],
            facecolors="none",
            edgecolors="red",
            s=40,
            label="interval includes 0",
        )
        for _, b in self.benchmarks.iterrows():
            for k in ks:
                ax.scatter(
                    k * b["on_treatment"], k * b["on_outcome"], marker="D", c="tab:blue", s=20
                )
                ax.annotate(
                    f"{k:g}× {b['benchmark']}",
                    (k * b["on_treatment"], k * b["on_outcome"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        ax.set_xlabel("confounder → treatment (SD of treatment per SD of U)")
        ax.set_ylabel("confounder → outcome (log-odds per SD of U)")
        ax.set_title(f"{effect} effect under a latent confounder")
        ax.margins(0.06)
        ax.legend(fontsize=7, loc="upper right")
        return ax

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "table": self.table.to_dict(orient="records"),
            "benchmarks": self.benchmarks.to_dict(orient="records"),
            "tipping_point": self.tipping_point().to_dict(orient="records"),
            "computed": self.computed,
            "skipped": self.skipped,
            "shared": self.shared,
        }


def confounding_sweep(
    spec: Design | ModelSpec | str | Path,
    out_dir: str | Path,
    *,
    data: pd.DataFrame | str | Path | None = None,
    on_treatment: Sequence[float] | None = None,
    on_outcome: Sequence[float] | None = None,
    on_mediator: Sequence[float] | None = None,
    benchmark: Sequence[str] | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
    hdi_prob: float = 0.9,
) -> ConfoundingResult:
    """Run the latent-confounder grid of a model file (``[sensitivity.confounder]``).

    Parameters
    ----------
    spec : Design, ModelSpec or path
        The design (or the model file a design is built from, once, here: the workers get the
        design and never identify effects or read the data themselves).
    out_dir : path
        Directory for the sweep: ``confounder/points/<key>.nc`` per grid point,
        ``confounder.csv``, ``confounder_benchmarks.csv`` and ``confounder_contour.png``.
    data : DataFrame or path, optional
        The panel when ``spec`` is a model file (default: its ``data.path``).
    on_treatment, on_outcome, on_mediator, benchmark : optional
        Override the model file's grid.
    jobs, scheduler, resume, progress
        See :func:`embedcausal.parallel.run_grid`.
    hdi_prob : float
        Probability of the intervals in the table.

    Returns
    -------
    ConfoundingResult

    Examples
    --------
    >>> import embedcausal as ec                                          # doctest: +SKIP
    >>> res = ec.confounding_sweep("models/sensitivity.toml", "runs/s")  # doctest: +SKIP
    >>> res.tipping_point()                                               # doctest: +SKIP
    """
    d = spec if isinstance(spec, Design) else design(spec, data)
    spec = d.spec
    conf = spec.sensitivity.confounder if spec.sensitivity else None
    if conf is None and (on_treatment is None or on_outcome is None):
        raise EmbedcausalError(
            f"{spec.source}: no [sensitivity.confounder] table; expected on_treatment and "
            "on_outcome lists in the model file"
        )
    gt = list(on_treatment if on_treatment is not None else conf.on_treatment)
    gy = list(on_outcome if on_outcome is not None else conf.on_outcome)
    gm = list(on_mediator if on_mediator is not None else (conf.on_mediator if conf else [0.0]))
    if not spec.estimand.mediator:
        gm = [0.0]
    names = list(benchmark if benchmark is not None else (conf.benchmark if conf else []))
    bench = benchmarks(d, names)
    out = Path(out_dir)
    points = grid_points(gt, gm, gy)
    shared = shared_points(points)
    result = run_grid(
        fit_point,
        [p for p in points if p.key not in shared],
        out / "confounder",
        jobs=jobs,
        scheduler=scheduler,
        resume=resume,
        progress=progress,
        context=d,
        fingerprint=fingerprint(d),
    )
    rows = []
    for point in points:
        ds = result.load(shared.get(point.key, point.key))
        table = effects_table(
            ds, hdi_prob=hdi_prob, reliable=bool(ds.attrs.get("diagnostics_ok", 1))
        )
        for a in AXES:
            table[a] = point.params[a]
        rows.append(table)
    table = pd.concat(rows, ignore_index=True)
    table = table[table["effect"] != "p_nie_gt_nde"].copy()
    table["excludes_zero"] = (table["hdi_low"] > 0) | (table["hdi_high"] < 0)
    table = (
        table[
            [
                *AXES,
                "effect",
                "mean",
                "sd",
                "hdi_low",
                "hdi_high",
                "hdi_prob",
                "excludes_zero",
                "reliable",
            ]
        ]
        .sort_values([*AXES, "effect"])
        .reset_index(drop=True)
    )
    res = ConfoundingResult(
        table=table,
        benchmarks=bench,
        computed=list(result.computed),
        skipped=list(result.skipped),
        out_dir=out,
        shared=shared,
    )
    _write_outputs(res, out)
    return res


def _write_outputs(res: ConfoundingResult, out: Path) -> None:
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "confounder.csv", lambda p: res.table.to_csv(p, index=False))
    atomic_write(out / "confounder_benchmarks.csv", lambda p: res.benchmarks.to_csv(p, index=False))
    # a Figure outside pyplot: no backend switch, nothing to close
    fig = Figure(figsize=(6, 5))
    res.contour(ax=fig.add_subplot())
    atomic_write(
        out / "confounder_contour.png",
        lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"),
    )
