"""The latent confounder U integrated out (embedcausal.confounder): the joint density against
dense linear algebra, the change of variables, U's conditional, and a fit against the model
that samples U explicitly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import stats
from scipy.linalg import block_diag

from embedcausal.confounder import conditional_u, confounder_spaces
from embedcausal.effects import Counterfactual, gcomp
from embedcausal.fitting import sample
from embedcausal.models import build_model
from embedcausal.plan import design
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"
STRENGTHS = {"conf_on_treatment": 0.8, "conf_on_mediator": -0.6, "conf_on_outcome": 1.1}


@pytest.fixture(scope="module", params=[["mission", "region/country"], ["mission", "country"]])
def tiny(request):
    # nested countries: effects free to move with their region's; crossed: they sum to zero
    frame = pd.read_csv(HERE / "tiny.csv")
    d = design(load_spec(HERE / "valid.toml").replace(model={"varying": request.param}), frame)
    model = build_model(d, confounder=True)
    with model:
        pm.set_data(STRENGTHS)
    return d, model


def _point(model, seed):
    rng = np.random.default_rng(seed)
    return {k: v + rng.normal(0.0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}


def _dense_logp(d, wg, r, channels, gamma_t, sigma_t):
    """log N([r; e_1; …]) with U ~ N(0, QQ') integrated by a dense covariance.

    ``channels``: ``(e, σ, γ, dim)``; effects that sum to zero (``dim = n - 1``) have noise
    covariance ``σ²(I - 11'/n)``: their density is on that subspace (singular covariance).
    """
    Q, _ = confounder_spaces(d, wg)
    n = len(Q)
    P = Q @ Q.T
    Z = np.eye(n)[d.data.group_codes[wg]]
    G = np.vstack([gamma_t * Z, *[gm * np.eye(n) for _, _, gm, _ in channels]])
    blocks = [sigma_t**2 * np.eye(len(r))]
    for _, s, _, dim in channels:
        blocks.append(s**2 * (np.eye(n) - (np.ones((n, n)) / n if dim < n else 0.0)))
    cov = block_diag(*blocks) + G @ P @ G.T
    z = np.concatenate([r, *[e for e, *_ in channels]])
    return stats.multivariate_normal(np.zeros(len(z)), cov, allow_singular=True).logpdf(z)


def test_joint_density_is_the_explicit_model_with_u_integrated(tiny):
    d, model = tiny
    ic = model.confounder
    assert "U_raw" not in model.named_vars and "U" not in model.named_vars
    outs = [e for e, *_ in ic.channels] + [s for _, s, *_ in ic.channels]
    outs += [model["t_intercept"], model["t_beta"], model["t_sigma"]]
    outs += [model.potentials[0], ic.jacobian]
    fn = model.compile_fn(
        model.replace_rvs_by_values(outs),
        inputs=model.value_vars,
        on_unused_input="ignore",
        point_fn=True,
    )
    t = d.data.values[d.data.treatment]
    tz = (t - t.mean()) / t.std()
    covs = [p for p in d.data.y_predictors if p.node not in (d.data.treatment, d.data.mediator)]
    X = np.column_stack([d.data.column(p) for p in covs])
    gammas = [float(gm.get_value()) for _, _, gm, _ in ic.channels]  # mediator's, outcome's
    dims = [dim for *_, dim in ic.channels]
    assert sorted(gammas) == sorted([STRENGTHS["conf_on_mediator"], STRENGTHS["conf_on_outcome"]])
    for seed in range(3):
        e_1, e_2, s_1, s_2, a0, b, st, potential, jac = fn(_point(model, seed))
        r = tz - a0 - X @ b
        channels = [(e_1, s_1, gammas[0], dims[0]), (e_2, s_2, gammas[1], dims[1])]
        want = _dense_logp(d, "country", r, channels, STRENGTHS["conf_on_treatment"], st)
        np.testing.assert_allclose(potential - jac, want, rtol=1e-9)


def test_change_of_variables_is_exact(tiny):
    # the Jacobian term is log |det ∂e/∂x| of each part's map, computed densely here; for
    # effects that sum to zero the map is x -> (e in an orthonormal basis of 1⊥, x'1/√n),
    # whose last coordinate is an inert standard normal
    d, model = tiny
    ic = model.confounder
    n = len(d.data.coords["country"])
    perp = np.linalg.qr(np.column_stack([np.ones(n), np.eye(n)[:, 1:]]))[0][:, 1:]
    xs = [model.rvs_to_values[model[k]] for k in model.named_vars if k.endswith("_x_country")]
    es = model.replace_rvs_by_values([e for e, *_ in ic.channels] + [ic.jacobian])
    dense = 0.0
    for e, x, (*_, dim) in zip(es[:-1], xs, ic.channels, strict=True):
        if dim < n:
            ones = x.sum() / np.sqrt(n)
            dense = dense - 0.5 * ones**2 - 0.5 * np.log(2 * np.pi)
            e = pt.concatenate([pt.dot(perp.T, e), ones[None]])
        dense = dense + pt.log(pt.abs(pt.linalg.det(pt.jacobian(e, x, vectorize=True))))
    assert any(dim < n for *_, dim in ic.channels) == (d.spec.varying == ["mission", "country"])
    fn = model.compile_fn(
        [dense, es[-1]], inputs=model.value_vars, on_unused_input="ignore", point_fn=True
    )
    for seed in range(3):
        want, got = fn(_point(model, seed))
        np.testing.assert_allclose(got, want, rtol=1e-9)


def test_without_a_path_to_the_outcome_on_treatment_moves_only_its_regression(tiny):
    # the sweep fits the points with on_outcome = on_mediator = 0 once (shared_points); exact
    # only if there the density depends on on_treatment through the treatment's regression
    _, model = tiny
    logp = model.compile_logp()

    def change(point, strength):  # log density at on_treatment 1.5 minus at 0
        values = []
        for gt in (0.0, 1.5):
            with model:
                pm.set_data(
                    {
                        "conf_on_treatment": gt,
                        "conf_on_outcome": strength,
                        "conf_on_mediator": strength,
                    }
                )
            values.append(float(logp(point)))
        return values[1] - values[0]

    try:
        base, moved = _point(model, 5), _point(model, 6)
        other = {k: v if k.startswith("t_") else moved[k] for k, v in base.items()}
        assert change(other, 0.0) == pytest.approx(change(base, 0.0), abs=1e-8)
        assert abs(change(other, 0.5) - change(base, 0.5)) > 1e-3  # a path: it does not hold
    finally:
        with model:
            pm.set_data(STRENGTHS)


def test_u_is_drawn_from_its_exact_conditional(tiny):
    d, _ = tiny
    Q, R = confounder_spaces(d, "country")
    n = len(Q)
    rng = np.random.default_rng(3)
    counts = np.bincount(d.data.group_codes["country"], minlength=n).astype(float)
    s, e = rng.normal(size=n), rng.normal(size=n)
    gamma_t, sigma_t, gamma_y, sigma_y = 0.9, 0.7, 1.2, 0.5
    draws = 200_000
    u = conditional_u(
        np.tile(s, (draws, 1)),
        [(np.tile(e, (draws, 1)), np.full(draws, sigma_y), gamma_y)],
        gamma_t,
        np.full(draws, sigma_t),
        counts,
        R,
        rng,
    )
    # dense: v ~ N(0, I), U = Qv; precision I + Q'DQ, linear term Q'g
    D = np.diag(counts * gamma_t**2 / sigma_t**2 + gamma_y**2 / sigma_y**2)
    g = gamma_t * s / sigma_t**2 + gamma_y * e / sigma_y**2
    cov_v = np.linalg.inv(np.eye(Q.shape[1]) + Q.T @ D @ Q)
    mean, cov = Q @ cov_v @ Q.T @ g, Q @ cov_v @ Q.T
    se = np.sqrt(np.diag(cov) / draws)
    assert np.all(np.abs(u.mean(0) - mean) < 5 * se)
    np.testing.assert_allclose(np.cov(u.T), cov, atol=0.01)
    np.testing.assert_allclose(u @ R, 0.0, atol=1e-10)  # orthogonal to what it must be


def test_fit_matches_the_model_that_samples_u_explicitly():
    # same strengths, two parameterisations of one posterior: the effects and U agree
    # (crossed groupings, as in models/sensitivity.toml: country effects that sum to zero)
    spec = load_spec(HERE / "valid.toml").replace(model={"varying": ["mission", "country"]})
    d = design(spec, pd.read_csv(HERE / "tiny.csv")).with_sampler(draws=1000, tune=1000, chains=4)
    out = {}
    for kind in (True, "explicit"):
        model = build_model(d, confounder=kind)
        with model:
            pm.set_data(STRENGTHS)
        idata = sample(d, confounder=True, models=[("joint", model)])
        eff = gcomp(idata, d, counterfactual=Counterfactual.compile(d, model))
        out[kind] = (eff["total"].values.ravel(), idata["posterior"]["U"].values)
    (t1, u1), (t2, u2) = out[True], out["explicit"]
    assert u1.shape[-1] == u2.shape[-1] == len(d.data.coords["country"])
    se = np.sqrt(t1.var() / 1000 + t2.var() / 1000)  # ~4 chains × 250 effective draws each
    assert abs(t1.mean() - t2.mean()) < 4 * se
    # U's posterior sd is ~0.35 per country: 0.07 is about 4 Monte Carlo SE of a difference
    np.testing.assert_allclose(u1.mean((0, 1)), u2.mean((0, 1)), atol=0.07)
    np.testing.assert_allclose(u1.std((0, 1)), u2.std((0, 1)), rtol=0.15)
