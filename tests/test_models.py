"""Model builders and g-computation, checked without the sampler (prior draws / fake posteriors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import xarray as xr
from _reference import numpy_eta, prior_posterior, stacked

from embedcausal.effects import Counterfactual, effects_table, gcomp
from embedcausal.errors import EmbedcausalError
from embedcausal.geometry import plan_part
from embedcausal.models import build_model, linear_predictor, vectorized_function
from embedcausal.plan import design
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"

VARIANTS = [
    {},
    {"model": {"within_between": ["inst_ties", "personal_ties"]}},
    {"model": {"varying_slopes": {"inst_ties": "region"}}},
    {"model": {"mediator_family": "bernoulli"}},
    {"model": {"mediator_family": "negbinomial"}},
    {"model": {"mediator_centered": True}},
    {"model": {"parameterization": "centered"}},
    {"model": {"parameterization": "noncentered"}},
    {"model": {"parameterization": {"country": "centered", "region": "noncentered"}}},
]


@pytest.fixture
def frame():
    return pd.read_csv(HERE / "tiny.csv")


def variant(frame: pd.DataFrame, changes: dict):
    fam = changes.get("model", {}).get("mediator_family")
    if fam == "bernoulli":
        frame["personal_ties"] = (frame["personal_ties"] > 0).astype(int)
    if fam == "negbinomial":
        frame["personal_ties"] = np.round(np.exp(frame["personal_ties"])).astype(int)
    spec = load_spec(HERE / "valid.toml").replace(**changes)
    return design(spec, frame)


@pytest.mark.parametrize("changes", VARIANTS)
def test_numpy_eta_matches_pytensor_graph(frame, changes):
    d = variant(frame, changes)
    for part, prefix in (("outcome", "y"), ("mediator", "m")):
        model = build_model(d, parts=(part,))
        tree = prior_posterior(model)
        post = stacked(tree)
        names, fn = vectorized_function(model, [linear_predictor(model, prefix)])
        (graph,) = fn(*(post[n].values for n in names))
        np.testing.assert_allclose(graph, numpy_eta(post, d, prefix), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("changes", VARIANTS[:5])
def test_counterfactual_matches_numpy_at_the_contrast(frame, changes):
    d = variant(frame, changes)
    model = build_model(d)
    post = stacked(prior_posterior(model))
    cf = Counterfactual.compile(d, model)
    a0, da, g0, g1, m0, dm = cf.eta({k: post[k].values for k in cf.inputs})
    t0, t1 = d.contrast
    T0, T1 = np.full(d.n_obs, t0), np.full(d.n_obs, t1)
    zero = np.zeros(d.n_obs) if d.data.mediator_family not in ("poisson", "negbinomial") else None
    base = {"inst_ties": T0, "personal_ties": zero if zero is not None else np.zeros(d.n_obs)}
    # g = 0 in transformed units: log1p(M) = 0 <=> M = 0 for counts, M = 0 otherwise
    ref_a0 = numpy_eta(post, d, "y", base)
    ref_a1 = numpy_eta(post, d, "y", {**base, "inst_ties": T1})
    one = np.full(d.n_obs, np.e - 1 if zero is None else 1.0)
    ref_g0 = numpy_eta(post, d, "y", {**base, "personal_ties": one}) - ref_a0
    ref_g1 = numpy_eta(post, d, "y", {"inst_ties": T1, "personal_ties": one}) - ref_a1
    np.testing.assert_allclose(a0, ref_a0, atol=1e-9)
    np.testing.assert_allclose(a0 + da, ref_a1, atol=1e-9)
    np.testing.assert_allclose(g0, ref_g0, atol=1e-9)
    np.testing.assert_allclose(g1, ref_g1, atol=1e-9)
    np.testing.assert_allclose(m0, numpy_eta(post, d, "m", {"inst_ties": T0}), atol=1e-9)
    np.testing.assert_allclose(m0 + dm, numpy_eta(post, d, "m", {"inst_ties": T1}), atol=1e-9)


def test_model_has_named_dims(frame):
    d = variant(frame, {"model": {"parameterization": "noncentered"}})
    model = build_model(d)
    assert model.named_vars_to_dims["y_z_country"] == ("country",)
    assert model.named_vars_to_dims["y_beta"] == ("y_term",)
    assert list(model.coords["y_term"]) == ["inst_ties", "personal_ties", "threat"]
    assert model.named_vars_to_dims["participation"] == ("obs",)
    assert {"y_sigma_region", "y_sigma_country", "m_sigma_mission", "m_sigma"} <= set(
        model.named_vars
    )
    # every DAG node is a named pm.Data in data units (the mediator: the observed variable)
    np.testing.assert_array_equal(model["inst_ties"].get_value(), frame["inst_ties"])
    assert model["personal_ties"] in model.observed_RVs
    assert list(model.coords["obs"])[:2] == ["0", "1"]


def test_plan_centres_informative_groupings_and_moves_group_level_terms(frame):
    d = variant(frame, {"model": {"within_between": ["inst_ties", "personal_ties"]}})
    plan = plan_part(d, "outcome")
    country = next(g for g in plan.groups if g.name == "country")
    if country.mostly_centered:
        # the between parts are constant within country: they belong to its mean
        assert {"inst_ties[between]", "personal_ties[between]"} <= set(country.predictors)
    assert "inst_ties[within]" in plan.row
    forced = variant(frame, {"model": {"parameterization": "centered"}})
    assert all(all(g.centered) for g in plan_part(forced, "outcome").groups)
    assert sum(g.intercept for g in plan_part(forced, "outcome").groups) == 1


def test_plan_keeps_the_intercept_out_of_a_grouping_of_few_levels(tmp_path):
    # given five centred region effects the intercept's sd is σ_region/√5: a funnel as the
    # region scale's wide posterior nears 0 (divergences on the held-out 9k panels)
    from _specs import sim_spec

    from embedcausal.geometry import MIN_INTERCEPT_LEVELS
    from embedcausal.simulation import simulate

    csv = tmp_path / "personal.csv"
    simulate("personal", seed=20201, n_countries=150, n_missions=60).save(csv)
    d = design(sim_spec(csv))
    for part in ("outcome", "mediator"):
        groups = {g.name: g for g in plan_part(d, part).groups}
        region = groups["region"]
        assert len(region.centered) < MIN_INTERCEPT_LEVELS
        # the regions are centred (the data pin them), so they could have held it
        assert region.mostly_centered and not region.intercept
        assert sum(g.intercept for g in groups.values()) == 1
        assert groups["region"].zero_sum  # and their effects sum to zero instead


def with_values(model, tree: xr.DataTree, **values) -> xr.DataTree:
    """Set free variables (name -> function of the old array) and recompute deterministics."""
    post = tree["posterior"].to_dataset()
    for name, fn in values.items():
        post[name] = post[name].copy(data=fn(post[name].values.copy()))
    free = post[[v.name for v in model.free_RVs]]
    dets = pm.compute_deterministics(free, model=model, progressbar=False)
    return xr.DataTree.from_dict({"posterior": xr.merge([free, dets])})


def set_term(names, term, value):
    j = list(names).index(term)

    def fn(a):
        a[..., j] = value
        return a

    return fn


def brute_force(tree, d, n_mc=3000, seed=0):
    """Monte Carlo NDE/NIE from first principles: draw the mediator's noise, average P(Y)."""
    post = stacked(tree)
    rng = np.random.default_rng(seed)
    t0, t1 = d.contrast
    mc, ms = d.data.m.mean(), d.data.m.std()
    out = []
    for s in range(post.sizes["sample"]):
        one = post.isel(sample=[s])

        def e(t_y, t_m, one=one):
            eta_m = numpy_eta(one, d, "m", {"inst_ties": np.full(d.n_obs, t_m)})[0]
            sigma = float(one["m_sigma"].values[0])
            acc = np.zeros(d.n_obs)
            for _ in range(n_mc // 100):
                eps = rng.normal(size=(100, d.n_obs))
                m = mc + ms * (eta_m + sigma * eps)
                for row in m:
                    eta = numpy_eta(
                        one, d, "y", {"inst_ties": np.full(d.n_obs, t_y), "personal_ties": row}
                    )[0]
                    acc += 1 / (1 + np.exp(-eta))
            return float(np.mean(acc / (n_mc // 100 * 100)))

        e00, e10, e11 = e(t0, t0), e(t1, t0), e(t1, t1)
        out.append((e11 - e00, e10 - e00, e11 - e10))
    return np.array(out)


def test_gcomp_matches_brute_force_monte_carlo(frame):
    d = variant(frame, {})
    model = build_model(d)
    tree = prior_posterior(model, draws=3, seed=1)
    ds = gcomp(tree, d)
    bf = brute_force(tree, d)
    mine = np.column_stack([ds[k].values.ravel() for k in ("total", "nde", "nie")])
    np.testing.assert_allclose(mine, bf, atol=4e-3)


def test_gcomp_decomposition_and_zeros(frame):
    d = variant(frame, {"model": {"parameterization": "noncentered"}})
    model = build_model(d)
    tree = prior_posterior(model, draws=5, seed=2)
    terms = list(model.coords["y_term"])
    ds = gcomp(tree, d)
    np.testing.assert_allclose(ds["total"], ds["nde"] + ds["nie"], atol=1e-12)
    assert ds["total"].dims == ("chain", "draw")
    no_mediation = with_values(model, tree, y_beta=set_term(terms, "personal_ties", 0.0))
    np.testing.assert_allclose(gcomp(no_mediation, d)["nie"], 0, atol=1e-12)
    no_direct = with_values(
        model,
        tree,
        y_beta=lambda b: set_term(terms, "personal_ties", 0.7)(
            set_term(terms, "inst_ties", 0.0)(b)
        ),
        m_beta=lambda b: np.where(np.arange(b.shape[-1]) == 0, 0.9, b),
    )
    res = gcomp(no_direct, d)
    np.testing.assert_allclose(res["nde"], 0, atol=1e-12)
    assert (res["nie"] > 0).all()


def test_effects_table_columns_and_hdi(frame):
    d = variant(frame, {})
    tree = prior_posterior(build_model(d), draws=50, seed=3)
    ds = gcomp(tree, d)
    table = effects_table(ds, hdi_prob=0.8)
    assert list(table["effect"]) == ["total", "nde", "nie", "prop_mediated", "p_nie_gt_nde"]
    assert {"mean", "sd", "hdi_low", "hdi_high", "hdi_prob", "reliable"} <= set(table.columns)
    row = table.set_index("effect").loc["total"]
    assert row["hdi_low"] <= row["mean"] <= row["hdi_high"]
    expected = float((ds["nie"] > ds["nde"]).mean())
    assert table.set_index("effect").loc["p_nie_gt_nde", "mean"] == pytest.approx(expected)


def test_confounder_needs_the_within_group_column(frame):
    spec = load_spec(HERE / "valid.toml").replace(model={"within_group": "nation"})
    d = design(spec, frame)
    with pytest.raises(EmbedcausalError, match=r"model.within_group 'nation' is not a data column"):
        build_model(d, confounder=True)
    ok = design(load_spec(HERE / "valid.toml"), frame)
    assert build_model(ok, confounder="explicit")["U"].ndim == 1
    # integrated out (embedcausal.confounder): no U in the graph, drawn back after sampling
    assert "U" not in build_model(ok, confounder=True).named_vars
    with pytest.raises(
        ValueError, match=r"confounder='explict'; expected True, False or 'explicit'"
    ):
        build_model(ok, confounder="explict")


@pytest.mark.parametrize("zero_sum", [True, False])
def test_a_single_centred_level_keeps_its_own_effect(zero_sum):
    # a grouping with one centred level among non-centred ones: the centred levels' sum-to-zero
    # pinned that level's deviation at exactly 0 (a constant parameter, R-hat NaN in a coverage
    # fit), and its level rotation divided 0 by 0; one level needs neither
    from embedcausal.geometry import GroupPlan
    from embedcausal.grouped import group_effects

    levels = np.array(["a", "b", "c"])
    plan = GroupPlan("g", None, (True, False, False), (5.0, 0.1, 0.1), (), False, zero_sum)
    with pm.Model(coords={"g": levels}) as model:
        _, dev = group_effects("y", plan, pt.as_tensor(0.0), pt.as_tensor(1.0), levels)
        pm.Deterministic("dev", dev)
    assert np.isfinite(model.compile_logp()(model.initial_point()))
    draws = pm.draw(model["dev"], draws=200, random_seed=1)
    assert draws[:, 0].std() > 0.5


def test_plan_centres_no_grouping_for_a_single_level():
    # on this coverage-study panel one of 20 missions is informative enough to centre alone:
    # its centred effect then funnels with σ_mission (5 divergences at 4 × 1000), so none is
    from embedcausal.simulation import simulate
    from embedcausal.validation import study_spec

    sim = simulate("institutional", seed=1, n_countries=60, n_missions=20)
    spec = study_spec("institutional_1.csv", mediator=sim.truth["mediator"])
    mission = next(
        g for g in plan_part(design(spec, sim.data), "outcome").groups if g.name == "mission"
    )
    k = len(mission.centered)
    assert sum(r * (1 - np.sqrt(2 / (k - 1))) > 1 for r in mission.ratio) == 1
    assert mission.n_centered == 0
