"""embedcausal: Bayesian causal models of coalition participation.

Write rival mechanisms as DAGs in model files, ask what is identified, fit hierarchical PyMC
models, read mechanism effects (total, NDE, NIE, proportion mediated, P(NIE > NDE)) as ArviZ
objects, and run sensitivity analyses.

The public names below are imported lazily, so ``import embedcausal`` (and the CLI) start
fast; PyMC is loaded only when a model is built.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_spec": "embedcausal.spec",
    "ModelSpec": "embedcausal.spec",
    "parse_prior": "embedcausal.priors",
    "CausalDAG": "embedcausal.dag",
    "identify": "embedcausal.identification",
    "Identification": "embedcausal.identification",
    "implied_independences": "embedcausal.identification",
    "test_implications": "embedcausal.identification",
    "prepare": "embedcausal.data",
    "load_coalition_panel": "embedcausal.datasets",
    "simulate": "embedcausal.simulate",
    "build_model": "embedcausal.models",
    "gcomp": "embedcausal.effects",
    "effects_table": "embedcausal.effects",
    "fit": "embedcausal.fit",
    "Run": "embedcausal.fit",
    "load_run": "embedcausal.fit",
    "compare_runs": "embedcausal.compare",
    "EmbedcausalError": "embedcausal.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'embedcausal' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
