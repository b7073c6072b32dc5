"""embedcausal: Bayesian causal models of coalition participation.

Write rival mechanisms as DAGs in model files, ask what is identified, fit hierarchical PyMC
models, read mechanism effects (total, NDE, NIE, proportion mediated) as ArviZ objects, and
run sensitivity analyses. The public API on one screen::

    import embedcausal as ec

    spec = ec.load_spec("models/full.toml")        # model file -> ModelSpec
    ec.identify(spec, estimand="nde")              # what the DAG identifies (DoWhy, checked)
    d = ec.design(spec)                            # identification + prepared data, once
    model = ec.build_model(d)                      # the PyMC model (pm.do works on it)
    run = ec.fit(d)                                # sample, diagnose, effects -> Run
    run.effects; run.idata                         # tidy table; ArviZ DataTree
    run.save("runs/full"); ec.load_run("runs/full")
    ec.compare_runs({"a": run_a, "b": run_b})      # PSIS-LOO
    ec.confounding_sweep(d, "runs/sweep")          # sensitivity analyses ...
    ec.plot_effects(run); ec.write_report(["runs/full"], "report.html")   # figures, HTML

Names are imported lazily (``import embedcausal`` and the CLI start fast; PyMC is loaded when
a model is built). No submodule shares its name with an exported verb, so ``ec.fit`` is the
function however often it is called and whatever was imported before.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    # model files and graphs
    "load_spec": "embedcausal.spec",
    "ModelSpec": "embedcausal.spec",
    "parse_prior": "embedcausal.priors",
    "CausalDAG": "embedcausal.dag",
    # identification
    "identify": "embedcausal.identification",
    "Identification": "embedcausal.identification",
    "implied_independences": "embedcausal.identification",
    "test_implications": "embedcausal.identification",
    "node_roles": "embedcausal.identification",
    # data and the plan
    "read_table": "embedcausal.data",
    "prepare": "embedcausal.prepared",
    "PreparedData": "embedcausal.prepared",
    "design": "embedcausal.plan",
    "Design": "embedcausal.plan",
    "load_coalition_panel": "embedcausal.datasets",
    "simulate": "embedcausal.simulation",
    "Simulation": "embedcausal.simulation",
    # models, fitting, effects
    "build_model": "embedcausal.models",
    "plan_part": "embedcausal.geometry",
    "fit": "embedcausal.fitting",
    "sample": "embedcausal.fitting",
    "Run": "embedcausal.run",
    "load_run": "embedcausal.runs",
    "diagnose": "embedcausal.diagnostics",
    "Diagnostics": "embedcausal.diagnostics",
    "gcomp": "embedcausal.effects",
    "effects_table": "embedcausal.estimands",
    "compare_runs": "embedcausal.compare",
    # plots and the report
    "plot_dag": "embedcausal.plots",
    "draw_dag": "embedcausal.plots",
    "plot_effects": "embedcausal.plots",
    "plot_effect_curve": "embedcausal.plots",
    "plot_ppc": "embedcausal.plots",
    "plot_diagnostics": "embedcausal.plots",
    "plot_loo": "embedcausal.plots",
    "plot_confounding": "embedcausal.plots",
    "plot_rho": "embedcausal.plots",
    "write_report": "embedcausal.html",
    # many fits and sensitivity
    "run_grid": "embedcausal.parallel",
    "GridPoint": "embedcausal.parallel",
    "coverage_study": "embedcausal.validation",
    "confounding_sweep": "embedcausal.sensitivity.confounding",
    "ovb": "embedcausal.sensitivity.omitted_variables",
    "power_scaling": "embedcausal.sensitivity.priors",
    "refute": "embedcausal.sensitivity.refuters",
    "rho_sensitivity": "embedcausal.sensitivity.rho",
    "run_sensitivity": "embedcausal.sensitivity.sweep",
    # errors
    "EmbedcausalError": "embedcausal.errors",
    "SpecError": "embedcausal.errors",
    "DataError": "embedcausal.errors",
    "DAGError": "embedcausal.errors",
    "IdentificationError": "embedcausal.errors",
    "RunError": "embedcausal.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip __getattr__ (and cannot be shadowed)
        return value
    raise AttributeError(f"module 'embedcausal' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
