"""Identification of causal effects from a DAG, checked against the graph.

:func:`identify` asks DoWhy (``CausalModel.identify_effect``) for the estimand and then checks
the answer against the graph itself, with d-separation:

* **backdoor** (total effect): a set ``Z`` of observed non-descendants of the treatment that
  d-separates treatment and outcome once the treatment's outgoing edges are removed;
* **frontdoor**: a set that intercepts every directed path, with no open backdoor path from
  the treatment into it and every backdoor path from it to the outcome blocked by the
  treatment;
* **iv**: an observed node that is relevant (d-connected to the treatment) and d-separated
  from the outcome once the treatment's outgoing edges are removed (exogeneity and exclusion);
* **mediation** (natural direct and indirect effects): a set ``W`` of observed
  non-descendants of the treatment that blocks the treatment–outcome, treatment–mediator and
  (with the treatment) mediator–outcome backdoor paths, and no mediator–outcome confounder is
  affected by the treatment;
* **within**: the same criteria where a latent node declared constant within a grouping column
  (``constant_within``) may be adjusted for by within-group variation (group fixed effects or a
  Mundlak decomposition).

Where DoWhy disagrees (it returns a mediation estimand for the natural effects even when the
treatment–outcome backdoor path is open, for example) the graph wins and the disagreement is
recorded in :attr:`Identification.notes`.

:func:`implied_independences` lists the conditional independences the DAG implies among the
observed nodes and :func:`test_implications` tests them against data. :func:`node_roles`
gives every node its role (treatment, mediator, outcome, confounder, instrument, latent,
other), with the instrument test identification uses.

Modules
-------
``criteria``
    The graph criteria (d-separation, backdoor, frontdoor, instruments, mediation, within) and
    :func:`node_roles`, the one definition of node roles.
``dowhy_adapter``
    Asking DoWhy for an estimand; :func:`~.dowhy_adapter.quiet_dowhy` mutes DoWhy.
``assumptions``
    The assumptions relied on, in plain words.
``implications``
    Implied conditional independences and their tests.
``identifier``
    :func:`identify` itself; ``result`` holds :class:`Identification` and
    :class:`Independence`.
"""

from __future__ import annotations

from embedcausal.identification.criteria import is_backdoor_set, node_roles
from embedcausal.identification.identifier import identify
from embedcausal.identification.implications import (
    contradicted,
    implied_independences,
    test_implications,
)
from embedcausal.identification.result import ESTIMANDS, Identification, Independence

__all__ = [
    "ESTIMANDS",
    "Identification",
    "Independence",
    "contradicted",
    "identify",
    "implied_independences",
    "is_backdoor_set",
    "node_roles",
    "test_implications",
]
