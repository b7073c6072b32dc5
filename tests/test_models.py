"""Model builders and g-computation, checked without the sampler (prior draws / fake posteriors)."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from embedcausal.data import prepare
from embedcausal.effects import effects_table, gcomp, stacked_posterior
from embedcausal.models import build_model, eta_draws, structure
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"


@pytest.fixture
def frame():
    return pd.read_csv(HERE / "tiny.csv")


def prior_tree(model: pm.Model, draws: int = 8) -> xr.DataTree:
    names = [v.name for v in model.free_RVs] + [d.name for d in model.deterministics]
    prior = pm.sample_prior_predictive(draws=draws, model=model, var_names=names, random_seed=3)
    return xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"model": {"within_between": ["inst_ties", "personal_ties"]}},
        {"model": {"varying_slopes": {"inst_ties": "region"}}},
        {"model": {"mediator_family": "bernoulli"}},
        {"model": {"mediator_centered": True}},
    ],
)
def test_numpy_eta_matches_pytensor_graph(frame, changes):
    spec = load_spec(HERE / "valid.toml")
    if changes.get("model", {}).get("mediator_family") == "bernoulli":
        frame["personal_ties"] = (frame["personal_ties"] > 0).astype(int)
    spec = spec.replace(**changes)
    p = prepare(spec, frame, adjustment=["threat"])
    model = build_model(spec, p, store_eta=True)
    tree = prior_tree(model)
    post = stacked_posterior(tree)
    st = structure(spec, p)
    for prefix, X in (("y", p.X_y), ("m", p.X_m)):
        mine = eta_draws(post, p, prefix, X, st)
        theirs = post[f"{prefix}_eta"].transpose("sample", "obs").values
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-9)


def test_model_has_named_dims(frame):
    spec = load_spec(HERE / "valid.toml")
    p = prepare(spec, frame, adjustment=["threat"])
    model = build_model(spec, p)
    assert model.named_vars_to_dims["y_z_country"] == ("country",)
    assert model.named_vars_to_dims["y_beta"] == ("y_term",)
    assert list(model.coords["y_term"]) == ["inst_ties", "personal_ties", "threat"]
    assert model.named_vars_to_dims["participation"] == ("obs",)
    assert {"y_sigma_region", "y_sigma_country", "m_sigma_mission", "m_sigma"} <= set(
        model.named_vars
    )


def fake_posterior(p, rng, *, beta_y, beta_m, m_sigma=0.8, chains=2, draws=5):
    """A posterior with fixed coefficients and random varying intercepts."""
    shape = (chains, draws)
    post = {
        "y_intercept": rng.normal(-0.5, 0.1, shape),
        "y_beta": np.broadcast_to(np.asarray(beta_y, float), (*shape, len(beta_y))).copy(),
        "m_intercept": rng.normal(0, 0.1, shape),
        "m_beta": np.broadcast_to(np.asarray(beta_m, float), (*shape, len(beta_m))).copy(),
        "m_sigma": np.full(shape, m_sigma),
    }
    dims = {"y_beta": ["y_term"], "m_beta": ["m_term"]}
    for prefix in ("y", "m"):
        for g in ("mission", "region", "country"):
            post[f"{prefix}_sigma_{g}"] = np.full(shape, 0.5)
            post[f"{prefix}_z_{g}"] = rng.normal(size=(*shape, len(p.coords[g])))
            dims[f"{prefix}_z_{g}"] = [g]
    coords = {g: p.coords[g] for g in ("mission", "region", "country")}
    coords["y_term"] = [x.name for x in p.y_predictors]
    coords["m_term"] = [x.name for x in p.m_predictors]
    return az.from_dict({"posterior": post}, dims=dims, coords=coords)


def brute_force(tree, p, n_mc=4000, seed=0):
    """Monte Carlo NDE/NIE from first principles, one draw at a time, with loops over rows."""
    post = stacked_posterior(tree)
    rng = np.random.default_rng(seed)
    t0, t1 = p.contrast
    yp, mp = p.y_predictors, p.m_predictors
    mcenter, mscale = p.m.mean(), p.m.std()
    out = []
    for s in range(post.sizes["sample"]):
        d = post.isel(sample=s)

        def re(prefix, i, d=d):
            return sum(
                float(d[f"{prefix}_sigma_{g}"]) * float(d[f"{prefix}_z_{g}"][p.group_codes[g][i]])
                for g in ("mission", "region", "country")
            )

        def e(t_y, t_m, d=d):
            acc = 0.0
            for i in range(p.n_obs):
                xm = p.X_m[i].copy()
                xm[0] = (t_m - mp[0].center) / mp[0].scale
                mu = float(d["m_intercept"]) + xm @ d["m_beta"].values + re("m", i)
                m_raw = mcenter + mscale * (mu + float(d["m_sigma"]) * rng.normal(size=n_mc))
                xy = np.tile(p.X_y[i], (n_mc, 1))
                xy[:, 0] = (t_y - yp[0].center) / yp[0].scale
                xy[:, 1] = (m_raw - yp[1].center) / yp[1].scale
                eta = float(d["y_intercept"]) + xy @ d["y_beta"].values + re("y", i)
                acc += np.mean(1 / (1 + np.exp(-eta)))
            return acc / p.n_obs

        e00, e10, e11 = e(t0, t0), e(t1, t0), e(t1, t1)
        out.append((e11 - e00, e10 - e00, e11 - e10))
    return np.array(out)


def test_gcomp_matches_brute_force_monte_carlo(frame):
    spec = load_spec(HERE / "valid.toml")
    p = prepare(spec, frame, adjustment=["threat"])
    rng = np.random.default_rng(1)
    tree = fake_posterior(p, rng, beta_y=[0.6, 0.9, 0.2], beta_m=[0.8, 0.1], chains=1, draws=3)
    ds = gcomp(tree, p)
    bf = brute_force(tree, p)
    mine = np.column_stack([ds[k].values.ravel() for k in ("total", "nde", "nie")])
    np.testing.assert_allclose(mine, bf, atol=4e-3)


def test_gcomp_decomposition_and_zeros(frame):
    spec = load_spec(HERE / "valid.toml")
    p = prepare(spec, frame, adjustment=["threat"])
    rng = np.random.default_rng(2)
    ds = gcomp(fake_posterior(p, rng, beta_y=[0.5, 0.7, 0.0], beta_m=[0.9, 0.0]), p)
    np.testing.assert_allclose(ds["total"], ds["nde"] + ds["nie"], atol=1e-12)
    assert ds["total"].dims == ("chain", "draw")
    no_mediation = gcomp(fake_posterior(p, rng, beta_y=[0.5, 0.0, 0.0], beta_m=[0.9, 0.0]), p)
    np.testing.assert_allclose(no_mediation["nie"], 0, atol=1e-12)
    no_direct = gcomp(fake_posterior(p, rng, beta_y=[0.0, 0.7, 0.0], beta_m=[0.9, 0.0]), p)
    np.testing.assert_allclose(no_direct["nde"], 0, atol=1e-12)
    assert (no_direct["nie"] > 0).all()


def test_effects_table_columns_and_hdi(frame):
    spec = load_spec(HERE / "valid.toml")
    p = prepare(spec, frame, adjustment=["threat"])
    rng = np.random.default_rng(3)
    ds = gcomp(fake_posterior(p, rng, beta_y=[0.5, 0.7, 0.0], beta_m=[0.9, 0.0], draws=50), p)
    table = effects_table(ds, hdi_prob=0.8)
    assert list(table["effect"]) == ["total", "nde", "nie", "prop_mediated", "p_nie_gt_nde"]
    assert {"mean", "sd", "hdi_low", "hdi_high", "hdi_prob", "reliable"} <= set(table.columns)
    row = table.set_index("effect").loc["total"]
    assert row["hdi_low"] <= row["mean"] <= row["hdi_high"]
    expected = float((ds["nie"] > ds["nde"]).mean())
    assert table.set_index("effect").loc["p_nie_gt_nde", "mean"] == pytest.approx(expected)


def test_confounder_needs_the_within_group_column(frame):
    from embedcausal.errors import EmbedcausalError

    spec = load_spec(HERE / "valid.toml").replace(model={"within_group": "nation"})
    p = prepare(spec, frame, adjustment=["threat"])
    with pytest.raises(EmbedcausalError, match=r"model.within_group 'nation' is not a data column"):
        build_model(spec, p, confounder=True)
    assert build_model(load_spec(HERE / "valid.toml"), p, confounder=True)["U"].ndim == 1
