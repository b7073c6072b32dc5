"""A parent grouping integrated out of its children's prior (embedcausal.grouped): which parent,
and a fit that draws it back against the full model's posterior."""

from __future__ import annotations

import dataclasses

import numpy as np
import pymc as pm
import pytest
from _specs import sim_spec
from scipy import stats

import embedcausal as ec
from embedcausal.fitting import part_models, sample
from embedcausal.geometry import GroupPlan, PartPlan, plan_part
from embedcausal.grouped import child_effects, integrated_parent, parent_codes
from embedcausal.models import build_model, vectorized_function
from embedcausal.simulation import simulate


def _g(name, parent=None, centered=(True,) * 4, intercept=False, predictors=(), zero_sum=False):
    n = len(centered)
    return GroupPlan(name, parent, tuple(centered), (1.0,) * n, predictors, intercept, zero_sum)


def _plan(*groups, slopes=()):
    return PartPlan("m", (), (), groups, slopes)


def test_which_parent_is_integrated_out():
    region = _g("region", centered=(False,) * 3, zero_sum=True)
    country = _g("country", "region", intercept=True)
    mission = _g("mission", centered=(True,) * 5)
    pair = integrated_parent(_plan(mission, region, country))
    assert pair is not None and (pair[0].name, pair[1].name) == ("region", "country")
    # the children must be plain Normal parameters: centred throughout, not summing to zero
    partly = _g("country", "region", centered=(True, False, True, True))
    assert integrated_parent(_plan(region, partly)) is None
    assert integrated_parent(_plan(region, _g("country", "region", zero_sum=True))) is None
    # the parent must have mean 0 and a single prior: no intercept, no predictors, not mixed
    assert integrated_parent(_plan(_g("region", intercept=True), country)) is None
    assert integrated_parent(_plan(_g("region", predictors=("x",)), country)) is None
    mixed = _g("region", centered=(True, False, False))
    assert integrated_parent(_plan(mixed, country)) is None
    # nor a varying slope, nor a second child
    assert integrated_parent(_plan(region, country, slopes=(("x", "region"),))) is None
    other = _g("embassy", "region")
    assert integrated_parent(_plan(region, country, other)) is None


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    sim = simulate("side_payment", seed=4, n_countries=40, n_missions=15)
    path = tmp_path_factory.mktemp("grouped") / "panel.csv"
    sim.save(path)
    spec = sim_spec(path, mediator="side_payment", draws=1000, tune=1000, chains=2, seed=3)
    model = {**dict(spec.model), "parameterization": {"country": "centered"}}
    return ec.design(spec.replace(model=model))


def test_fit_draws_the_parent_back_with_the_full_models_posterior(panel):
    fitted = dict(part_models(panel))["mediator"]
    assert [(p, g.name) for p, g, _ in fitted.parents] == [("m", "region")]
    assert "m_z_region" not in fitted.named_vars and "m_a_region" not in fitted.named_vars
    integrated = sample(panel, models=[("mediator", fitted)])["posterior"]
    full = build_model(panel, parts=("mediator",))
    assert not hasattr(full, "parents")
    d = panel.with_sampler(target_accept=0.95)  # the explicit regions need it (the funnel)
    explicit = sample(d, models=[("mediator", full)])["posterior"]
    for name in ("m_region", "m_z_region", "m_country"):
        assert integrated[name].dims == explicit[name].dims, name
    # the drawn-back draws are what the full model's graph makes of its free variables
    names, fn = vectorized_function(full, [full["m_country"], full["m_region"]])
    flat = {k: integrated[k].values.reshape(-1, *integrated[k].shape[2:]) for k in names}
    country, region = fn(*(flat[k] for k in names))
    np.testing.assert_allclose(country, integrated["m_country"].values.reshape(country.shape))
    np.testing.assert_allclose(region, integrated["m_region"].values.reshape(region.shape))
    # the parent's effects sum to zero as the full model's do
    np.testing.assert_allclose(integrated["m_region"].sum("region"), 0.0, atol=1e-10)
    for name in ("m_sigma_region", "m_region", "m_sigma_country", "m_country", "m_beta"):
        x = integrated[name].values.reshape(-1, *integrated[name].shape[2:])
        y = explicit[name].values.reshape(-1, *explicit[name].shape[2:])
        se = np.sqrt(x.var(axis=0) / 500 + y.var(axis=0) / 500)  # ESS taken as 1/4 of draws
        assert np.all(np.abs(x.mean(axis=0) - y.mean(axis=0)) < 4.5 * se), name
        # and the same spread (SDs within 15 %)
        np.testing.assert_allclose(x.std(axis=0), y.std(axis=0), rtol=0.15, err_msg=name)


@pytest.mark.parametrize("parent_centred", [False, True])
def test_childrens_density_is_the_full_prior_with_the_parent_integrated_out(panel, parent_centred):
    # a - mu ~ N(0, σ_c² I + σ_r² Z P Z'): P the sum-to-zero projector when the full model's
    # parent effects sum to zero (non-centred: ZeroSumNormal; centred with the plan's flag)
    plan = plan_part(panel, "mediator")
    by = {g.name: g for g in plan.groups}
    n_parent = len(by["region"].centered)
    parent = dataclasses.replace(by["region"], centered=(parent_centred,) * n_parent)
    if parent_centred:
        parent = dataclasses.replace(parent, zero_sum=False)
    child = by["country"]
    code = parent_codes(panel, "country", "region")
    Z = np.eye(n_parent)[code]
    P = np.eye(n_parent) - (0.0 if parent_centred else 1.0 / n_parent)
    rng = np.random.default_rng(0)
    mu = rng.normal(size=len(code))
    value = mu + rng.normal(size=len(code))
    for sigma, tau in [(0.6, 0.3), (1.2, 2.0)]:
        with pm.Model(coords={"country": panel.data.coords["country"]}):
            a, _ = child_effects("m", panel, (parent, child), mu, sigma, tau)
            got = pm.logp(a, value).eval()
        cov = sigma**2 * np.eye(len(code)) + tau**2 * Z @ P @ Z.T
        want = stats.multivariate_normal(mu, cov).logpdf(value)
        np.testing.assert_allclose(got, want, rtol=1e-8)


def test_an_interrupted_fit_keeps_its_draws_with_the_parent_drawn_back(panel, monkeypatch):
    # Ctrl-C in the outcome's sampling with keep_partial: the draws kept are finished as a
    # whole trace would be, so a partial run has the full model's variables, consistent
    from embedcausal import fitting
    from embedcausal.traces import Interrupted

    d = panel.with_sampler(draws=200, tune=200)
    real = fitting.sample_part

    def interrupted(model, spec, *, part, **kw):
        trace = real(model, spec, part=part, **kw)
        if part == "outcome":
            raise Interrupted("sampling of the outcome model was interrupted", trace)
        return trace

    monkeypatch.setattr(fitting, "sample_part", interrupted)
    assert [g.name for _, g, _ in dict(part_models(d))["outcome"].parents] == ["region"]
    with pytest.raises(Interrupted) as caught:
        fitting.sample(d, keep_partial=True)
    post = caught.value.trace["posterior"]
    assert {"y_region", "y_z_region", "m_region", "m_z_region"} <= set(post.data_vars)
    full = build_model(d, parts=("outcome",))
    names, fn = vectorized_function(full, [full["y_country"]])
    (country,) = fn(*(post[k].values.reshape(-1, *post[k].shape[2:]) for k in names))
    np.testing.assert_allclose(country, post["y_country"].values.reshape(country.shape))
