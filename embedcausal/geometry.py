"""How each part's varying intercepts are parameterised, so that NUTS mixes (the plan).

Whether a group effect ``a_j`` should be sampled **centred** (``a_j ~ Normal(μ_j, σ)``) or
**non-centred** (``a_j = μ_j + σ·z_j``, ``z_j ~ Normal(0, 1)``) depends on how much the data
say about that level compared with its prior: centred where the likelihood pins ``a_j``
(non-centred there leaves a ridge between ``σ`` and ``z_j``), non-centred where it does not
(centred there is a funnel). Real panels have both kinds of level in one grouping — a country
that took part in twenty missions and one that took part in none — so the choice is made
**per level** (:func:`plan_part`), from its *information ratio*

    r_j = I_j · σ̂²

where ``I_j`` is the Fisher information the level's rows carry about its effect on the
linear-predictor scale (``n_j p̂_j(1 − p̂_j)`` for a Bernoulli part, ``n_j μ̂_j/(1 + μ̂_j/k̂)``
for counts, ``n_j/σ̂²_w`` for a Gaussian one) and ``σ̂²`` a method-of-moments estimate of the
grouping's variance on that scale (after the group-level predictors). Levels with
``r_j · (1 − √(2/(k − 1))) > 1`` are centred, the others non-centred: ``σ̂²`` comes from the
grouping's own ``k`` levels, with a relative standard error of about ``√(2/(k − 1))``, so a
grouping of a few levels (regions) is centred only when its ratio clears 1 by that margin.
A grouping in which a single level would be centred is non-centred throughout: that level's
effect, alone, funnels with ``σ`` (which the other levels inform).

Two more rules remove the ridges that remain:

* **hierarchical centring**: a predictor that varies mostly between the levels of a mostly
  centred grouping (a country-level covariate, tie counts that differ far more between
  countries than over time, the between part of a within/between split) is written
  ``β·x̄_j + β·(x − x̄_j)`` with one coefficient: ``β·x̄_j`` enters the grouping's mean
  ``μ_j`` and only the remainder stays on the rows, so ``β`` is learnt from the level effects
  rather than traded off against them. The intercept enters the mean of the mostly centred
  grouping with the fewest levels; a nested grouping's mean holds its parent's effect;
* the common **level** of the centred effects gets its own axis (:class:`LevelRotation`), and
  a fully non-centred grouping's ``z`` sums to zero, so the intercept does not trade off
  against the mean of the effects.

``model.parameterization`` in the model file overrides the choice for a whole grouping
(``"centered"``/``"noncentered"``). Measurements: ``docs/performance.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pytensor.tensor as pt
from pymc.distributions.transforms import Transform

from embedcausal.prepared import COUNT_FAMILIES, Predictor

if TYPE_CHECKING:
    from embedcausal.plan import Design

#: information ratio above which a level is centred (``model.parameterization = "auto"``)
CENTER_ABOVE = 1.0
#: share of a predictor's variance between the levels above which it enters their mean
SPLIT_ABOVE = 0.5
#: levels a grouping needs per coefficient (and intercept) before its mean holds predictors
MIN_LEVELS_PER_TERM = 4
#: levels a grouping needs before its mean holds the intercept (see plan_part)
MIN_INTERCEPT_LEVELS = 10
Part = Literal["outcome", "mediator"]
PREFIX = {"outcome": "y", "mediator": "m"}
_GROUP_KEY = ("name", "parent", "centered", "predictors", "intercept", "zero_sum")


@dataclass(frozen=True)
class GroupPlan:
    """How one grouping's effects are parameterised in one part.

    ``centered[j]`` says whether level ``j`` is centred; ``ratio[j]`` is its information ratio.
    """

    name: str
    parent: str | None
    centered: tuple[bool, ...]
    ratio: tuple[float, ...]
    predictors: tuple[str, ...]
    intercept: bool
    zero_sum: bool = False
    #: per level, the information about its effect; the grouping's variance (ratio = info·sigma2)
    info: tuple[float, ...] = ()
    sigma2: float = 0.0

    @property
    def n_centered(self) -> int:
        return sum(self.centered)

    @property
    def mostly_centered(self) -> bool:
        """At least half of the levels are centred (the grouping can hold mean terms)."""
        return 2 * self.n_centered >= len(self.centered) and self.n_centered > 0

    def key(self) -> tuple:
        """What the compiled graph depends on beyond the data (ratios and info: the data's)."""
        return tuple(getattr(self, k) for k in _GROUP_KEY)


@dataclass(frozen=True)
class PartPlan:
    """The terms of one part's linear predictor (see the module docstring)."""

    prefix: str
    predictors: tuple[Predictor, ...]
    row: tuple[str, ...]
    groups: tuple[GroupPlan, ...]
    slopes: tuple[tuple[str, str], ...]

    @property
    def leaves(self) -> tuple[str, ...]:
        """Groupings whose effects enter the rows (a parent enters through its children)."""
        parents = {g.parent for g in self.groups}
        return tuple(g.name for g in self.groups if g.name not in parents)

    def key(self) -> tuple:
        return (self.prefix, self.row, tuple(g.key() for g in self.groups), self.slopes)

    def describe(self) -> str:
        """One line per grouping: how many levels are centred, what its mean holds."""
        out = []
        for g in self.groups:
            n = len(g.centered)
            some = f"centred for {g.n_centered} of {n} levels"
            how = {n: "centred", 0: "non-centred (sum-to-zero)"}.get(g.n_centered, some)
            extra = [*(["intercept"] if g.intercept else []), *g.predictors]
            terms = f"; mean holds {', '.join(extra)}" if extra else ""
            med = float(np.median(g.ratio)) if g.ratio else float("nan")
            out.append(
                f"{self.prefix}: {g.name}: {how} (median information ratio {med:.2g}){terms}"
            )
        return "\n".join(out)


def groupings(varying: list[str]) -> list[tuple[str, str | None]]:
    """(grouping, parent) in order, parents first: ``["region/country"]`` -> region, country."""
    out: dict[str, str | None] = {}
    for item in varying:
        parts = item.split("/")
        if len(parts) == 2:
            out.setdefault(parts[0], None)
            out[parts[1]] = parts[0]
        else:
            out.setdefault(parts[0], None)
    return list(out.items())


def _residuals(target: np.ndarray, X: np.ndarray) -> np.ndarray:
    A = np.column_stack([np.ones(len(target)), X]) if X.size else np.ones((len(target), 1))
    coef, *_ = np.linalg.lstsq(A, target, rcond=None)
    return target - A @ coef


def level_information(
    target: np.ndarray,
    family: str,
    codes: np.ndarray,
    n_levels: int,
    *,
    X_rows: np.ndarray,
    X_levels: np.ndarray,
    offset: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-level link-scale estimates, their Fisher information, and the grouping's variance.

    Parameters
    ----------
    target : array
        The part's response (0/1, counts, or a Gaussian value).
    family : str
        ``"bernoulli"``, ``"poisson"``, ``"negbinomial"`` or ``"gaussian"``.
    codes, n_levels
        The grouping's level of each row.
    X_rows : array
        Row-level predictors (Gaussian parts are residualised on them).
    X_levels : array
        Group-level predictors, one row per level (the estimates are residualised on them).
    offset : array, optional
        A parent grouping's estimate per row (nested groupings: deviations from the parent).

    Returns
    -------
    (eta, info, sigma2)
        Per-level estimate and information, and the method-of-moments variance of the effects.
    """
    cnt = np.bincount(codes, minlength=n_levels).astype(float)
    keep = cnt > 0
    if family == "gaussian":
        resid = _residuals(target, X_rows)
        means = np.bincount(codes, weights=resid, minlength=n_levels) / np.maximum(cnt, 1)
        within = float(np.sum((resid - means[codes]) ** 2)) / max(len(resid) - keep.sum(), 1)
        eta = means
        info = cnt / max(within, 1e-12)
    else:
        s = np.bincount(codes, weights=target, minlength=n_levels)
        if family == "bernoulli":
            p = (s + 0.5) / (cnt + 1.0)
            eta = np.log(p / (1 - p))
            info = cnt * p * (1 - p)
        else:
            mu = (s + 0.5) / np.maximum(cnt, 1)
            m, v = float(np.mean(target)), float(np.var(target))
            k = m * m / (v - m) if family == "negbinomial" and v > m else np.inf
            eta = np.log(mu)
            info = cnt * mu / (1.0 + mu / k)
    if offset is not None:
        parent = np.bincount(codes, weights=offset, minlength=n_levels) / np.maximum(cnt, 1)
        eta = eta - parent
    # DerSimonian–Laird: the between-level variance from inverse-variance weighted residuals,
    # so that levels the data say little about (a country that never took part) do not
    # drown it in their sampling noise
    w = np.where(keep, np.maximum(info, 1e-12), 0.0)
    A = np.column_stack([np.ones(n_levels), X_levels]) if X_levels.size else np.ones((n_levels, 1))
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(A * sw[:, None], eta * sw, rcond=None)
    q = float(np.sum(w * (eta - A @ coef) ** 2))
    dof = int(keep.sum()) - A.shape[1]
    denom = float(w.sum() - (w**2).sum() / w.sum()) if w.sum() > 0 else 0.0
    sigma2 = max((q - dof) / denom, 0.0) if denom > 0 and dof > 0 else 0.0
    return eta, info, sigma2


def _choice(design: Design, part: Part, grouping: str) -> str:
    m = design.spec.model
    if part == "mediator" and m.mediator_centered:
        return "centered"
    p = m.parameterization
    return p if isinstance(p, str) else p.get(grouping, "auto")


def plan_part(design: Design, part: Part, *, hold: str | None = None) -> PartPlan:
    """Plan a part's terms and, per level, the parameterisation of its varying intercepts.

    Parameters
    ----------
    design : Design
    part : {"outcome", "mediator"}
    hold : str, optional
        A grouping whose mean takes the mostly-between predictors whatever its centring (the
        latent confounder's grouping, which :mod:`embedcausal.confounder` centres partially).

    Returns
    -------
    PartPlan

    Examples
    --------
    >>> import embedcausal as ec                                          # doctest: +SKIP
    >>> print(ec.plan_part(ec.design("models/full.toml"), "outcome").describe())   # doctest: +SKIP
    y: mission: centred (median information ratio 4.2); mean holds intercept
    y: country: centred for 97 of 194 levels (median information ratio 0.98)
    """
    d = design.data
    spec = design.spec
    prefix = PREFIX[part]
    preds = tuple(d.y_predictors if part == "outcome" else d.m_predictors)
    X = np.column_stack([d.column(p) for p in preds]) if preds else np.zeros((d.n_obs, 0))
    if part == "outcome":
        target, family = d.y.astype(float), spec.model.family
    else:
        family = "gaussian" if d.mediator_family == "ordered" else d.mediator_family
        raw = d.m if family in COUNT_FAMILIES else d.transformed(d.mediator)
        target = np.asarray(raw, dtype=float)
    groups = groupings(spec.varying)
    between = {g: between_share(X, d.group_codes[g], len(d.coords[g])) for g, _ in groups}
    mostly_between = {
        g: [j for j in range(X.shape[1]) if between[g][j] >= SPLIT_ABOVE] for g, _ in groups
    }
    centered: dict[str, tuple[bool, ...]] = {}
    ratio: dict[str, tuple[float, ...]] = {}
    information: dict[str, tuple[tuple[float, ...], float]] = {}
    estimates: dict[str, np.ndarray] = {}
    spread: dict[str, float] = {}  # prior SD of a grouping's mean effect: σ̂/√n
    for g, parent in groups:
        codes, n = d.group_codes[g], len(d.coords[g])
        eta, info, sigma2 = level_information(
            target,
            family,
            codes,
            n,
            X_rows=X,
            X_levels=level_means(X[:, mostly_between[g]], codes, n),
            offset=estimates[parent][d.group_codes[parent]] if parent in estimates else None,
        )
        estimates[g] = eta
        # the variance is estimated from the levels themselves: with k of them its relative
        # standard error is about sqrt(2/(k-1)), so a grouping with few levels is centred
        # only when its ratio clears 1 by that margin (5 regions: a ratio above ~3.4)
        r = info * sigma2
        sure = max(1.0 - np.sqrt(2.0 / max(n - 1, 1)), 0.0)
        spread[g] = float(np.sqrt(sigma2 / n))
        ratio[g] = tuple(float(x) for x in r)
        information[g] = (tuple(float(x) for x in info), float(sigma2))
        how = _choice(design, part, g)
        if how == "auto":
            centered[g] = tuple(bool(x * sure > CENTER_ABOVE) for x in r)
            if sum(centered[g]) == 1 < n:  # one centred level alone funnels with σ: none
                centered[g] = (False,) * n
        else:
            centered[g] = (how == "centered",) * n
    mostly = [
        g for g, _ in groups if 2 * sum(centered[g]) >= len(centered[g]) > 0 and any(centered[g])
    ]
    held = [hold] if hold is not None and hold not in mostly else []
    by_size = sorted(mostly + held, key=lambda g: len(d.coords[g]))
    # hierarchical centring: a predictor that varies mostly between the levels of a mostly
    # centred grouping enters its mean (its group means there, the remainder on the rows)
    home: dict[str, str] = {}
    for j, p in enumerate(preds):
        # a regression on the level effects needs many more levels than coefficients
        able = [g for g in by_size if len(d.coords[g]) >= MIN_LEVELS_PER_TERM * (1 + len(preds))]
        best = max(able, key=lambda g: between[g][j], default=None)
        if best is not None and between[best][j] >= SPLIT_ABOVE:
            home[p.name] = best
    slopes = []
    if part == "outcome":
        for node, g in spec.model.varying_slopes.items():
            slopes += [(p.name, g) for p in preds if p.node == node and p.part != "between"]
    for s, _ in slopes:
        home.pop(s, None)
    # the intercept goes where the prior pins the level least (largest σ̂/√n): the levels of the
    # other groupings then drift least against it. Not into a grouping of a few levels: given
    # them, the intercept's sd is σ/√k, a funnel as σ's wide posterior nears 0 (five regions)
    many = [g for g in mostly if len(d.coords[g]) >= MIN_INTERCEPT_LEVELS]
    intercept = max(many, key=lambda g: spread[g], default=None)
    plans = tuple(
        GroupPlan(
            name=g,
            parent=parent,
            centered=centered[g],
            ratio=ratio[g],
            predictors=tuple(p.name for p in preds if home.get(p.name) == g),
            intercept=g == intercept,
            zero_sum=g != intercept and parent is None,
            info=information[g][0],
            sigma2=information[g][1],
        )
        for g, parent in groups
    )
    row = tuple(p.name for p in preds if p.name not in home)
    return PartPlan(prefix, preds, row, plans, tuple(slopes))


def level_means(X: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Per level, the mean of each column of ``X`` (levels x columns)."""
    cnt = np.maximum(np.bincount(codes, minlength=n), 1)
    cols = [np.bincount(codes, weights=X[:, j], minlength=n) / cnt for j in range(X.shape[1])]
    return np.stack(cols, 1) if cols else np.zeros((n, 0))


def between_share(X: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Per column of ``X``, the share of its variance that lies between the levels."""
    if X.shape[1] == 0:
        return np.zeros(0)
    means = level_means(X, codes, n)
    total = X.var(axis=0)
    return np.where(total > 0, means[codes].var(axis=0) / np.where(total > 0, total, 1), 1.0)


def _first_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """Index of the first row of each of ``n`` levels."""
    first = np.zeros(n, dtype=np.int64)
    order = np.arange(len(codes))[::-1]
    first[codes[order]] = order
    return first


class LevelRotation(Transform):
    """An orthogonal change of coordinates of a vector that gives its level its own axis.

    The sampler sees ``u = P·a`` with ``P`` the Householder reflection that maps the first
    axis onto ``1/√n``: ``u[0] = √n·mean(a)`` and the other coordinates are contrasts. In a
    crossed model the data pin the *sum* of a grouping's common level and the others' (and the
    intercept), not each level, so the levels drift together: with the level on one axis a
    diagonal mass matrix can give it its own scale, instead of every element carrying the
    drift. ``P`` is its own inverse and ``|det P| = 1``, so the prior is unchanged.
    """

    name = "levelrotation"  # no underscore: PyMC parses "<var>_<transform>__"
    ndim_supp = 1
    __props__ = ()

    @staticmethod
    def _reflect(value):
        n = value.shape[-1].astype("float64")
        w = pt.zeros_like(value) - 1.0 / pt.sqrt(n)
        w = pt.set_subtensor(w[..., 0], w[..., 0] + 1.0)
        w = w / pt.sqrt((w * w).sum(-1, keepdims=True))
        return value - 2.0 * w * (w * value).sum(-1, keepdims=True)

    def forward(self, value, *inputs):
        return self._reflect(value)

    def backward(self, value, *inputs):
        return self._reflect(value)

    def log_jac_det(self, value, *inputs):
        return pt.zeros_like(value.sum(-1))
