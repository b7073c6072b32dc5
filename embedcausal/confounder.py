r"""The latent confounder of the sensitivity analysis, inside the joint model.

``U`` has one value per level of ``model.within_group`` (a country's disposition to
cooperate): standard normal, orthogonal to the constant and to the level means of the observed
confounders (:func:`confounder_spaces`). It enters the standardised treatment's regression
(strength γ_T, so that ``U`` is informed by the treatment), the mean of the outcome's and the
mediator's effects of that grouping (γ_Y, γ_M). The strengths are the ``pm.Data`` named in
:data:`CONFOUNDER_PARAMS`, so a sensitivity grid swaps them without recompiling.

**Integrated out** (:class:`IntegratedConfounder`, whenever the model has the grouping). ``U``
is Gaussian and enters only Gaussian terms — the treatment's rows and the group effects' prior
— so it integrates out exactly. Sampled explicitly, it is not identified apart from the
effects' own noise where the treatment does not inform it (γ_T = 0: ``a_j = μ_j + γ_Y U_j +
σ z_j`` pins only the sum), and at two points of ``models/sensitivity.toml``'s grid chains
did not mix (R-hat 1.14 for the country scale). With ``D = diag(n_j γ_T²/σ_T² + Σ γ²/σ²)``,
``g = γ_T s/σ_T² + Σ γ e/σ²`` (``s_j`` the treatment residuals summed over level ``j``, ``e``
each part's effects minus their mean) and ``R`` an orthonormal basis of what ``U`` is
orthogonal to, ``M = I + D``::

    log p(data | θ) = log p(data | θ, U = 0) + ½ g'Kg - ½ (Σ log M_j + log det R'M⁻¹R)
    K = M⁻¹ - M⁻¹R (R'M⁻¹R)⁻¹ R'M⁻¹

(the restriction to the orthogonal space through the complement: ``R`` has a handful of
columns, so each evaluation is O(levels), no dense factorisation). The effects themselves are
sampled **partially non-centred** around their prior given the treatment, ``N(m_j, τ_j²)``:
``y_j = (1 - w_j) m_j + τ_j^{1 - w_j} x_j`` with ``w_j = r_j/(1 + r_j)`` from the level's
information ratio at the current strengths (Papaspiliopoulos, Roberts & Sköld 2007: the
Gaussian optimum); in the few directions ``U`` is orthogonal to, where the effects have
variance σ² alone and the intercept and coefficients take up what the data say, they are
non-centred, ``e = P_Q(y - μ) + σ R R'x``. Both are exact changes of variables
(``log |det| = q log σ + Σ log τ^{1-w} + log det R' diag(τ^{w-1}) R``), so the posterior is
the model's; ``tests/test_confounder.py`` checks the density and the Jacobian against dense
linear algebra. After sampling, ``U`` is drawn from its exact conditional ``N(Kg, K)``
(:func:`draw_back`), so the posterior has it. Where the plan makes the grouping's effects sum
to zero, the constant direction is dropped (``x``'s component along it is an inert standard
normal); the grouping's mean takes the mostly-between predictors whatever its centring
(``plan_part(..., hold=...)``: hierarchical centring, so the treatment's coefficient is not
traded against the effects' prior mean). The treatment's residuals enter only through
sufficient statistics (per-level sums, cross-products), so the rows cost nothing per gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from embedcausal.batched import flat_draws
from embedcausal.geometry import GroupPlan, groupings, level_means

if TYPE_CHECKING:
    from embedcausal.plan import Design

CONFOUNDER_PARAMS = ("conf_on_treatment", "conf_on_mediator", "conf_on_outcome")
#: the strength of each part's channel
STRENGTH = {"y": "conf_on_outcome", "m": "conf_on_mediator"}


def _adjustment(design: Design) -> list:
    """The outcome's predictors other than the treatment and the mediator: the covariates."""
    d = design.data
    return [p for p in d.y_predictors if p.node not in (d.treatment, d.mediator)]


def _covariates(design: Design) -> np.ndarray:
    d, covs = design.data, _adjustment(design)
    return np.column_stack([d.column(p) for p in covs]) if covs else np.zeros((d.n_obs, 0))


def confounder_spaces(design: Design, wg: str) -> tuple[np.ndarray, np.ndarray]:
    """``(Q, R)``: orthonormal bases of where ``U`` lives and of what it is orthogonal to.

    A sensitivity analysis asks about a confounder *beyond* the observed ones, so ``U`` is
    taken to be independent of them (as in Imbens 2003 and Cinelli–Hazlett): orthogonal to the
    constant and to the level means of the adjustment set. That also fixes what the intercepts
    and coefficients would otherwise trade against ``U``. ``U ~ N(0, QQ')``, so each ``U_j``
    has variance ``(n - k - 1)/n`` ≈ 1.
    """
    d = design.data
    codes, n = d.group_codes[wg], len(d.coords[wg])
    A = np.column_stack([np.ones(n), level_means(_covariates(design), codes, n)])
    q, _ = np.linalg.qr(A, mode="complete")
    rank = int(np.linalg.matrix_rank(A))
    return q[:, rank:], q[:, :rank]


def integrable(design: Design) -> bool:
    """Whether ``U`` can be integrated out: the parts have the grouping it varies by."""
    wg = design.spec.model.within_group
    return wg in {g for g, _ in groupings(design.spec.varying)}


def latent_confounder(design: Design, wg: str):
    """``U`` per level of ``wg`` sampled explicitly (``U = Q v``, ``v ~ Normal(0, 1)``).

    Used where ``U`` enters a part's rows (the part lacks the grouping), so it cannot be
    integrated out.
    """
    basis, _ = confounder_spaces(design, wg)
    model = pm.modelcontext(None)
    model.add_coord("U_basis", np.arange(basis.shape[1]))
    v = pm.Normal("U_raw", 0.0, 1.0, dims="U_basis")
    return pm.Deterministic(
        "U", pt.dot(pm.Data("U__basis", basis, dims=(wg, "U_basis")), v), dims=wg
    )


def _standardised_treatment(design: Design) -> np.ndarray:
    t = design.data.values[design.data.treatment]
    return (t - t.mean()) / (t.std() or 1.0)


def _treatment_parameters(design: Design):
    """``(α_T, β_T or None, σ_T)``: the treatment regression's parameters."""
    priors = design.spec.priors
    covs = _adjustment(design)
    model = pm.modelcontext(None)
    alpha = priors["intercept"].to_pymc("t_intercept")
    beta = None
    if covs:
        model.add_coord("t_term", [p.name for p in covs])
        beta = priors["beta"].to_pymc("t_beta", dims="t_term")
    return alpha, beta, priors["mediator_sigma"].to_pymc("t_sigma")


def treatment_model(design: Design, u) -> None:
    """Standardised treatment ~ Normal(a + covariates·b + conf_on_treatment·U, σ_t)."""
    d = design.data
    tz = pm.Data("t__observed", _standardised_treatment(design), dims="obs")
    alpha, beta, sigma = _treatment_parameters(design)
    eta = alpha + pm.modelcontext(None)["conf_on_treatment"] * u
    if beta is not None:
        X = pm.Data("t__X", _covariates(design), dims=("obs", "t_term"))
        eta = eta + pt.dot(X, beta)
    pm.Normal(f"{d.treatment}__treatment_model", mu=eta, sigma=sigma, observed=tz, dims="obs")


def _level_sums(design: Design, wg: str):
    """``(t, X, rows, Σ t, Σ X)``: the standardised treatment, its covariates, and per level
    of ``wg`` the number of rows and the sums of both (the treatment's sufficient statistics).
    """
    t, X = _standardised_treatment(design), _covariates(design)
    code, n = design.data.group_codes[wg], len(design.data.coords[wg])
    sums = [np.bincount(code, X[:, j], n) for j in range(X.shape[1])]
    xsum = np.column_stack(sums) if sums else np.zeros((n, 0))
    return t, X, np.bincount(code, minlength=n).astype(float), np.bincount(code, t, n), xsum


def _residual_statistics(sums: tuple, alpha, beta):
    """The treatment residuals ``r = t - α - Xβ`` summed per level, and ``Σ r²``.

    From sufficient statistics of the data (:func:`_level_sums`, cross-products), so an
    evaluation costs O(levels · covariates), not O(rows).
    """
    t, X, count, tsum, xsum = sums
    s = pt.as_tensor_variable(tsum) - pt.as_tensor_variable(count) * alpha
    rr = float(t @ t) - 2.0 * alpha * float(t.sum()) + len(t) * alpha**2
    if beta is not None:
        s = s - pt.dot(xsum, beta)
        rr = rr - 2.0 * pt.dot(X.T @ t, beta) + 2.0 * alpha * pt.dot(X.sum(0), beta)
        rr = rr + pt.dot(beta, pt.dot(X.T @ X, beta))
    return s, rr


def _restricted(m, R: np.ndarray, g):
    """``(g'Kg, log det R'M⁻¹R)`` for ``M = diag(m)`` (see the module docstring).

    One small inverse and determinant (``R`` has a handful of columns).
    """
    minv = 1.0 / m
    MR = minv[:, None] * R
    B = pt.dot(R.T, MR)
    c = pt.dot(MR.T, g)
    quad = (minv * g**2).sum() - pt.dot(c, pt.dot(pt.linalg.inv(B), c))
    return quad, pt.log(pt.linalg.det(B))


class IntegratedConfounder:
    """``U`` integrated out of the joint model (see the module docstring).

    Built before the parts (:meth:`effects` is called for each part's grouping ``wg``) and
    closed by :meth:`finish`, which adds the joint density as one ``pm.Potential``.
    """

    def __init__(self, design: Design, wg: str):
        d = design.data
        model = pm.modelcontext(None)
        self.wg, self.n = wg, len(d.coords[wg])
        self.R = confounder_spaces(design, wg)[1]
        sums = _level_sums(design, wg)
        t, X, self.counts = sums[:3]
        self.counts_t = counts = pt.as_tensor_variable(self.counts)
        alpha, beta, self.sigma_t = _treatment_parameters(design)
        self.s, self.rr = _residual_statistics(sums, alpha, beta)
        self.n_obs = d.n_obs
        self.gamma_t = model["conf_on_treatment"]
        self.prec_t = counts * self.gamma_t**2 / self.sigma_t**2
        self.g_t = self.gamma_t * self.s / self.sigma_t**2
        # U given the treatment, less its few constraints (any centring is exact; the
        # constraints' correction, O(k/n) per level, cost a tenth of a gradient): the prior
        # each part's effects are centred on
        self.u_var = 1.0 / (1.0 + self.prec_t)
        self.u_mean = self.u_var * self.g_t
        # σ_T estimated once (least squares), for the weights of the partial non-centring
        A = np.column_stack([np.ones(d.n_obs), X])
        resid = t - A @ np.linalg.lstsq(A, t, rcond=None)[0]
        self.sigma_t_hat2 = max(float(resid.var()), 1e-6)
        self.channels: list[tuple[object, object, object, int]] = []
        self.jacobian = 0.0

    def effects(self, p: str, g: GroupPlan, mu, sigma):
        """Part ``p``'s effects of the grouping (``a`` and ``a - μ``), partially non-centred."""
        gamma = pm.modelcontext(None)[STRENGTH[p]]
        mean = mu + gamma * self.u_mean
        tau = pt.sqrt(gamma**2 * self.u_var + sigma**2)
        # information ratio at these strengths: the prior variance of a level's effect is the
        # grouping's plus γ² times what the treatment leaves of U's
        v_hat = 1.0 / (1.0 + self.counts_t * self.gamma_t**2 / self.sigma_t_hat2)
        ratio = pt.as_tensor_variable(np.asarray(g.info)) * (g.sigma2 + gamma**2 * v_hat)
        w = ratio / (1.0 + ratio)
        x = pm.Flat(f"{p}_x_{g.name}", dims=g.name)
        scale = tau ** (1.0 - w)
        y = (1.0 - w) * mean + scale * x
        # in the few directions U is orthogonal to (the constant, the confounders' level
        # means) the effects have variance σ² alone and only their prior informs them (the
        # intercept and coefficients take up the data): non-centred there, or σ → 0 funnels.
        # Effects that sum to zero (the plan's choice) drop the constant direction: x's
        # component along it is then an inert standard normal
        R, k0 = self.R, int(g.zero_sum)  # R's column 0 is the constant's direction
        c = pt.dot(R.T, pt.stack([y - mu, x], axis=1))
        e = y - mu - pt.dot(R, c[:, 0]) + sigma * pt.dot(R[:, k0:], c[k0:, 1])
        # log |det ∂(e, x'1)/∂x| = q' log σ + Σ log s + log det R' diag(1/s) R
        B = pt.dot(R.T, R / scale[:, None])
        jac = (R.shape[1] - k0) * pt.log(sigma) + pt.log(scale).sum() + pt.log(pt.linalg.det(B))
        if g.zero_sum:
            jac = jac - 0.5 * c[0, 1] ** 2 - 0.5 * np.log(2 * np.pi)
        self.jacobian = self.jacobian + jac
        self.channels.append((e, sigma, gamma, self.n - int(g.zero_sum)))
        return mu + e, e

    def finish(self) -> None:
        """Add the joint density of the treatment and every part's effects, ``U`` integrated."""
        D = self.prec_t + sum(gm**2 / s**2 for _, s, gm, _ in self.channels)
        g = self.g_t + sum(gm * e / s**2 for e, s, gm, _ in self.channels)
        base = -0.5 * self.rr / self.sigma_t**2 - self.n_obs * pt.log(self.sigma_t)
        for e, s, _, dim in self.channels:  # dim: n, or n - 1 for effects that sum to zero
            base = base - 0.5 * (e**2).sum() / s**2 - dim * pt.log(s)
        n_terms = self.n_obs + sum(dim for *_, dim in self.channels)
        M = 1.0 + D
        quad, logdet = _restricted(M, self.R, g)
        logp = base - 0.5 * n_terms * np.log(2 * np.pi) + 0.5 * quad
        logp = logp - 0.5 * (pt.log(M).sum() + logdet)
        pm.Potential("U_integrated", logp + self.jacobian)
        pm.modelcontext(None).confounder = self


def conditional_u(
    s: np.ndarray,
    channels: list[tuple[np.ndarray, np.ndarray, float]],
    gamma_t: float,
    sigma_t: np.ndarray,
    counts: np.ndarray,
    R: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws of ``U ~ N(Kg, K)`` given each posterior draw (draws × levels).

    ``s``: the treatment residuals summed per level; ``channels``: ``(e, σ, γ)`` per part,
    ``e`` draws × levels and ``σ`` per draw. ``K = M^-½ (I - W(W'W)⁻¹W') M^-½`` with
    ``W = M^-½ R``, so ``U = Kg + M^-½ (I - W(W'W)⁻¹W') ξ`` with ``ξ`` standard normal.
    """
    st2 = sigma_t[:, None] ** 2
    D = counts[None, :] * gamma_t**2 / st2
    g = gamma_t * s / st2
    for e, sig, gm in channels:
        D = D + gm**2 / sig[:, None] ** 2
        g = g + gm * e / sig[:, None] ** 2
    minv = 1.0 / (1.0 + D)
    W = np.sqrt(minv)[:, :, None] * R[None]  # draws × levels × k
    WtW = np.einsum("dnk,dnl->dkl", W, W)

    def project(v):  # (I - W (W'W)⁻¹ W') v, per draw
        c = np.linalg.solve(WtW, np.einsum("dnk,dn->dk", W, v)[..., None])[..., 0]
        return v - np.einsum("dnk,dk->dn", W, c)

    root = np.sqrt(minv)
    mean = root * project(root * g)
    return mean + root * project(rng.standard_normal(g.shape))


def draw_back(trace: xr.DataTree, model, design: Design, rng: np.random.Generator) -> xr.DataTree:
    """Add ``U`` (dims ``chain, draw, within_group``) to a trace of an integrated model."""
    post = trace["posterior"].to_dataset()
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    ic: IntegratedConfounder = model.confounder
    d = design.data
    parts = [p for p in ("y", "m") if f"{p}_x_{ic.wg}" in post]
    names = ["t_intercept", "t_beta", "t_sigma"]
    flat = flat_draws(post, names + [f"{p}{k}{ic.wg}" for p in parts for k in ("_", "_sigma_")])
    _, _, count, tsum, xsum = _level_sums(design, ic.wg)
    s = tsum[None, :] - count[None, :] * flat["t_intercept"][:, None]
    if xsum.shape[1]:
        s = s - flat["t_beta"] @ xsum.T
    strengths = {k: float(model[k].get_value()) for k in CONFOUNDER_PARAMS}
    channels = [
        (flat[f"{p}_{ic.wg}"], flat[f"{p}_sigma_{ic.wg}"], strengths[STRENGTH[p]]) for p in parts
    ]
    u = conditional_u(
        s, channels, strengths["conf_on_treatment"], flat["t_sigma"], ic.counts, ic.R, rng
    )
    dims = ("chain", "draw", ic.wg)
    coords = {"chain": post["chain"].values, "draw": post["draw"].values, ic.wg: d.coords[ic.wg]}
    out = trace.copy()
    added = {"U": xr.DataArray(u.reshape(nchain, ndraw, ic.n), dims=dims, coords=coords)}
    out["posterior"] = xr.DataTree(post.assign(added))
    return out
