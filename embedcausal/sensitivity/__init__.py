"""Sensitivity analyses: latent-confounder grids, omitted-variable bias, priors, refuters.

Modules: :mod:`.confounding` (Bayesian latent-confounder grid); :mod:`.omitted_variables`
(Cinelli–Hazlett: its formulas in :mod:`.ovb_statistics`, regressions in :mod:`.ovb_regression`,
result in :mod:`.ovb_result`); :mod:`.priors` (power-scaling and alternative priors);
:mod:`.refuters` (DoWhy refuters; what they estimate in :mod:`.refuter_design`, result in
:mod:`.refuter_result`); :mod:`.rho` (ρ = corr(ε_M, ε_Y), its effects in
:mod:`.rho_effects`); :mod:`.sweep` (the model file's ``[sensitivity]`` table end to end).
The names below are imported lazily: the OVB analysis needs neither PyMC nor DoWhy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "OVBResult": "embedcausal.sensitivity.ovb_result",
    "ovb": "embedcausal.sensitivity.omitted_variables",
    "ConfoundingResult": "embedcausal.sensitivity.confounding",
    "confounding_sweep": "embedcausal.sensitivity.confounding",
    "power_scaling": "embedcausal.sensitivity.priors",
    "RefutationResult": "embedcausal.sensitivity.refuter_result",
    "refute": "embedcausal.sensitivity.refuters",
    "RhoResult": "embedcausal.sensitivity.rho",
    "rho_sensitivity": "embedcausal.sensitivity.rho",
    "SensitivityResult": "embedcausal.sensitivity.sweep",
    "run_sensitivity": "embedcausal.sensitivity.sweep",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'embedcausal.sensitivity' has no attribute {name!r}")
