"""Drawing one country × mission panel from the structural equations.

The panel and the equations are described in the :mod:`embedcausal.simulation` docstring; the
coefficients come from :mod:`.parameters`. The mean functions are shared with :mod:`.truth`,
which evaluates the same equations at counterfactual treatment values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from embedcausal.errors import DataError

__all__ = ["draw", "eta_rest", "personal_mean0", "side_mean0"]

YEAR_MIN, YEAR_MAX, YEAR_CENTER, YEAR_SCALE = 1950, 2014, 1982.0, 20.0
COLD_WAR_END = 1989
N_REGIONS = 5
US_WAR_SHARE = 0.35
MAX_LOG_RATE = 14.0


def _labels(prefix: str, n: int, width: int) -> np.ndarray:
    w = max(width, len(str(n)))
    return np.array([f"{prefix}{i + 1:0{w}d}" for i in range(n)], dtype=object)


def draw(
    params: dict[str, float], n_countries: int, n_missions: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw one panel from the structural equations.

    Parameters
    ----------
    params : dict of str to float
        The coefficients (from :func:`~embedcausal.simulation.parameters.resolve_parameters`).
    n_countries, n_missions : int
        Panel size; one row per country × mission, country-major.
    rng : numpy.random.Generator
        The only source of randomness (the draws' order is fixed: same seed, same panel).

    Returns
    -------
    tuple of pandas.DataFrame
        The observed columns and the latent quantities, row-aligned.

    Raises
    ------
    DataError
        When the tie coefficients give a log rate of ``inst_ties`` of 14 or more.
    """
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
    alliance_c = rng.random(nc) < expit(p["alliance_intercept"] + p["alliance_disposition"] * u)
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
    personal = personal_mean0(p, threat, u[ci], c_c[ci]) + p["personal_inst_ties"] * inst + eps_p
    eps_s = p["side_sd"] * rng.standard_normal(n)
    side = side_mean0(p, personal, hierarchy, d_c[ci]) + p["side_inst_ties"] * inst + eps_s

    eta = (
        eta_rest(p, threat, alliance, u[ci], us_war[mi], a_c[ci] + a_m[mi] + a_r[ri])
        + p["y_inst_ties"] * inst
        + p["y_personal_ties"] * personal
        + p["y_side_payment"] * side
    )
    y = (rng.random(n) < expit(eta)).astype(np.int64)

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


def personal_mean0(
    p: dict[str, float], threat: np.ndarray, u: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """Mean of personal ties at inst_ties = 0."""
    return (
        p["personal_intercept"] + p["personal_threat"] * threat + p["personal_disposition"] * u + c
    )


def side_mean0(
    p: dict[str, float], personal: np.ndarray, hierarchy: np.ndarray, d: np.ndarray
) -> np.ndarray:
    """Mean of the side payment at inst_ties = 0 (personal ties at their given values)."""
    return (
        p["side_intercept"]
        + p["side_personal_ties"] * personal
        + p["side_hierarchy"] * hierarchy
        + d
    )


def eta_rest(
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
