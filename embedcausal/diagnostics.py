"""Sampler diagnostics that name the parameters at fault and say what to do.

Thresholds are ArviZ's recommendations (Vehtari et al. 2021): R-hat ≤ 1.01, bulk and tail
ESS ≥ 100 per chain, no divergent transitions, E-BFMI ≥ 0.3. :func:`diagnose` checks every
parameter of the posterior (element by element: ``y_a_country[USA]`` is named, not just
``y_a_country``) with ArviZ 1.x's estimators (computed for all parameters at once by
:mod:`embedcausal.mixing`) and returns a :class:`Diagnostics` whose ``problems`` are
sentences a user can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from embedcausal.mixing import rhat_ess

RHAT_MAX = 1.01
ESS_PER_CHAIN = 100
BFMI_MIN = 0.3
MAX_NAMED = 5
#: R-hats up to this on a few parameters, with every other check passing, look like NUTS's
#: Monte Carlo noise: on D = 100-900 independent normals at 4 x 500 draws its largest R-hat
#: was 1.008-1.024 (``bench/rhat_floor.py``, docs/performance.md)
RHAT_NOISE = 1.02
NOISE_SHARE = 0.05
#: a grouping's scale is named as the funnel behind divergences when at least this many
#: divergent draws all sit in its lowest FUNNEL_QUANTILE of draws (by chance, for one scale:
#: 0.1 ** 3 = 1e-3)
FUNNEL_MIN_DIVERGENT = 3
FUNNEL_QUANTILE = 0.1
SCALE = re.compile(r"^(?P<part>[a-z]+)_sigma_(?P<group>\w+)$")


@dataclass
class Diagnostics:
    """The result of :func:`diagnose` (a mapping, for JSON and backwards compatibility)."""

    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float | None
    thresholds: dict[str, float]
    worst: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (also the keys of ``run.json``'s ``diagnostics``)."""
        return {
            "max_r_hat": self.max_r_hat,
            "min_ess_bulk": self.min_ess_bulk,
            "min_ess_tail": self.min_ess_tail,
            "divergences": self.divergences,
            "min_bfmi": self.min_bfmi,
            "thresholds": self.thresholds,
            "worst": self.worst,
            "problems": self.problems,
            "advice": self.advice,
            "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnostics:
        keys = ("max_r_hat", "min_ess_bulk", "min_ess_tail", "divergences", "min_bfmi")
        return cls(
            **{k: d[k] for k in keys},
            thresholds=dict(d["thresholds"]),
            worst={k: list(v) for k, v in d.get("worst", {}).items()},
            problems=list(d.get("problems", [])),
            advice=list(d.get("advice", [])),
        )

    @property
    def failed_checks(self) -> list[str]:
        """The names of the checks that failed: ``r_hat``, ``ess_bulk``, ``ess_tail`` (those
        naming parameters), ``divergences`` and ``bfmi``; empty when every check passed."""
        out = [k for k in ("r_hat", "ess_bulk", "ess_tail") if k in self.worst]
        if self.divergences:
            out.append("divergences")
        if self.min_bfmi is not None and self.min_bfmi < self.thresholds["bfmi"]:
            out.append("bfmi")
        return out

    def point_attrs(self) -> dict[str, Any]:
        """The verdict as attributes of a grid point's effect draws: ``diagnostics_ok`` 0/1,
        ``diagnostics_problems`` (the problems joined by ``"; "``), and the numbers behind it
        (``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``)."""
        return {
            "diagnostics_ok": int(self.ok),
            "diagnostics_problems": "; ".join(self.problems),
            "max_r_hat": float(self.max_r_hat),
            "min_ess_bulk": float(self.min_ess_bulk),
            "min_ess_tail": float(self.min_ess_tail),
            "divergences": int(self.divergences),
        }

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def summary(self) -> str:
        """Plain text: one line of numbers, then each problem and the advice."""
        head = (
            f"max R-hat {self.max_r_hat:.3f}, min bulk ESS {self.min_ess_bulk:.0f}, "
            f"min tail ESS {self.min_ess_tail:.0f}, {self.divergences} divergences"
        )
        if self.ok:
            return head + " — all checks passed"
        return "\n".join([head, *(f"PROBLEM: {p}" for p in self.problems), *self.advice])


def _elements(post: xr.Dataset, names: list[str]) -> tuple[list[str], np.ndarray]:
    """Element labels ``name[coord,...]`` and their draws, shape (element, chain, draw)."""
    labels: list[str] = []
    blocks: list[np.ndarray] = [np.empty((0, post.sizes["chain"], post.sizes["draw"]))]
    for name in names:
        da = post[name]
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        if not extra:
            labels.append(str(name))
            blocks.append(da.transpose("chain", "draw").values[None])
            continue
        stacked = da.stack(_el=extra).transpose("_el", "chain", "draw")
        labels += [
            f"{name}[{','.join(map(str, idx if isinstance(idx, tuple) else (idx,)))}]"
            for idx in stacked.indexes["_el"]
        ]
        blocks.append(stacked.values)
    return labels, np.concatenate(blocks).astype(float)


def _worst(labels: list[str], values: np.ndarray, bad: np.ndarray, *, high: bool) -> list[str]:
    """The worst few flagged elements with their values: R-hat (``high``) to 3 decimals, so
    1.0148 reads 1.015 rather than a 1.01 that looks like the threshold; ESS as a count."""
    idx = np.flatnonzero(bad)
    order = idx[np.argsort(-values[idx] if high else values[idx])]
    fmt = ".3f" if high else ".0f"
    return [f"{labels[i]} ({values[i]:{fmt}})" for i in order[:MAX_NAMED]]


def _sampled(idata: xr.DataTree) -> list[str]:
    """Posterior variables that were sampled or derived from a few parameters (not data)."""
    post = idata["posterior"]
    return [v for v in post.data_vars if "obs" not in post[v].dims]


def diagnose(idata: xr.DataTree, *, var_names: list[str] | None = None) -> Diagnostics:
    """R-hat, bulk/tail ESS, divergences and E-BFMI with the parameters at fault named.

    Parameters
    ----------
    idata : xarray.DataTree
        With ``posterior`` and ``sample_stats`` groups (chains ≥ 1).
    var_names : list of str, optional
        Variables to check (default: every posterior variable without an ``obs`` dim).

    Returns
    -------
    Diagnostics

    Examples
    --------
    >>> from arviz_base import from_dict                        # doctest: +SKIP
    >>> d = diagnose(from_dict({"posterior": {"x": rng.normal(size=(4, 500))}}))  # doctest: +SKIP
    >>> d.ok                                                      # doctest: +SKIP
    True
    """
    import arviz as az

    names = var_names or _sampled(idata)
    chains = idata["posterior"].sizes["chain"]
    ess_min = ESS_PER_CHAIN * chains
    labels, values = _elements(idata["posterior"].to_dataset(), names)
    with np.errstate(invalid="ignore", divide="ignore"):
        vr, vb, vt = rhat_ess(values)
    lr = lb = lt = labels

    def extreme(values: np.ndarray, fn) -> float:
        v = values[np.isfinite(values)]
        return float(fn(v)) if v.size else float("nan")

    divergences = sum(int(flags.sum()) for flags in _divergent_flags(idata))
    bfmi: list[float] = []
    for group in (g for g in idata.children if g.startswith("sample_stats")):
        stats = idata[group]
        if "energy" in stats:
            with np.errstate(invalid="ignore", divide="ignore"):  # a stuck chain: 0/0, NaN
                res = az.bfmi(idata, group=group)
            res = res.to_dataset() if isinstance(res, xr.DataTree) else res
            bfmi += [float(x) for x in np.ravel(np.asarray(res["energy"].values))]
    diag = Diagnostics(
        max_r_hat=extreme(vr, np.max),
        min_ess_bulk=extreme(vb, np.min),
        min_ess_tail=extreme(vt, np.min),
        divergences=divergences,
        min_bfmi=min(bfmi) if bfmi else None,
        thresholds={
            "r_hat": RHAT_MAX,
            "ess_bulk": float(ess_min),
            "ess_tail": float(ess_min),
            "bfmi": BFMI_MIN,
            "divergences": 0,
        },
    )
    bad_r = ~(vr <= RHAT_MAX)
    bad_b = ~(vb >= ess_min)
    bad_t = ~(vt >= ess_min)
    if bad_r.any():
        diag.worst["r_hat"] = _worst(lr, vr, bad_r, high=True)
        diag.problems.append(
            f"R-hat above {RHAT_MAX} for {int(bad_r.sum())} parameter(s): "
            + ", ".join(diag.worst["r_hat"])
        )
    if bad_b.any():
        diag.worst["ess_bulk"] = _worst(lb, vb, bad_b, high=False)
        diag.problems.append(
            f"bulk ESS below {ess_min} ({ESS_PER_CHAIN} per chain) for {int(bad_b.sum())} "
            "parameter(s): " + ", ".join(diag.worst["ess_bulk"])
        )
    if bad_t.any():
        diag.worst["ess_tail"] = _worst(lt, vt, bad_t, high=False)
        diag.problems.append(
            f"tail ESS below {ess_min} ({ESS_PER_CHAIN} per chain) for {int(bad_t.sum())} "
            "parameter(s): " + ", ".join(diag.worst["ess_tail"])
        )
    if divergences:
        diag.problems.append(f"{divergences} divergent transitions")
    if bfmi and min(bfmi) < BFMI_MIN:
        diag.problems.append(f"E-BFMI {min(bfmi):.2f} below {BFMI_MIN} in some chain")
    diag.advice = _advice(diag, idata, n_over=int(bad_r.sum()), n_checked=int(vr.size))
    return diag


def _divergent_flags(idata: xr.DataTree) -> list[np.ndarray]:
    """Each sampled part's divergent-transition flags (chain × draw, bool)."""
    groups = [g for g in idata.children if g.startswith("sample_stats")]
    return [
        np.asarray(idata[g]["diverging"].transpose("chain", "draw").values).astype(bool)
        for g in groups
        if "diverging" in idata[g]
    ]


def funnel(idata: xr.DataTree) -> tuple[str, str, np.ndarray] | None:
    """``(scale, grouping, percentiles)`` when the divergent draws sit at a grouping's smallest
    scales, else None.

    A funnel's signature: every divergent draw (at least :data:`FUNNEL_MIN_DIVERGENT`) in the
    lowest :data:`FUNNEL_QUANTILE` of one scale's draws (``{part}_sigma_{grouping}``); where
    several scales show it, the one whose divergent draws sit lowest. ``percentiles``: where
    each divergent draw sits among that scale's draws.
    """
    post = idata["posterior"]
    diverging = np.zeros((post.sizes["chain"], post.sizes["draw"]), dtype=bool)
    for flags in _divergent_flags(idata):
        if flags.shape != diverging.shape:  # draws that do not line up: say nothing
            return None
        diverging |= flags
    if diverging.sum() < FUNNEL_MIN_DIVERGENT:
        return None
    found = None
    for name in post.data_vars:
        match = SCALE.match(str(name))
        if match is None or set(post[name].dims) != {"chain", "draw"}:
            continue
        draws = np.asarray(post[name].transpose("chain", "draw").values)
        pct = np.searchsorted(np.sort(draws.ravel()), draws[diverging]) / draws.size
        if pct.max() < FUNNEL_QUANTILE and (found is None or pct.mean() < found[2].mean()):
            found = (str(name), match["group"], np.sort(pct))
    return found


def _only_noise(diag: Diagnostics, n_over: int, n_checked: int) -> bool:
    """Whether the one failing check is R-hat, just above its threshold on a few parameters."""
    return (
        n_over > 0
        and diag.failed_checks == ["r_hat"]
        and diag.max_r_hat <= RHAT_NOISE
        and n_over <= NOISE_SHARE * n_checked
    )


def _advice(diag: Diagnostics, idata: xr.DataTree, *, n_over: int, n_checked: int) -> list[str]:
    """What to change, in model-file keys (``n_over`` of ``n_checked`` R-hats above 1.01)."""
    out = []
    draws = idata["posterior"].sizes["draw"]
    if _only_noise(diag, n_over, n_checked):
        return [
            f"advice: only R-hat fails, and only just ({diag.max_r_hat:.3f} at most, on "
            f"{n_over} of {n_checked} parameters; ESS and divergences pass): with this many "
            f"parameters and {draws} draws per chain, NUTS's Monte Carlo noise alone puts some "
            "R-hats above 1.01, even on independent normals (docs/performance.md, 'The R-hat "
            f"floor of NUTS'); more draws shrink it: [sampler] draws = {2 * draws} (now "
            f"{draws}) or --draws {2 * draws}"
        ]
    if diag.divergences:
        found = funnel(idata)
        if found is None:
            out.append(
                "advice: divergences bias the posterior; raise [sampler] target_accept (e.g. "
                "0.95), or make a grouping whose scale is near 0 at the divergent draws "
                "non-centred (model.parameterization = { GROUP = 'noncentered' })"
            )
        else:
            scale, group, pct = found
            out.append(
                f"advice: the {diag.divergences} divergent transitions all sit at the smallest "
                f"values of {scale} (its percentiles {100 * pct.min():.1f}-{100 * pct.max():.1f} "
                f"%): a funnel in the {group!r} effects; set model.parameterization = "
                f"{{ {group} = 'noncentered' }}, or raise [sampler] target_accept (e.g. 0.95)"
            )
    if "r_hat" in diag.worst or "ess_bulk" in diag.worst or "ess_tail" in diag.worst:
        names = " ".join(diag.worst.get("ess_bulk", []) + diag.worst.get("r_hat", []))
        if "_z_" in names or "_a_" in names:
            out.append(
                "advice: a varying intercept mixes slowly; try the other parameterisation for "
                "its grouping (model.parameterization = { GROUP = 'centered' } or "
                "'noncentered'), see docs/performance.md"
            )
        out.append(
            f"advice: more draws help when ESS is merely low: [sampler] draws = {2 * draws} "
            f"(now {draws}) or --draws {2 * draws}"
        )
    return out
