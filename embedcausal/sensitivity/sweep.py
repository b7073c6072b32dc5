"""Run a model file's ``[sensitivity]`` table end to end (what ``embedcausal sensitivity`` does).

Analyses, each optional in the model file:

* ``confounder`` — the latent-confounder grid (:mod:`.confounding`), one file per grid point;
* ``ovb`` — Cinelli–Hazlett omitted-variable bias of the linear-probability estimate
  (:mod:`.omitted_variables`);
* ``priors`` — power-scaling of the base fit, refits under alternative priors (:mod:`.priors`);
* ``refuters`` — DoWhy refuters of a frequentist estimate of the same effect (:mod:`.refuters`);
* ``rho`` — the mediation effects as functions of ρ = corr(ε_M, ε_Y) (:mod:`.rho`).

Everything lands in one output directory; each file is written atomically, and with
``resume=True`` finished grid points and a finished base fit are reused, not refitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from embedcausal.errors import EmbedcausalError
from embedcausal.files import atomic_write
from embedcausal.fitting import fit
from embedcausal.parallel import run_grid
from embedcausal.plan import Design, design
from embedcausal.runs import load_run
from embedcausal.sensitivity.confounding import confounding_sweep, fingerprint
from embedcausal.serialize import dumps
from embedcausal.spec import ModelSpec, load_spec

ANALYSES = ("confounder", "ovb", "priors", "refuters", "rho")


@dataclass
class SensitivityResult:
    """What a sensitivity run produced (each part ``None`` when not run)."""

    out_dir: Path
    spec_name: str
    confounder: Any = None
    ovb: Any = None
    power_scaling: pd.DataFrame | None = None
    prior_sets: pd.DataFrame | None = None
    refuters: Any = None
    rho: Any = None
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out: dict[str, Any] = {
            "model": self.spec_name,
            "out": str(self.out_dir),
            "files": self.files,
        }
        if self.confounder is not None:
            out["confounder"] = self.confounder.to_dict()
        if self.ovb is not None:
            out["ovb"] = self.ovb.to_dict()
        if self.power_scaling is not None:
            out["power_scaling"] = self.power_scaling.to_dict(orient="records")
        if self.prior_sets is not None:
            out["prior_sets"] = self.prior_sets.to_dict(orient="records")
        if self.refuters is not None:
            out["refuters"] = self.refuters.to_dict()
        if self.rho is not None:
            out["rho"] = self.rho.to_dict()
        return out

    def summary(self) -> str:
        """Plain-text report."""
        from embedcausal.report import format_table

        lines = [f"sensitivity analyses of {self.spec_name} -> {self.out_dir}"]
        if self.confounder is not None:
            c = self.confounder
            shared = f", {len(c.shared)} sharing a fit: U does not reach the outcome"
            counts = (
                f"{len(c.computed)} fitted, {len(c.skipped)} resumed{shared if c.shared else ''}"
            )
            lines += ["", f"latent confounder grid ({counts}):"]
            from embedcausal.sensitivity.confounding import GRID_COLUMNS

            lines.append(
                c.table[list(GRID_COLUMNS)].to_string(
                    index=False, float_format=lambda x: f"{x:.4f}"
                )
            )
            lines.append("tipping point (smallest on_outcome whose interval includes 0):")
            lines.append(c.tipping_point().to_string(index=False))
            if len(c.benchmarks):
                lines.append("benchmarks (per SD of the covariate):")
                lines.append(c.benchmarks.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        if self.ovb is not None:
            lines += ["", "omitted-variable bias (linear probability model):", self.ovb.summary()]
        if self.power_scaling is not None:
            lines += [
                "",
                "power-scaling prior sensitivity:",
                self.power_scaling.to_string(index=False),
            ]
        if self.prior_sets is not None:
            lines += ["", "effects under alternative prior sets:"]
            for name, grp in self.prior_sets.groupby("prior_set", sort=False):
                lines += [f"[{name}]", format_table(grp.drop(columns="prior_set"))]
        if self.refuters is not None:
            lines += ["", "DoWhy refuters:", self.refuters.summary()]
        if self.rho is not None:
            r = self.rho
            lines += [
                "",
                f"rho = corr(mediator error, outcome error) ({len(r.computed)} fitted, "
                f"{len(r.skipped)} resumed):",
            ]
            cols = ["rho", "effect", "mean", "hdi_low", "hdi_high", "excludes_zero"]
            lines.append(r.table[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
            lines.append("where the mean crosses 0 (interval includes 0 from .. to):")
            lines.append(r.crossings().to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        return "\n".join(lines)


def run_sensitivity(
    model: str | Path | ModelSpec | Design,
    out: str | Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    only: Sequence[str] | None = None,
) -> SensitivityResult:
    """Run the sensitivity analyses of a model file into ``out``.

    Parameters
    ----------
    model : path, ModelSpec or Design
        A model file with a ``[sensitivity]`` table (or its design). The design is built once
        here and shared by every analysis and every worker.
    out : path
        Output directory. An existing one is refused unless ``resume=True``.
    jobs, scheduler : optional
        Local worker processes, or a Dask scheduler address (``tcp://HOST:PORT``).
    resume : bool
        Continue an interrupted run: finished grid points and fits are not redone.
    draws, tune, chains : optional
        Sampler overrides for every fit of the run.
    only : sequence of str, optional
        Subset of ``confounder``, ``ovb``, ``priors``, ``refuters``, ``rho``.
    """
    if isinstance(model, Design):
        spec = model.spec
    else:
        spec = model if isinstance(model, ModelSpec) else load_spec(model)
    s = spec.sensitivity
    if s is None:
        raise EmbedcausalError(
            f"{spec.source}: no [sensitivity] table; expected at least one of "
            + ", ".join(f"[sensitivity.{a}]" for a in ANALYSES)
        )
    wanted = [a for a in (only or ANALYSES) if getattr(s, a) is not None]
    if not wanted:
        raise EmbedcausalError(
            f"{spec.source}: none of {list(only or ANALYSES)} is set in [sensitivity]"
        )
    # identify and validate once, before any work: every analysis and worker gets this design
    d = model if isinstance(model, Design) else design(spec)
    d = d.with_sampler(draws=draws, tune=tune, chains=chains)
    spec = d.spec
    out = Path(out)
    marker = out / "sensitivity.json"
    if out.exists() and any(out.iterdir()) and not resume:
        raise EmbedcausalError(
            f"--out {out}: exists and is not empty; pass --resume to continue it, or choose "
            "another directory"
        )
    out.mkdir(parents=True, exist_ok=True)
    result = SensitivityResult(out_dir=out, spec_name=spec.name)
    if "confounder" in wanted:
        result.confounder = confounding_sweep(
            d, out, jobs=jobs, scheduler=scheduler, resume=resume, progress=progress
        )
        result.files += ["confounder.csv", "confounder_benchmarks.csv", "confounder_contour.png"]
    if "ovb" in wanted:
        result.ovb = _ovb(d, out)
        result.files += ["ovb.json", "ovb_contour.png"]
    if "priors" in wanted:
        _priors(d, out, result, jobs=jobs, scheduler=scheduler, resume=resume, progress=progress)
    if "refuters" in wanted:
        from embedcausal.sensitivity.refuters import refute

        r = s.refuters
        result.refuters = refute(d, methods=r.methods, simulations=r.simulations)
        atomic_write(
            out / "refuters.json", lambda p: Path(p).write_text(dumps(result.refuters.to_dict()))
        )
        result.files.append("refuters.json")
    if "rho" in wanted:
        from embedcausal.sensitivity.rho import rho_sensitivity

        result.rho = rho_sensitivity(
            d, out, jobs=jobs, scheduler=scheduler, resume=resume, progress=progress
        )
        result.files += ["rho.csv", "rho_crossings.csv", "rho.png"]
    atomic_write(marker, lambda p: Path(p).write_text(dumps(result.to_dict())))
    return result


def _ovb(d: Design, out: Path):
    from matplotlib.figure import Figure

    from embedcausal.plan import adjustment_for
    from embedcausal.sensitivity.omitted_variables import ovb

    spec = d.spec
    settings = spec.sensitivity.ovb
    adjustment = adjustment_for(d.identification)
    frame = d.data.frame
    e = spec.estimand
    covs = [spec.column(a) for a in adjustment if a not in (e.treatment, e.mediator, e.outcome)]
    res = ovb(
        frame,
        outcome=spec.column(e.outcome),
        treatment=spec.column(e.treatment),
        covariates=covs,
        fixed_effects=list(settings.fixed_effects),
        benchmark=[spec.column(b) for b in settings.benchmark],
        kd=list(settings.kd),
        q=settings.q,
        alpha=settings.alpha,
    )
    atomic_write(out / "ovb.json", lambda p: Path(p).write_text(dumps(res.to_dict())))
    # a Figure outside pyplot: no backend switch, nothing to close
    fig = Figure(figsize=(6, 5))
    res.contour(ax=fig.add_subplot())
    atomic_write(
        out / "ovb_contour.png",
        lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"),
    )
    return res


def _priors(d: Design, out, result, *, jobs, scheduler, resume, progress) -> None:
    from embedcausal.effects import effects_table
    from embedcausal.sensitivity.priors import fit_prior_set, power_scaling, prior_set_points

    spec = d.spec
    settings = spec.sensitivity.priors
    base_dir = out / "base_fit"
    if resume and (base_dir / "run.json").is_file():
        base = load_run(base_dir)
    else:
        base = fit(d, progress=False)
        base.save(base_dir, overwrite=True)
    rows = [base.effects.assign(prior_set="base")]
    if settings.power_scaling:
        result.power_scaling = power_scaling(base)
        atomic_write(
            out / "power_scaling.csv", lambda p: result.power_scaling.to_csv(p, index=False)
        )
        result.files.append("power_scaling.csv")
    points = prior_set_points(spec)
    if points:
        grid = run_grid(
            fit_prior_set,
            points,
            out / "priors",
            jobs=jobs,
            scheduler=scheduler,
            resume=resume,
            progress=progress,
            context=d,
            fingerprint=fingerprint(d),
        )
        for key in grid.keys:
            ds = grid.load(key)
            rows.append(
                effects_table(ds, reliable=bool(ds.attrs.get("diagnostics_ok", 1))).assign(
                    prior_set=ds.attrs["prior_set"]
                )
            )
    result.prior_sets = pd.concat(rows, ignore_index=True)
    atomic_write(out / "prior_sets.csv", lambda p: result.prior_sets.to_csv(p, index=False))
    result.files += ["base_fit", "prior_sets.csv"]
