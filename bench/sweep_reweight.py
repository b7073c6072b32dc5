"""Could the sweep reweight one fitted point's draws instead of fitting every point?

    python bench/sweep_reweight.py                      # bases (0, 0) and (1, 1)
    python bench/sweep_reweight.py --bases 0:0 --check  # also fit the reweightable points
    python bench/sweep_reweight.py --bases grid         # every fitted point as a base, and
                                                        # the fewest fits that cover the grid

``models/sensitivity.toml``'s latent-confounder grid differs from point to point only in the
strengths (γ_T, γ_Y); the sweep fits 13 of its 16 points (the points with γ_Y = 0 share one
fit: :func:`embedcausal.sensitivity.confounding.shared_points`). With U integrated out
(:mod:`embedcausal.confounder`), the density of the *natural* parameters θ (the treatment
regression, every part's effects and scales, ...) depends on the strengths only through U's
integral::

    log p_γ(θ | data) = const(θ) + ½ g'Kg - ½ (Σ log M_j + log det R'M⁻¹R)

so a draw of the point γ₀'s posterior, taken to the point γ₁, has the log importance weight
``ℓ_γ₁(θ) - ℓ_γ₀(θ)`` of that last term: nothing to sample again. Pareto-smoothed importance
sampling (Vehtari et al. 2024, ArviZ's ``psislw``) says whether the weights can be trusted:
k-hat ≤ 0.7, and the weights' effective sample size ``1 / Σ w²`` must leave ≥ 400 draws, the
diagnostics' own floor.

The script fits each base point exactly as the sweep fits a point (the compiled model, the
file's sampler settings) and prints, for every point of the grid, k-hat and the weights' ESS.
With ``--bases grid`` every one of the 13 is a base, and the script says how few fits would
cover the grid if every other point were reweighted from one of them. With ``--check`` it also
fits each point that passes and compares the reweighted posterior
mean and SD of the treatment's coefficient with the point's own fit (the test of the weights).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, format_machine, format_table, machine_info

#: PSIS's reliability threshold and the diagnostics' ESS floor
K_MAX, ESS_MIN = 0.7, 400
GRID = (0.0, 0.5, 1.0, 1.5)
COEF = ("y_beta", "inst_ties")


def fitted_points() -> list[tuple[float, float]]:
    """The 13 points the sweep fits: (0, 0) for every γ_Y = 0, and each point with γ_Y > 0."""
    return [(t, y) for t in GRID for y in GRID if y > 0 or t == 0]


def fewest_fits(reach: dict) -> list:
    """The smallest set of bases whose reweightable points, with themselves, cover the grid."""
    import itertools

    points = fitted_points()
    for size in range(1, len(points) + 1):
        for bases in itertools.combinations(points, size):
            covered = set(bases).union(*(reach.get(b, set()) for b in bases))
            if covered >= set(points):
                return list(bases)
    return points


def draw_terms(post, design, wg: str) -> dict:
    """What U's integral reads from each draw, whatever the strengths: the treatment residuals
    summed per level, the treatment's and the effects' precisions, the effects (draws × levels).
    """
    import numpy as np

    from embedcausal.batched import flat_draws
    from embedcausal.confounder import _level_sums

    f = flat_draws(post, ["t_intercept", "t_beta", "t_sigma", f"y_{wg}", f"y_sigma_{wg}"])
    _, _, count, tsum, xsum = _level_sums(design, wg)
    return {
        "resid": tsum - np.outer(f["t_intercept"], count) - f["t_beta"] @ xsum.T,
        "count": count,
        "prec_t": 1.0 / f["t_sigma"][:, None] ** 2,
        "prec_y": 1.0 / f[f"y_sigma_{wg}"][:, None] ** 2,
        "effects": f[f"y_{wg}"],
    }


def strengths_term(terms: dict, R, gamma_t: float, gamma_y: float):
    """``½ g'Kg - ½ (Σ log M + log det R'M⁻¹R)`` per draw at the strengths (γ_T, γ_Y).

    The strength on the mediator is 0 in the file's grid, so only the outcome's channel (and
    the treatment's) carries U. ``g`` and ``M = 1 + D`` as in :mod:`embedcausal.confounder`;
    ``terms`` from :func:`draw_terms`, ``R`` the basis of what U is orthogonal to.
    """
    import numpy as np

    t = terms
    m = 1.0 + gamma_t**2 * t["count"] * t["prec_t"] + gamma_y**2 * t["prec_y"]
    g = gamma_t * t["resid"] * t["prec_t"] + gamma_y * t["effects"] * t["prec_y"]
    B = np.einsum("nk,dn,nl->dkl", R, 1.0 / m, R)
    c = np.einsum("nk,dn->dk", R, g / m)
    quad = (g**2 / m).sum(1) - np.einsum("dk,dk->d", c, np.linalg.solve(B, c[..., None])[..., 0])
    return 0.5 * quad - 0.5 * (np.log(m).sum(1) + np.linalg.slogdet(B)[1])


def fit_at(model, design, gamma_t: float, gamma_y: float):
    """The point's posterior, sampled as the sweep samples it (U drawn back)."""
    import pymc as pm

    from embedcausal.fitting import sample

    with model:
        pm.set_data({"conf_on_treatment": gamma_t, "conf_on_outcome": gamma_y})
    return sample(design, confounder=True, models=[("joint", model)])["posterior"].to_dataset()


def coef(post):
    import numpy as np

    return np.asarray(post[COEF[0]].sel(y_term=COEF[1]), float).ravel()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bases", default="0:0,1:1", help="on_treatment:on_outcome, ...")
    p.add_argument("--check", action="store_true", help="fit the points that pass, compare")
    args = p.parse_args()
    if args.bases == "grid":
        bases = fitted_points()
    else:
        bases = [tuple(float(x) for x in s.split(":")) for s in args.bases.split(",")]

    import numpy as np
    from arviz_stats.base import array_stats

    import embedcausal as ec
    from embedcausal.sensitivity.confounding import _compiled

    print(format_machine(machine_info()))
    d = ec.design(REPO / "models" / "sensitivity.toml")
    model, _ = _compiled(d)
    s = d.spec.sampler
    print(f"models/sensitivity.toml: {s.chains} chains x ({s.tune} tuning + {s.draws} draws)")
    rows, reach = [], {}
    for base in bases:
        post = fit_at(model, d, *base)
        terms = draw_terms(post, d, model.confounder.wg)
        ell0 = strengths_term(terms, model.confounder.R, *base)
        for target in [t for t in fitted_points() if t != base]:
            lw = strengths_term(terms, model.confounder.R, *target) - ell0
            smoothed, khat = array_stats.psislw(lw, r_eff=1.0)
            w = np.exp(smoothed - smoothed.max())
            w /= w.sum()
            row = {"base": str(base), "target": str(target), "khat": float(khat)}
            row.update(ess=1.0 / float((w**2).sum()), sd=float(lw.std()), check="")
            ok = row["khat"] <= K_MAX and row["ess"] >= ESS_MIN
            row["verdict"] = "reweightable" if ok else "refit"
            if ok:
                reach.setdefault(base, set()).add(target)
            if args.check and ok:
                x, direct = coef(post), coef(fit_at(model, d, *target))
                mean = float(w @ x)
                sd = float(np.sqrt(w @ (x - mean) ** 2))
                row["check"] = f"{mean:.4f} ± {sd:.4f} / {direct.mean():.4f} ± {direct.std():.4f}"
            rows.append(row)
            print(f"  {row}", flush=True)
    columns = [
        ("from", "base", ""),
        ("to", "target", ""),
        ("k-hat", "khat", ".2f"),
        ("weights' ESS", "ess", ",.0f"),
        ("SD of log w", "sd", ".2f"),
        ("verdict", "verdict", ""),
    ]
    if args.check:
        columns.append((f"{COEF[0]}[{COEF[1]}]: reweighted / fitted", "check", ""))
    print(format_table(rows, columns))
    if args.bases == "grid":
        cover = fewest_fits(reach)
        print(f"fewest fits that cover the {len(fitted_points())} fitted points: {len(cover)}")
        print(f"  {cover}")


if __name__ == "__main__":
    main()
