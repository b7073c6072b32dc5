"""The true mediation effects of a simulated panel, from its structural equations.

See :data:`TRUTH_DEFINITION` (also written to ``truth["definition"]``). The mediator noise is
integrated out with Gauss–Hermite quadrature (:data:`GH_NODES` nodes), so the truth is exact up
to quadrature error (far below 1e-10 here), not a Monte Carlo estimate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import expit

from embedcausal.simulation.panel import eta_rest, personal_mean0, side_mean0
from embedcausal.simulation.parameters import MEDIATOR, TREATMENT

__all__ = ["CONTRAST_QUANTILES", "GH_NODES", "TRUTH_DEFINITION", "mediation_truth", "true_effects"]

GH_NODES = 60
CONTRAST_QUANTILES = (0.25, 0.75)

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
        return expit(eta0 + beta_t * t + beta_m * m) @ weights

    e00, e10, e11 = expected(t0, t0), expected(t1, t0), expected(t1, t1)
    nde = float(np.mean(e10 - e00))
    nie = float(np.mean(e11 - e10))
    return {"total": nde + nie, "nde": nde, "nie": nie}


def true_effects(
    mechanism: str, params: dict[str, float], data: pd.DataFrame, latent: pd.DataFrame
) -> dict[str, float]:
    """The true total effect, NDE and NIE of a drawn panel (see :data:`TRUTH_DEFINITION`).

    Parameters
    ----------
    mechanism : str
        The mechanism that drew the panel (it fixes the mediator).
    params : dict of str to float
        Its coefficients (from :func:`~embedcausal.simulation.parameters.resolve_parameters`).
    data, latent : pandas.DataFrame
        The observed and latent columns from :func:`~embedcausal.simulation.panel.draw`.

    Returns
    -------
    dict of str to float
        ``from`` and ``to`` (the contrast of ``inst_ties``), ``total``, ``nde``, ``nie``.
    """
    p = params
    t0, t1 = (float(np.percentile(data[TREATMENT], 100 * q)) for q in CONTRAST_QUANTILES)
    intercepts = latent["re_country"] + latent["re_mission"] + latent["re_region"]
    rest = eta_rest(
        p,
        data["threat"].to_numpy(),
        data["alliance"].to_numpy(),
        latent["disposition"].to_numpy(),
        (data["mission_type"] == "us_war").to_numpy(),
        intercepts.to_numpy(),
    )
    if MEDIATOR[mechanism] == "personal_ties":
        # S is a descendant of I and P here, but y_side_payment == 0 (a structural zero).
        eta0 = rest + p["y_side_payment"] * data["side_payment"].to_numpy()
        mu0 = personal_mean0(
            p,
            data["threat"].to_numpy(),
            latent["disposition"].to_numpy(),
            latent["re_personal"].to_numpy(),
        )
        beta_m, theta, sigma = p["y_personal_ties"], p["personal_inst_ties"], p["personal_sd"]
    else:
        # P is not a descendant of I (personal_inst_ties == 0): held at its realised value.
        personal = data["personal_ties"].to_numpy()
        eta0 = rest + p["y_personal_ties"] * personal
        mu0 = side_mean0(p, personal, data["hierarchy"].to_numpy(), latent["re_side"].to_numpy())
        beta_m, theta, sigma = p["y_side_payment"], p["side_inst_ties"], p["side_sd"]
    effects = mediation_truth(eta0, p["y_inst_ties"], beta_m, mu0, theta, sigma, t0, t1)
    return {"from": t0, "to": t1, **effects}
