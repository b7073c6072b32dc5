"""The rival mechanisms' coefficients: defaults, structural zeros and checked overrides.

The equations the coefficients enter are in the :mod:`embedcausal.simulation` docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import numpy as np

from embedcausal.errors import DataError, close_matches, shown

__all__ = [
    "DEFAULTS",
    "MECHANISMS",
    "MEDIATOR",
    "OUTCOME",
    "STRUCTURAL_ZEROS",
    "TREATMENT",
    "TREATMENT_EDGES",
    "check_int",
    "check_real",
    "resolve_parameters",
]

MECHANISMS: tuple[str, ...] = ("institutional", "personal", "disposition", "side_payment")

TREATMENT, OUTCOME = "inst_ties", "participation"
MEDIATOR = {
    "institutional": "personal_ties",
    "personal": "personal_ties",
    "disposition": "personal_ties",
    "side_payment": "side_payment",
}

#: Coefficients of the edges out of the treatment; ``effect_scale`` multiplies them.
TREATMENT_EDGES = ("y_inst_ties", "personal_inst_ties", "side_inst_ties")

#: Coefficients fixed at zero by each mechanism (cannot be overridden through ``**params``).
STRUCTURAL_ZEROS: dict[str, tuple[str, ...]] = {
    "institutional": ("personal_inst_ties", "y_personal_ties", "y_side_payment"),
    "personal": ("y_inst_ties", "y_side_payment"),
    "disposition": ("y_inst_ties", "personal_inst_ties", "y_personal_ties", "y_side_payment"),
    "side_payment": ("y_inst_ties", "personal_inst_ties", "y_personal_ties"),
}

_BASE: dict[str, float] = {
    # exogenous covariates
    "threat_sd_country": 0.6,
    "threat_sd_within": 0.8,
    "hierarchy_sd_country": 0.9,
    "hierarchy_sd_within": 0.45,
    "alliance_intercept": -0.5,
    "alliance_disposition": 0.5,
    # institutional ties (log rate of a Poisson count)
    "ties_intercept": 1.4,
    "ties_disposition": 0.25,
    "ties_threat": 0.15,
    "ties_alliance": 0.3,
    "ties_trend": 0.35,
    "ties_sd_trend": 0.2,
    "ties_sd_country": 0.4,
    "ties_sd_noise": 0.2,
    # personal ties (Gaussian)
    "personal_intercept": -1.0,
    "personal_inst_ties": 0.0,
    "personal_threat": 0.2,
    "personal_disposition": 0.25,
    "personal_sd_country": 0.4,
    "personal_sd": 1.0,
    # side payment (Gaussian)
    "side_intercept": -1.0,
    "side_inst_ties": 0.2,
    "side_personal_ties": 0.4,
    "side_hierarchy": 0.5,
    "side_sd_country": 0.4,
    "side_sd": 1.0,
    # participation (Bernoulli-logit)
    "y_intercept": -2.0,
    "y_inst_ties": 0.0,
    "y_personal_ties": 0.0,
    "y_side_payment": 0.0,
    "y_threat": 0.4,
    "y_alliance": 0.3,
    "y_disposition": 0.25,
    "y_us_war": -0.5,
    "y_sd_country": 0.5,
    "y_sd_mission": 0.6,
    "y_sd_region": 0.3,
}

#: Default coefficients of each mechanism (before ``effect_scale``).
DEFAULTS: dict[str, dict[str, float]] = {
    "institutional": {**_BASE, "y_inst_ties": 0.12, "y_intercept": -1.8},
    "personal": {
        **_BASE,
        "personal_inst_ties": 0.25,
        "y_personal_ties": 0.5,
        "y_intercept": -1.2,
    },
    "disposition": {
        **_BASE,
        "side_inst_ties": 0.0,
        "alliance_disposition": 1.0,
        "ties_disposition": 0.6,
        "personal_disposition": 0.6,
        "y_disposition": 1.0,
        "y_intercept": -1.3,
    },
    "side_payment": {
        **_BASE,
        "side_inst_ties": 0.25,
        "y_side_payment": 0.5,
        "y_intercept": -1.0,
    },
}

#: Parameters that are standard deviations or shares (must be >= 0).
_NONNEGATIVE = tuple(k for k in _BASE if "_sd" in k)


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``.

    Raises
    ------
    DataError
        Naming the argument ``name``, its value and what was expected.
    """
    if not _is_int(value) or value < minimum:  # type: ignore[operator]
        raise DataError(
            f"simulate: {name}={shown(value)} is invalid; expected an integer >= {minimum}"
        )
    return int(value)  # type: ignore[arg-type]


def check_real(name: str, value: object, *, nonnegative: bool = False) -> float:
    """``value`` as a ``float`` if it is a finite real number (``>= 0`` if ``nonnegative``).

    Raises
    ------
    DataError
        Naming the argument ``name``, its value and what was expected.
    """
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (nonnegative and value < 0):  # type: ignore[operator]
        want = "a finite number >= 0" if nonnegative else "a finite number"
        raise DataError(f"simulate: {name}={shown(value)} is invalid; expected {want}")
    return float(value)  # type: ignore[arg-type]


def resolve_parameters(
    mechanism: str, effect_scale: float, overrides: Mapping[str, object]
) -> dict[str, float]:
    """The mechanism's coefficients with the user's overrides, treatment edges scaled.

    Parameters
    ----------
    mechanism : str
        One of :data:`MECHANISMS`.
    effect_scale : float
        Multiplies the coefficients in :data:`TREATMENT_EDGES`.
    overrides : mapping of str to number
        Coefficients to change (names of ``DEFAULTS[mechanism]``).

    Returns
    -------
    dict of str to float

    Raises
    ------
    DataError
        For an unknown name (with "did you mean"), a non-finite value, a negative standard
        deviation or a nonzero structural zero.
    """
    defaults = DEFAULTS[mechanism]
    zeros = STRUCTURAL_ZEROS[mechanism]
    params = dict(defaults)
    for name, value in overrides.items():
        if name not in defaults:
            close = close_matches(name, defaults)
            hint = f" (did you mean {shown(close[0])}?)" if close else ""
            raise DataError(
                f"simulate: unknown parameter {shown(name)}{hint}; expected one of "
                f"{', '.join(sorted(defaults))}"
            )
        val = check_real(name, value, nonnegative=name in _NONNEGATIVE)
        if name in zeros and val != 0.0:
            raise DataError(
                f"simulate: parameter {name}={shown(value)} is a structural zero of the "
                f"{shown(mechanism)} "
                f"mechanism; expected 0 (its structural zeros: {', '.join(zeros)})"
            )
        params[name] = val
    for name in TREATMENT_EDGES:
        params[name] = params[name] * effect_scale + 0.0  # + 0.0 turns -0.0 into 0.0
    return params
