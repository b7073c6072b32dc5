"""A published mediation analysis with a binary outcome reproduced: JOBS II (Vinokur & Schul 1997).

The binary-outcome example of R's ``mediation`` package (Imai, Keele, Tingley & Yamamoto 2010,
the vignette "Causal Mediation Analysis Using R", ``summary(out.7)``): did the job-skills
workshops (``treat``) raise re-employment (``work1``, 0/1) through job-search self-efficacy
(``job_seek``, 1–5)? The mediator model is linear, the outcome model probit, both adjusting for
nine pre-treatment covariates, five of them factors (``occp``, ``marital``, ``nonwhite``,
``educ``, ``income``)::

    job_seek ~ treat + depress1 + econ_hard + sex + age + occp + marital + nonwhite
               + educ + income                                      (Gaussian)
    work1 ~ treat + job_seek + <the same covariates>                (Bernoulli, probit link)

The model file is ``tests/model_files/jobs_work1.toml``; data and provenance:
``tests/data/README.md``. There is no treatment × mediator term: the ACME and ADE still differ
slightly between the reference levels through the probit's nonlinearity, as published.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedcausal.effects import gcomp
from embedcausal.estimands import effects_table
from embedcausal.fitting import fit
from embedcausal.plan import design
from embedcausal.spec import load_spec

HERE = Path(__file__).parent
DATA = HERE / "data" / "jobs.csv"
MODEL_FILE = HERE / "model_files" / "jobs_work1.toml"
SHA256 = "c15b933f3b27fb8891bc43fa9fea2b563102dff1ba797fcf5f771a713f648762"

#: effect -> (estimate, lower, upper) of the 95% interval: ``summary(out.7)`` of the vignette
#: "Causal Mediation Analysis Using R" (``vignettes/mediation-old.Rnw`` of R's mediation:
#: quasi-Bayesian, 1,000 simulations)
PUBLISHED = {
    "nie_control": (0.003290, -0.0009537, 0.0098747),  # Mediation Effect_0
    "nie": (0.003538, -0.001052, 0.010728),  # Mediation Effect_1
    "nde": (0.05514, -0.006427, 0.113568),  # Direct Effect_0
    "nde_treated": (0.05538, -0.006487, 0.114191),  # Direct Effect_1
    "total": (0.05867, -0.003816, 0.117091),  # Total Effect
}
COVARIATES = [
    "depress1",
    "econ_hard",
    "sex",
    "age",
    "occp",
    "marital",
    "nonwhite",
    "educ",
    "income",
]
FACTORS = {"occp": 7, "marital": 5, "nonwhite": 2, "educ": 5, "income": 5}


def test_jobs_data_as_shipped():
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == SHA256
    frame = pd.read_csv(DATA)
    assert frame.shape == (899, 18)
    assert frame["treat"].sum() == 600 and frame["work1"].sum() == 293
    assert frame["work1"].isin([0, 1]).all()
    assert {c: frame[c].nunique() for c in FACTORS} == FACTORS


def test_model_file_identifies_with_the_published_terms():
    d = design(load_spec(MODEL_FILE))
    assert d.contrast == (0.0, 1.0)
    assert set(d.adjustment) == set(COVARIATES)
    assert d.spec.model.link == "probit" and not d.spec.model.interaction
    assert d.data.n_obs == 899
    # R's design matrices: 4 numeric covariates + (7-1)+(5-1)+(2-1)+(5-1)+(5-1) = 19 indicators
    names = [p.name for p in d.data.y_predictors]
    assert names[:2] == ["treat", "job_seek"] and len(names) == 2 + 4 + 19
    assert len(d.data.m_predictors) == 1 + 4 + 19
    assert {p.node for p in d.data.y_predictors if p.part == "level"} == set(FACTORS)


@pytest.mark.slow
def test_jobs_effects_within_the_published_uncertainty():
    """Posterior means within 0.25 published SEs of the estimates, at both reference levels.

    The published SE is the 95% interval's width / (2·1.96) (for the skewed ACME a rough
    scale, which is all the test needs). The published estimates are means of 1,000
    simulations (Monte Carlo error about SE/30) and this fit's Monte Carlo error is of the same
    order, so 0.25 SE leaves room for prior and seed without hiding a wrong model. The
    posterior SD must be within a factor 1.5 of the published SE. Measured (seed 1997): within
    0.05 SE, SD ratios 1.01; 35–90 s of sampling on the shared 2 cores.
    """
    d = design(load_spec(MODEL_FILE))
    run = fit(d, progress=False)
    table = effects_table(gcomp(run.idata, d, both_levels=True)).set_index("effect")
    for name, (est, lo, hi) in PUBLISHED.items():
        se = (hi - lo) / (2 * 1.959964)
        mean, sd = table.loc[name, "mean"], table.loc[name, "sd"]
        assert abs(mean - est) < 0.25 * se, (name, mean, est, se)
        assert 1 / 1.5 < sd / se < 1.5, (name, sd, se)
    # as published: the direct effect carries almost all of the total, the ACME is tiny
    assert table.loc["nie", "mean"] < 0.1 * table.loc["total", "mean"]
    np.testing.assert_allclose(
        table.loc["nde_treated", "mean"] + table.loc["nie_control", "mean"],
        table.loc["total", "mean"],
        atol=1e-12,
    )
