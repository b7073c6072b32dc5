r"""Structural simulators of a country × mission panel, with ground-truth mechanism effects.

Each rival mechanism of the Henke/Poast debate (``docs/design.md`` §1) is a set of structural
equations. :func:`simulate` draws a panel from one of them and computes, from the same equations,
the **true** total effect, natural direct effect (NDE) and natural indirect effect (NIE) of
``inst_ties`` on ``participation`` on the probability scale, for the contrast from the 25th to the
75th percentile of the simulated ``inst_ties``. Estimators are tested by recovering these numbers.

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

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd

from embedcausal.errors import DataError, close_matches, expected, shown
from embedcausal.files import atomic_write

__all__ = [
    "DEFAULTS",
    "GH_NODES",
    "MECHANISMS",
    "TRUTH_DEFINITION",
    "Simulation",
    "mediation_truth",
    "simulate",
]

MECHANISMS: tuple[str, ...] = ("institutional", "personal", "disposition", "side_payment")

GH_NODES = 60
YEAR_MIN, YEAR_MAX, YEAR_CENTER, YEAR_SCALE = 1950, 2014, 1982.0, 20.0
COLD_WAR_END = 1989
N_REGIONS = 5
US_WAR_SHARE = 0.35
CONTRAST_QUANTILES = (0.25, 0.75)
MAX_LOG_RATE = 14.0

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

TRUTH_DEFINITION = (
    "Treatment inst_ties is contrasted from t0 = its 25th to t1 = its 75th percentile in the "
    "simulated panel (numpy.percentile, linear). For each observed row i every variable other than "
    "the treatment T and the mediator M keeps its realised value (random intercepts, latent "
    "disposition, threat, hierarchy, alliance, mission type, and for side_payment the personal "
    "ties that feed the side payment). The mediator's counterfactual M_i(t) is its structural mean "
    "at T=t for row i plus its Normal noise; p_i(t, m) = P(participation_i = 1 | T=t, M=m, rest "
    "of row i) from the Bernoulli-logit outcome equation; E_i(t, t') = E_eps[p_i(t, M_i(t'))] "
    "with the mediator noise integrated out exactly (Gauss-Hermite quadrature). "
    "total = mean_i[E_i(t1,t1) - E_i(t0,t0)]; nde = mean_i[E_i(t1,t0) - E_i(t0,t0)]; "
    "nie = mean_i[E_i(t1,t1) - E_i(t1,t0)]; total = nde + nie; prop_mediated = nie / total "
    "(None when |total| < 1e-12). All on the probability scale."
)


@dataclass(frozen=True)
class Simulation:
    """A simulated panel with its ground truth.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per country × mission with the observed columns (the latent disposition is not
        among them).
    truth : dict
        JSON-serialisable ground truth: the contrast, ``total``, ``nde``, ``nie``,
        ``prop_mediated`` (probability scale), the definition and every parameter.
    mechanism : str
        The mechanism that generated the data (one of :data:`MECHANISMS`).
    latent : pandas.DataFrame or None
        Row-aligned unobserved quantities (``disposition``, the random intercepts, the log rate
        of ``inst_ties`` and the mediator noises), for checks against the structural equations.
        Not written by :meth:`save`.
    """

    data: pd.DataFrame
    truth: dict
    mechanism: str
    latent: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write the data as CSV at ``path`` and the truth beside it as JSON.

        ``x.csv`` gives ``x.truth.json`` (any other name gets ``.truth.json`` appended). Both
        files are written to a temporary sibling and moved into place with :func:`os.replace`;
        missing parent directories are created.

        Returns
        -------
        tuple of pathlib.Path
            The data path and the truth path.
        """
        data_path = Path(path)
        stem = data_path.name[:-4] if data_path.name.lower().endswith(".csv") else data_path.name
        if not stem:
            raise DataError(
                f"save: path {shown(str(path))} has no file name; expected e.g. 'sim.csv'"
            )
        truth_path = data_path.with_name(stem + ".truth.json")
        data_path.parent.mkdir(parents=True, exist_ok=True)
        csv = self.data.to_csv(index=False, lineterminator="\n")
        truth = json.dumps(self.truth, indent=2, allow_nan=False) + "\n"
        atomic_write(data_path, lambda tmp: tmp.write_text(csv, encoding="utf-8", newline=""))
        atomic_write(truth_path, lambda tmp: tmp.write_text(truth, encoding="utf-8", newline=""))
        return data_path, truth_path


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_int(name: str, value: object, minimum: int) -> int:
    if not _is_int(value) or value < minimum:  # type: ignore[operator]
        raise DataError(
            f"simulate: {name}={shown(value)} is invalid; expected an integer >= {minimum}"
        )
    return int(value)  # type: ignore[arg-type]


def _check_real(name: str, value: object, *, nonnegative: bool = False) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (nonnegative and value < 0):  # type: ignore[operator]
        want = "a finite number >= 0" if nonnegative else "a finite number"
        raise DataError(f"simulate: {name}={shown(value)} is invalid; expected {want}")
    return float(value)  # type: ignore[arg-type]


def _resolve_parameters(
    mechanism: str, effect_scale: float, overrides: Mapping[str, object]
) -> dict[str, float]:
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
        val = _check_real(name, value, nonnegative=name in _NONNEGATIVE)
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


# -- the structural equations ---------------------------------------------------------------------
def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _labels(prefix: str, n: int, width: int) -> np.ndarray:
    w = max(width, len(str(n)))
    return np.array([f"{prefix}{i + 1:0{w}d}" for i in range(n)], dtype=object)


def _draw(
    params: dict[str, float], n_countries: int, n_missions: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw one panel; return (observed data, latent quantities), row-aligned."""
    p = params
    nc, nm = n_countries, n_missions
    ci = np.repeat(np.arange(nc), nm)  # country index of each row (country-major)
    mi = np.tile(np.arange(nm), nc)  # mission index of each row
    region_of_country = (np.arange(nc) * N_REGIONS) // nc
    ri = region_of_country[ci]

    years = np.sort(rng.integers(YEAR_MIN, YEAR_MAX + 1, size=nm))
    n_us = min(max(1, round(US_WAR_SHARE * nm)), nm - 1)
    us_war = np.zeros(nm, dtype=bool)
    us_war[rng.choice(nm, size=n_us, replace=False)] = True
    tau = (years - YEAR_CENTER) / YEAR_SCALE

    u = rng.standard_normal(nc)
    n = nc * nm
    threat = p["threat_sd_country"] * rng.standard_normal(nc)[ci]
    threat = threat + p["threat_sd_within"] * rng.standard_normal(n)
    hierarchy = p["hierarchy_sd_country"] * rng.standard_normal(nc)[ci]
    hierarchy = hierarchy + p["hierarchy_sd_within"] * rng.standard_normal(n)
    alliance_c = rng.random(nc) < _expit(p["alliance_intercept"] + p["alliance_disposition"] * u)
    alliance = alliance_c[ci].astype(np.int64)

    a_c = p["y_sd_country"] * rng.standard_normal(nc)
    a_m = p["y_sd_mission"] * rng.standard_normal(nm)
    a_r = p["y_sd_region"] * rng.standard_normal(N_REGIONS)
    b_c = p["ties_sd_country"] * rng.standard_normal(nc)
    g_c = p["ties_sd_trend"] * rng.standard_normal(nc)
    c_c = p["personal_sd_country"] * rng.standard_normal(nc)
    d_c = p["side_sd_country"] * rng.standard_normal(nc)

    log_rate = (
        p["ties_intercept"]
        + b_c[ci]
        + p["ties_disposition"] * u[ci]
        + p["ties_threat"] * threat
        + p["ties_alliance"] * alliance
        + (p["ties_trend"] + g_c[ci]) * tau[mi]
        + p["ties_sd_noise"] * rng.standard_normal(n)
    )
    if not np.all(log_rate < MAX_LOG_RATE):
        raise DataError(
            f"simulate: the tie parameters (ties_*) give a log rate of inst_ties up to "
            f"{float(np.max(log_rate)):.3g}; expected below {MAX_LOG_RATE} (at most ~1e6 ties)"
        )
    inst = rng.poisson(np.exp(log_rate)).astype(np.int64)

    eps_p = p["personal_sd"] * rng.standard_normal(n)
    personal = _personal_mean0(p, threat, u[ci], c_c[ci]) + p["personal_inst_ties"] * inst + eps_p
    eps_s = p["side_sd"] * rng.standard_normal(n)
    side = _side_mean0(p, personal, hierarchy, d_c[ci]) + p["side_inst_ties"] * inst + eps_s

    eta = (
        _eta_rest(p, threat, alliance, u[ci], us_war[mi], a_c[ci] + a_m[mi] + a_r[ri])
        + p["y_inst_ties"] * inst
        + p["y_personal_ties"] * personal
        + p["y_side_payment"] * side
    )
    y = (rng.random(n) < _expit(eta)).astype(np.int64)

    data = pd.DataFrame(
        {
            "country": _labels("C", nc, 3)[ci],
            "region": np.array([f"R{k + 1}" for k in range(N_REGIONS)], dtype=object)[ri],
            "mission": _labels("M", nm, 2)[mi],
            "mission_year": years[mi].astype(np.int64),
            "mission_type": np.where(us_war, "us_war", "un_pko").astype(object)[mi],
            "era": np.where(years <= COLD_WAR_END, "cold_war", "post_cold_war").astype(object)[mi],
            "participation": y,
            "inst_ties": inst,
            "personal_ties": personal,
            "side_payment": side,
            "threat": threat,
            "hierarchy": hierarchy,
            "alliance": alliance,
        }
    )
    for col in ("country", "region", "mission", "mission_type", "era"):
        data[col] = data[col].astype(str)
    latent = pd.DataFrame(
        {
            "disposition": u[ci],
            "re_country": a_c[ci],
            "re_mission": a_m[mi],
            "re_region": a_r[ri],
            "ties_log_rate": log_rate,
            "re_personal": c_c[ci],
            "re_side": d_c[ci],
            "noise_personal": eps_p,
            "noise_side": eps_s,
        }
    )
    return data, latent


def _personal_mean0(
    p: dict[str, float], threat: np.ndarray, u: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """Mean of personal ties at inst_ties = 0."""
    return (
        p["personal_intercept"] + p["personal_threat"] * threat + p["personal_disposition"] * u + c
    )


def _side_mean0(
    p: dict[str, float], personal: np.ndarray, hierarchy: np.ndarray, d: np.ndarray
) -> np.ndarray:
    """Mean of the side payment at inst_ties = 0 (personal ties at their given values)."""
    return (
        p["side_intercept"]
        + p["side_personal_ties"] * personal
        + p["side_hierarchy"] * hierarchy
        + d
    )


def _eta_rest(
    p: dict[str, float],
    threat: np.ndarray,
    alliance: np.ndarray,
    u: np.ndarray,
    us_war: np.ndarray,
    intercepts: np.ndarray,
) -> np.ndarray:
    """Outcome log-odds without the inst_ties, personal_ties and side_payment terms."""
    return (
        p["y_intercept"]
        + p["y_threat"] * threat
        + p["y_alliance"] * alliance
        + p["y_disposition"] * u
        + p["y_us_war"] * us_war
        + intercepts
    )


# -- ground truth ---------------------------------------------------------------------------------
def mediation_truth(
    eta0: np.ndarray,
    beta_t: float,
    beta_m: float,
    mu0: np.ndarray,
    theta: float,
    sigma_m: float,
    t0: float,
    t1: float,
    n_nodes: int = GH_NODES,
) -> dict[str, float]:
    """Total, NDE and NIE for a logit outcome with a linear-Gaussian mediator.

    Row ``i`` has ``logit p_i(t, m) = eta0_i + beta_t·t + beta_m·m`` and mediator
    ``M_i(t) = mu0_i + theta·t + N(0, sigma_m)``. ``E_i(t, t') = E[p_i(t, M_i(t'))]`` is computed by
    Gauss–Hermite quadrature with ``n_nodes`` nodes; effects are means over rows.

    Returns
    -------
    dict
        ``total``, ``nde`` and ``nie`` (probability scale; ``total == nde + nie`` up to rounding).
    """
    x, w = np.polynomial.hermite.hermgauss(n_nodes)
    eps = math.sqrt(2.0) * sigma_m * x  # nodes for N(0, sigma_m)
    weights = w / math.sqrt(math.pi)
    eta0 = np.asarray(eta0, dtype=float)[:, None]
    mu0 = np.asarray(mu0, dtype=float)[:, None]

    def expected(t: float, t_m: float) -> np.ndarray:
        m = mu0 + theta * t_m + eps[None, :]
        return _expit(eta0 + beta_t * t + beta_m * m) @ weights

    e00, e10, e11 = expected(t0, t0), expected(t1, t0), expected(t1, t1)
    nde = float(np.mean(e10 - e00))
    nie = float(np.mean(e11 - e10))
    return {"total": nde + nie, "nde": nde, "nie": nie}


def _truth(
    mechanism: str, params: dict[str, float], data: pd.DataFrame, latent: pd.DataFrame
) -> dict[str, float]:
    p = params
    t0, t1 = (float(np.percentile(data[TREATMENT], 100 * q)) for q in CONTRAST_QUANTILES)
    intercepts = latent["re_country"] + latent["re_mission"] + latent["re_region"]
    eta_rest = _eta_rest(
        p,
        data["threat"].to_numpy(),
        data["alliance"].to_numpy(),
        latent["disposition"].to_numpy(),
        (data["mission_type"] == "us_war").to_numpy(),
        intercepts.to_numpy(),
    )
    if MEDIATOR[mechanism] == "personal_ties":
        # S is a descendant of I and P here, but y_side_payment == 0 (a structural zero).
        eta0 = eta_rest + p["y_side_payment"] * data["side_payment"].to_numpy()
        mu0 = _personal_mean0(
            p,
            data["threat"].to_numpy(),
            latent["disposition"].to_numpy(),
            latent["re_personal"].to_numpy(),
        )
        beta_m, theta, sigma = p["y_personal_ties"], p["personal_inst_ties"], p["personal_sd"]
    else:
        # P is not a descendant of I (personal_inst_ties == 0): held at its realised value.
        personal = data["personal_ties"].to_numpy()
        eta0 = eta_rest + p["y_personal_ties"] * personal
        mu0 = _side_mean0(p, personal, data["hierarchy"].to_numpy(), latent["re_side"].to_numpy())
        beta_m, theta, sigma = p["y_side_payment"], p["side_inst_ties"], p["side_sd"]
    effects = mediation_truth(eta0, p["y_inst_ties"], beta_m, mu0, theta, sigma, t0, t1)
    return {"from": t0, "to": t1, **effects}


# -- public entry point ---------------------------------------------------------------------------
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
    n_countries = _check_int("n_countries", n_countries, 10)
    n_missions = _check_int("n_missions", n_missions, 3)
    seed = _check_int("seed", seed, 0)
    effect_scale = _check_real("effect_scale", effect_scale)
    parameters = _resolve_parameters(mechanism, effect_scale, params)

    rng = np.random.default_rng(seed)
    data, latent = _draw(parameters, n_countries, n_missions, rng)
    eff = _truth(mechanism, parameters, data, latent)
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
