r"""Structural simulators of a country × mission panel, with ground-truth mechanism effects.

Each rival mechanism of the Henke/Poast debate (``docs/design.md`` §1) is a set of structural
equations. :func:`simulate` draws a panel from one of them and computes, from the same equations,
the **true** total effect, natural direct effect (NDE) and natural indirect effect (NIE) of
``inst_ties`` on ``participation`` on the probability scale, for the contrast from the 25th to the
75th percentile of the simulated ``inst_ties``. Estimators are tested by recovering these numbers.

The pieces: :mod:`.parameters` (mechanisms, default coefficients, structural zeros, checked
overrides), :mod:`.panel` (drawing the panel), :mod:`.truth` (the analytic ground truth) and
:mod:`.result` (:class:`Simulation`, written to disk by its ``save``).

Panel
-----
Every country is a potential contributor to every mission: one row per country × mission.
Countries are nested in regions (``R1`` … ``R5``, contiguous blocks of countries). Missions have a
year (sorted, spread over 1950–2014), a type (``un_pko`` or ``us_war``; at least one of each) and
an era (``cold_war`` up to 1989, ``post_cold_war`` after).

Notation: country ``c`` in region ``r``, mission ``m`` with standardised year
``τ_m = (year_m − 1982) / 20``; ``N(0, s)`` is a Normal with standard deviation ``s``;
``z`` are independent standard Normal draws; ``expit`` is the inverse logit.

Structural equations (parameter names in ``code``; every value is in ``truth["parameters"]``)
---------------------------------------------------------------------------------------------
Exogenous, latent or observed::

    U_c     ~ N(0, 1)                                  disposition (latent; constant in country)
    X_cm    = threat_sd_country · z_c + threat_sd_within · z_cm                      (threat)
    H_cm    = hierarchy_sd_country · z_c + hierarchy_sd_within · z_cm             (hierarchy)
    A_c     ~ Bernoulli(expit(alliance_intercept + alliance_disposition · U_c))   (alliance)

Alliance is constant within a country. Random intercepts: ``a_c ~ N(0, y_sd_country)``,
``a_m ~ N(0, y_sd_mission)``, ``a_r ~ N(0, y_sd_region)`` (outcome); ``b_c ~ N(0,
ties_sd_country)`` and ``g_c ~ N(0, ties_sd_trend)`` (tie level and tie trend of the country);
``c_c ~ N(0, personal_sd_country)`` and ``d_c ~ N(0, side_sd_country)`` (mediator intercepts).

Institutional ties ``I`` (``inst_ties``; time-varying within country)::

    log λ_cm = ties_intercept + b_c + ties_disposition · U_c + ties_threat · X_cm
               + ties_alliance · A_c + (ties_trend + g_c) · τ_m + N(0, ties_sd_noise)
    I_cm     ~ Poisson(λ_cm)

Personal ties ``P`` (``personal_ties``; Gaussian)::

    P_cm = personal_intercept + personal_inst_ties · I_cm + personal_threat · X_cm
           + personal_disposition · U_c + c_c + N(0, personal_sd)

Side payment ``S`` (``side_payment``; Gaussian)::

    S_cm = side_intercept + side_inst_ties · I_cm + side_personal_ties · P_cm
           + side_hierarchy · H_cm + d_c + N(0, side_sd)

Participation ``Y`` (Bernoulli-logit)::

    logit P(Y_cm = 1) = y_intercept + y_inst_ties · I_cm + y_personal_ties · P_cm
                        + y_side_payment · S_cm + y_threat · X_cm + y_alliance · A_c
                        + y_disposition · U_c + y_us_war · [type_m = us_war]
                        + a_c + a_m + a_r

Mechanisms
----------
The equations are shared; a mechanism fixes some coefficients at zero (its *structural zeros*,
which cannot be overridden) and sets its own defaults (:data:`DEFAULTS`):

``institutional``
    ``I → Y`` directly; ``P`` neither depends on ``I`` nor affects ``Y`` (NIE = 0).
    Mediator ``personal_ties``. Modest ``U → I``, ``U → P``, ``U → Y``.
``personal``
    ``I → P → Y`` only (NDE = 0). Mediator ``personal_ties``. Modest ``U`` effects.
``disposition``
    ``U → I``, ``U → P``, ``U → Y`` and ``U → alliance`` are strong; no ``I → Y``,
    ``I → P`` or ``P → Y`` (total = NDE = NIE = 0), and by default no ``I → S``.
    Mediator ``personal_ties``. Pooled
    regressions of ``Y`` on ``I`` show a spurious positive association; within-country
    comparisons do not.
``side_payment``
    ``I → S → Y``, ``P → S → Y``, ``hierarchy → S``; no ``I → Y``, ``I → P`` or ``P → Y``.
    Mediator ``side_payment``; ``P`` is not a descendant of ``I`` and is held at its
    realised value in the counterfactuals.

In every mechanism threat confounds ``I`` and ``Y`` (``X → I``, ``X → Y``) and alliance
confounds them at the country level. ``S`` is generated in every mechanism but affects ``Y``
only in ``side_payment``. ``effect_scale`` multiplies the coefficients of the edges out of
the treatment (``y_inst_ties``, ``personal_inst_ties``, ``side_inst_ties``), so every effect
of ``I`` on the log-odds scale scales linearly with it and ``effect_scale=0`` removes them all.

Ground truth
------------
See :data:`TRUTH_DEFINITION` (also written to ``truth["definition"]``). The mediator noise is
integrated out with Gauss–Hermite quadrature (:data:`GH_NODES` nodes), so the truth is exact
up to quadrature error (far below 1e-10 here), not a Monte Carlo estimate.
"""

from __future__ import annotations

import numpy as np

from embedcausal.errors import DataError, expected, shown
from embedcausal.simulation.panel import draw
from embedcausal.simulation.parameters import (
    DEFAULTS,
    MECHANISMS,
    MEDIATOR,
    OUTCOME,
    STRUCTURAL_ZEROS,
    TREATMENT,
    check_int,
    check_real,
    resolve_parameters,
)
from embedcausal.simulation.result import Simulation
from embedcausal.simulation.truth import (
    CONTRAST_QUANTILES,
    GH_NODES,
    TRUTH_DEFINITION,
    mediation_truth,
    true_effects,
)

__all__ = [
    "DEFAULTS",
    "GH_NODES",
    "MECHANISMS",
    "TRUTH_DEFINITION",
    "Simulation",
    "mediation_truth",
    "simulate",
]


def simulate(
    mechanism: str,
    *,
    n_countries: int = 80,
    n_missions: int = 30,
    seed: int = 0,
    effect_scale: float = 1.0,
    **params: float,
) -> Simulation:
    """Simulate a country × mission panel under one rival mechanism, with its ground truth.

    Parameters
    ----------
    mechanism : str
        One of :data:`MECHANISMS`: ``"institutional"``, ``"personal"``, ``"disposition"``,
        ``"side_payment"``.
    n_countries : int, default 80
        Number of countries (at least 10); rows are ``n_countries * n_missions``.
    n_missions : int, default 30
        Number of missions (at least 3).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the same arguments give identical output.
    effect_scale : float, default 1.0
        Multiplies the coefficients of the edges out of ``inst_ties`` (``y_inst_ties``,
        ``personal_inst_ties``, ``side_inst_ties``); ``0`` makes every true effect zero.
    **params : float
        Overrides of the default coefficients (names in the module docstring and in
        ``DEFAULTS[mechanism]``). A mechanism's structural zeros can only be set to 0.

    Returns
    -------
    Simulation
        The panel (``data``), its ground truth (``truth``) and the mechanism.

    Raises
    ------
    embedcausal.errors.DataError
        For an unknown mechanism or parameter, too few countries or missions, a negative seed,
        or a non-finite value (the message names the argument, its value and what is expected).

    Examples
    --------
    >>> sim = simulate("personal", seed=1)
    >>> round(sim.truth["nde"], 12)
    0.0
    """
    if not isinstance(mechanism, str) or mechanism not in MECHANISMS:
        raise DataError(
            f"simulate: mechanism={shown(mechanism)} is not a known mechanism; "
            f"{expected(str(mechanism), MECHANISMS)}"
        )
    n_countries = check_int("n_countries", n_countries, 10)
    n_missions = check_int("n_missions", n_missions, 3)
    seed = check_int("seed", seed, 0)
    effect_scale = check_real("effect_scale", effect_scale)
    parameters = resolve_parameters(mechanism, effect_scale, params)

    rng = np.random.default_rng(seed)
    data, latent = draw(parameters, n_countries, n_missions, rng)
    eff = true_effects(mechanism, parameters, data, latent)
    total = eff["total"]
    truth = {
        "mechanism": mechanism,
        "seed": seed,
        "n_countries": n_countries,
        "n_missions": n_missions,
        "treatment": TREATMENT,
        "mediator": MEDIATOR[mechanism],
        "outcome": OUTCOME,
        "contrast": {
            "from": eff["from"],
            "to": eff["to"],
            "from_quantile": CONTRAST_QUANTILES[0],
            "to_quantile": CONTRAST_QUANTILES[1],
        },
        "scale": "probability",
        "total": total,
        "nde": eff["nde"],
        "nie": eff["nie"],
        "prop_mediated": None if abs(total) < 1e-12 else eff["nie"] / total,
        "definition": TRUTH_DEFINITION,
        "effect_scale": effect_scale,
        "parameters": {k: float(v) for k, v in parameters.items()},
        "structural_zeros": list(STRUCTURAL_ZEROS[mechanism]),
        "latent": {"disposition": "constant within country"},
        "participation_rate": float(data[OUTCOME].mean()),
    }
    return Simulation(data=data, truth=truth, mechanism=mechanism, latent=latent)
