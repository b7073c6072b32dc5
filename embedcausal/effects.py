"""Mechanism effects by g-computation over the posterior.

For the model file's contrast (treatment ``t0 → t1``, e.g. its 25th to 75th percentile), each
posterior draw gives, averaged over the observed rows *i* and on the probability scale,

* ``E(t, t') = mean_i E_ε[ P(Y_i = 1 | T = t, M = M_i(t')) ]`` where ``M_i(t')`` is row *i*'s
  mediator under treatment ``t'`` (its noise integrated out: Gauss–Hermite quadrature for a
  Gaussian mediator, exact for a Bernoulli one, common-random-number Monte Carlo for counts);
* total effect ``E(t1, t1) − E(t0, t0)``, natural direct effect ``E(t1, t0) − E(t0, t0)``,
  natural indirect effect ``E(t1, t1) − E(t1, t0)`` (so total = NDE + NIE), the proportion
  mediated ``NIE / total`` and the indicator ``NIE > NDE`` whose mean is P(NIE > NDE).

Everything else in a row (groupings, covariates, the group means of within/between terms) is
held at its observed value. Setting the treatment to ``t`` changes its within-group deviation
only (``t − group mean``), so with a within/between split the effect is the within effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from embedcausal.data import PreparedData, mediator_transform
from embedcausal.models import Structure, mediator_scale, structure

EFFECT_NAMES = ("total", "nde", "nie", "prop_mediated", "p_nie_gt_nde")
_GH_NODES = 20
_MC_DRAWS = 16


def stacked_posterior(idata: xr.DataTree) -> xr.Dataset:
    """The posterior with ``chain`` and ``draw`` stacked into ``sample`` (first dim)."""
    post = idata["posterior"].to_dataset()
    return post.stack(sample=("chain", "draw")).transpose("sample", ...)


def _set_columns(
    X: np.ndarray,
    prepared: PreparedData,
    predictors,
    node: str,
    values: np.ndarray,
) -> np.ndarray:
    """Copy of ``X`` with ``node``'s value/within columns set for raw (transformed) values."""
    X = X.copy()
    for j, p in enumerate(predictors):
        if p.node != node or p.part == "between":
            continue
        if p.part == "within":
            X[:, j] = (values - prepared.group_means[node]) / p.scale
        else:
            X[:, j] = (values - p.center) / p.scale
    return X


def _columns(predictors, node: str) -> list[int]:
    return [j for j, p in enumerate(predictors) if p.node == node and p.part != "between"]


def _linear_parts(post, prepared, prefix, X, predictors, nodes, st, draws, confounder_strength):
    """eta = base + Σ_node coef[node] * x_node, with coefficients per (draw, row)."""
    from embedcausal.models import eta_draws

    zero = X.copy()
    cols = {n: _columns(predictors, n) for n in nodes}
    for js in cols.values():
        zero[:, js] = 0.0
    base = eta_draws(
        post, prepared, prefix, zero, st, draws=draws, confounder_strength=confounder_strength
    )
    beta = np.asarray(post[f"{prefix}_beta"].isel(sample=draws).values)
    coefs: dict[str, list[tuple[int, np.ndarray]]] = {}
    slopes = dict(st.slopes) if prefix == "y" else {}
    names = [p.name for p in predictors]
    for n, js in cols.items():
        coefs[n] = []
        for j in js:
            c = np.broadcast_to(beta[:, j][:, None], base.shape)
            if names[j] in slopes:
                g = slopes[names[j]]
                codes = prepared.group_codes[g]
                c = c + (
                    np.asarray(post[f"y_slope_sigma_{g}"].isel(sample=draws).values)[:, None]
                    * np.asarray(post[f"y_slope_z_{g}"].isel(sample=draws).values)[:, codes]
                )
            coefs[n].append((j, c))
    return base, coefs


def _x(prepared, predictors, node, j, raw):
    p = predictors[j]
    if p.part == "within":
        return (raw - prepared.group_means[node]) / p.scale
    return (raw - p.center) / p.scale


def _eta(base, coefs, prepared, predictors, values: dict[str, np.ndarray]):
    eta = base
    for node, raw in values.items():
        for j, c in coefs.get(node, []):
            eta = eta + c * _x(prepared, predictors, node, j, raw)
    return eta


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def gcomp(
    idata: xr.DataTree,
    prepared: PreparedData,
    *,
    st: Structure | None = None,
    chunk: int = 64,
    seed: int = 0,
    confounder_strength: dict[str, float] | None = None,
) -> xr.Dataset:
    """Effect draws (dims ``chain``, ``draw``) by g-computation; see the module docstring.

    Parameters
    ----------
    idata : xarray.DataTree
        A posterior from :func:`embedcausal.fit` (or a fake one with the same variables).
    prepared : PreparedData
        The data the model was fitted to.
    st : Structure, optional
        Term structure (default: derived from the spec, without a latent confounder).
    chunk : int
        Posterior samples processed at once (bounds memory at ~ chunk × rows × 8 bytes).
    seed : int
        Seed of the common random numbers for count mediators.
    confounder_strength : dict, optional
        ``{"outcome": γ_y, "mediator": γ_m}`` for a model with a latent confounder.

    Returns
    -------
    xarray.Dataset
        Variables ``total`` and, with a mediator, ``nde``, ``nie``, ``prop_mediated`` and
        ``nie_gt_nde`` (0/1); attrs give the contrast, the scale and the method.
    """
    spec = prepared.spec
    e = spec.estimand
    st = st or structure(spec, prepared)
    cs = confounder_strength or {}
    post = stacked_posterior(idata)
    n = post.sizes["sample"]
    t0, t1 = prepared.contrast
    nrow = prepared.n_obs
    T0 = np.full(nrow, t0)
    T1 = np.full(nrow, t1)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("total", "nde", "nie")}
    yp, mp = prepared.y_predictors, prepared.m_predictors
    for start in range(0, n, chunk):
        draws = np.arange(start, min(start + chunk, n))
        nodes = [e.treatment] + ([e.mediator] if e.mediator else [])
        base_y, coef_y = _linear_parts(
            post, prepared, "y", prepared.X_y, yp, nodes, st, draws, cs.get("outcome", 0.0)
        )
        if not e.mediator:
            p1 = _expit(_eta(base_y, coef_y, prepared, yp, {e.treatment: T1})).mean(axis=1)
            p0 = _expit(_eta(base_y, coef_y, prepared, yp, {e.treatment: T0})).mean(axis=1)
            out["total"].append(p1 - p0)
            continue
        base_m, coef_m = _linear_parts(
            post,
            prepared,
            "m",
            prepared.X_m,
            mp,
            [e.treatment],
            st,
            draws,
            cs.get("mediator", 0.0),
        )
        mediator = {
            t: _mediator_support(
                _eta(base_m, coef_m, prepared, mp, {e.treatment: T}),
                post,
                draws,
                prepared,
                # the same stream for t0 and t1: common random numbers for count mediators
                np.random.default_rng([seed, start]),
            )
            for t, T in (("0", T0), ("1", T1))
        }

        def expected(T: np.ndarray, tm: str, base=base_y, coef=coef_y, med=mediator) -> np.ndarray:
            """Mean over rows of E[P(Y=1 | T, M(t_m))], the mediator's noise integrated out."""
            values, weights = med[tm]
            acc = 0.0
            for m_raw, w in zip(values, weights, strict=True):
                acc = acc + w * _expit(
                    _eta(base, coef, prepared, yp, {e.treatment: T, e.mediator: m_raw})
                )
            return np.asarray(acc).mean(axis=1)

        e00, e10, e11 = expected(T0, "0"), expected(T1, "0"), expected(T1, "1")
        out["total"].append(e11 - e00)
        out["nde"].append(e10 - e00)
        out["nie"].append(e11 - e10)
    nchain, ndraw = idata["posterior"].sizes["chain"], idata["posterior"].sizes["draw"]
    coords = {
        "chain": idata["posterior"]["chain"].values,
        "draw": idata["posterior"]["draw"].values,
    }
    data = {}
    for k, parts in out.items():
        if parts:
            data[k] = (("chain", "draw"), np.concatenate(parts).reshape(nchain, ndraw))
    if e.mediator:
        total = data["total"][1]
        with np.errstate(divide="ignore", invalid="ignore"):
            data["prop_mediated"] = (("chain", "draw"), data["nie"][1] / total)
        data["nie_gt_nde"] = (("chain", "draw"), (data["nie"][1] > data["nde"][1]).astype(float))
    attrs = {
        "treatment": e.treatment,
        "outcome": e.outcome,
        "mediator": e.mediator or "",
        "contrast_from": float(t0),
        "contrast_to": float(t1),
        "scale": "probability",
        "method": "g-computation over the posterior, averaged over observed rows",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _mediator_support(eta_m, post, draws, prepared, rng):
    """(values, weights): raw mediator values per node and quadrature/MC weights."""
    fam = prepared.spec.model.mediator_family
    if fam == "gaussian":
        x, w = np.polynomial.hermite_e.hermegauss(_GH_NODES)
        w = w / w.sum()
        sigma = np.asarray(post["m_sigma"].isel(sample=draws).values)[:, None]
        center, scale = mediator_scale(prepared)
        values = [mediator_transform(center + scale * (eta_m + sigma * xk), fam) for xk in x]
        return values, list(w)
    if fam == "bernoulli":
        p = _expit(eta_m)
        return [np.zeros_like(p), np.ones_like(p)], [1.0 - p, p]
    mu = np.exp(eta_m)
    if fam == "negbinomial":  # a gamma-Poisson mixture with PyMC's (mu, alpha)
        alpha = np.asarray(post["m_alpha"].isel(sample=draws).values)[:, None]
        mu = rng.gamma(alpha, mu / alpha, size=(_MC_DRAWS, *mu.shape))
    draws_ = list(rng.poisson(np.broadcast_to(mu, (_MC_DRAWS, *eta_m.shape))))
    weight = 1.0 / len(draws_)
    return [mediator_transform(d, fam) for d in draws_], [weight] * len(draws_)


def effects_table(
    effects: xr.Dataset, *, hdi_prob: float = 0.9, reliable: bool = True
) -> pd.DataFrame:
    """Tidy summary: one row per effect with ``mean, sd, hdi_low, hdi_high``.

    ``p_nie_gt_nde`` is a probability: its ``mean`` is P(NIE > NDE) and its ``sd``/HDI are
    empty. ``hdi_prob`` is stated in its own column; ``reliable`` is False when the sampler's
    diagnostics failed.
    """
    import arviz as az

    rows = []
    for name in ("total", "nde", "nie", "prop_mediated"):
        if name not in effects:
            continue
        da = effects[name]
        vals = np.asarray(da.values).ravel()
        finite = vals[np.isfinite(vals)]
        if finite.size < 2:
            lo = hi = float("nan")
        else:
            h = az.hdi(xr.Dataset({name: da.where(np.isfinite(da))}), prob=hdi_prob)[name]
            lo, hi = (float(v) for v in np.asarray(h.values).ravel()[:2])
        rows.append(
            {
                "effect": name,
                "mean": float(np.mean(finite)) if finite.size else float("nan"),
                "sd": float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan"),
                "hdi_low": lo,
                "hdi_high": hi,
            }
        )
    if "nie_gt_nde" in effects:
        rows.append(
            {
                "effect": "p_nie_gt_nde",
                "mean": float(effects["nie_gt_nde"].mean()),
                "sd": float("nan"),
                "hdi_low": float("nan"),
                "hdi_high": float("nan"),
            }
        )
    table = pd.DataFrame(rows, columns=["effect", "mean", "sd", "hdi_low", "hdi_high"])
    table["hdi_prob"] = hdi_prob
    table["reliable"] = reliable
    return table


def attach_effects(run, *, hdi_prob: float = 0.9) -> pd.DataFrame:
    """Compute a run's effects, store the draws in ``run.idata["effects"]`` and the table."""
    ds = gcomp(run.idata, run.prepared)
    run.idata["effects"] = xr.DataTree(ds)
    run.effects = effects_table(ds, hdi_prob=hdi_prob, reliable=bool(run.diagnostics["ok"]))
    return run.effects
