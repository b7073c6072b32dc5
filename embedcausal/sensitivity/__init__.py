"""Sensitivity analyses: latent-confounder grids, omitted-variable bias, priors, refuters.

Modules: :mod:`.confounding` (Bayesian latent-confounder grid), :mod:`.ovb` (Cinelli–Hazlett),
:mod:`.priors` (power-scaling and alternative priors), :mod:`.refute` (DoWhy refuters) and
:mod:`.sweep` (the model file's ``[sensitivity]`` table end to end). Only the light OVB names
are imported here; the others load PyMC and are imported from their modules.
"""

from embedcausal.sensitivity.ovb import OVBResult, ovb

__all__ = ["OVBResult", "ovb"]
