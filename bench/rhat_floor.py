"""The R-hat floor of NUTS: how high the largest R-hat of D parameters goes when nothing is wrong.

    python bench/rhat_floor.py                  # D = 900; 4 chains x (1000 tune + 500 or 1000
                                                # draws); nutpie, PyMC's NUTS, NumPyro, iid; 3 seeds
    python bench/rhat_floor.py --dims 450,900 --draws 500,1000 --seeds 5
    python bench/rhat_floor.py --samplers nutpie,iid --json out/rhat_floor.json

The target is the easiest posterior there is: D independent standard normals. Every sampler
here is exact for it, so every R-hat above 1.01 is Monte Carlo noise, and the largest of D of
them is what a convergence check over D parameters sees when the chains are right. The held-out
panels of issue 9 have ~900 posterior elements (country and mission effects of two parts);
the confounder grid's points ~450. R-hat is embedcausal's own (``embedcausal.mixing.rhat_ess``,
the code behind every convergence flag: ArviZ's rank-normalised split R-hat, the larger of bulk
and folded); ``iid`` is independent normal draws of the same shape, the no-autocorrelation
reference. NUTS's draws of a Gaussian are anti-correlated for the location (bulk ESS above the
number of draws) and positively correlated for the spread (folded ESS below it): a trajectory
that ends near a half-turn maps x to about -x, which leaves |x| where it was.

Each (seed, draws, dims) runs every sampler in turn (interleaved); R-hat and ESS do not depend
on the load of the machine, wall seconds do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench._common import format_machine, format_table, machine_info, median

SAMPLERS = ("nutpie", "pymc", "numpyro", "iid")
TUNE = 1000
CHAINS = 4
TARGET_ACCEPT = 0.8


def draws_nutpie(dims: int, draws: int, seed: int) -> np.ndarray:
    """(parameter, chain, draw) from nutpie on a PyMC model of D standard normals."""
    import nutpie
    import pymc as pm

    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0, shape=dims)
    compiled = nutpie.compile_pymc_model(model)
    trace = nutpie.sample(
        compiled,
        draws=draws,
        tune=TUNE,
        chains=CHAINS,
        cores=2,
        seed=seed,
        target_accept=TARGET_ACCEPT,
        progress_bar=False,
    )
    return np.moveaxis(trace["posterior"]["x"].values, -1, 0)


def draws_pymc(dims: int, draws: int, seed: int) -> np.ndarray:
    """The same model with PyMC's own NUTS."""
    import pymc as pm

    with pm.Model():
        pm.Normal("x", 0.0, 1.0, shape=dims)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trace = pm.sample(
                draws=draws,
                tune=TUNE,
                chains=CHAINS,
                cores=2,
                random_seed=seed,
                target_accept=TARGET_ACCEPT,
                nuts_sampler="pymc",
                progressbar=False,
                compute_convergence_checks=False,
            )
    return np.moveaxis(trace["posterior"]["x"].values, -1, 0)


def draws_numpyro(dims: int, draws: int, seed: int) -> np.ndarray:
    """NumPyro's NUTS (JAX, double precision), chains vectorised."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def model() -> None:
        numpyro.sample("x", dist.Normal(0.0, 1.0).expand([dims]).to_event(1))

    mcmc = MCMC(
        NUTS(model, target_accept_prob=TARGET_ACCEPT),
        num_warmup=TUNE,
        num_samples=draws,
        num_chains=CHAINS,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(seed))
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])
    return np.moveaxis(x, -1, 0)


def draws_iid(dims: int, draws: int, seed: int) -> np.ndarray:
    """Independent standard normal draws: the reference without autocorrelation."""
    return np.random.default_rng(seed).normal(size=(dims, CHAINS, draws))


def measure(values: np.ndarray) -> dict[str, float]:
    """Largest R-hat, how many exceed 1.01, and ESS per draw (medians over the parameters)."""
    import arviz as az
    import xarray as xr

    from embedcausal.diagnostics import RHAT_MAX
    from embedcausal.mixing import rhat_ess

    r, bulk, tail = rhat_ess(values)
    n = values.shape[1] * values.shape[2]
    ds = xr.Dataset({"x": (("d", "chain", "draw"), values)})
    folded = az.ess(ds, method="folded")["x"].values
    return {
        "max_r_hat": float(np.max(r)),
        "n_over": int((r > RHAT_MAX).sum()),
        "bulk_per_draw": float(np.median(bulk)) / n,
        "tail_per_draw": float(np.median(tail)) / n,
        "folded_per_draw": float(np.median(folded)) / n,
        "min_tail": float(np.min(tail)),
    }


def run(samplers: list[str], dims: list[int], draws: list[int], seeds: int) -> list[dict[str, Any]]:
    """Every run, in the order they ran (seed, then draws, then dims, then sampler)."""
    fns = {"nutpie": draws_nutpie, "pymc": draws_pymc, "numpyro": draws_numpyro, "iid": draws_iid}
    rows = []
    for seed in range(seeds):
        for n_draws in draws:
            for d in dims:
                for name in samplers:
                    t0 = time.perf_counter()
                    try:
                        values = fns[name](d, n_draws, seed)
                    except Exception as err:  # a missing peer (ImportError) fails its own rows
                        print(f"{name} D={d} draws={n_draws} seed={seed}: FAILED {err!r}")
                        continue
                    row = {"sampler": name, "dims": d, "draws": n_draws, "seed": seed}
                    row.update(measure(values), wall_s=time.perf_counter() - t0)
                    rows.append(row)
                    print(
                        f"{name:8s} D={d} 4x{n_draws} seed {seed}: max R-hat "
                        f"{row['max_r_hat']:.4f}, {row['n_over']} over 1.01, folded ESS/draw "
                        f"{row['folded_per_draw']:.2f}, {row['wall_s']:.1f} s",
                        flush=True,
                    )
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (sampler, dims, draws): medians over seeds and how many seeds passed."""
    out = []
    keys = sorted({(r["dims"], r["draws"]) for r in rows})
    for d, n in keys:
        for name in dict.fromkeys(r["sampler"] for r in rows):
            rs = [r for r in rows if (r["sampler"], r["dims"], r["draws"]) == (name, d, n)]
            if not rs:
                continue
            mx = [r["max_r_hat"] for r in rs]
            out.append(
                {
                    "sampler": name,
                    "dims": d,
                    "draws": f"{CHAINS} x {n}",
                    "max_r_hat": median(mx),
                    "range": f"{min(mx):.4f}–{max(mx):.4f}",
                    "passed": f"{sum(x <= 1.01 for x in mx)}/{len(rs)}",
                    "n_over": median(r["n_over"] for r in rs),
                    "bulk": median(r["bulk_per_draw"] for r in rs),
                    "folded": median(r["folded_per_draw"] for r in rs),
                    "tail": median(r["tail_per_draw"] for r in rs),
                }
            )
    return out


COLUMNS = [
    ("sampler", "sampler", ""),
    ("D", "dims", "d"),
    ("draws", "draws", ""),
    ("max R-hat (median)", "max_r_hat", ".4f"),
    ("range over seeds", "range", ""),
    ("seeds with max ≤ 1.01", "passed", ""),
    ("R-hats > 1.01", "n_over", ".0f"),
    ("bulk ESS / draw", "bulk", ".2f"),
    ("folded ESS / draw", "folded", ".2f"),
    ("tail ESS / draw", "tail", ".2f"),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--samplers", default=",".join(SAMPLERS))
    p.add_argument("--dims", default="900")
    p.add_argument("--draws", default="500,1000")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--json", type=Path, help="write every run and the summary here")
    a = p.parse_args(argv)
    samplers = [s for s in a.samplers.split(",") if s]
    unknown = sorted(set(samplers) - set(SAMPLERS))
    if unknown:
        p.error(f"--samplers {','.join(unknown)}: expected some of {','.join(SAMPLERS)}")
    info = machine_info()
    print(format_machine(info))
    dims = [int(x) for x in a.dims.split(",")]
    rows = run(samplers, dims, [int(x) for x in a.draws.split(",")], a.seeds)
    table = summarise(rows)
    print()
    print(f"N(0, I_D), {CHAINS} chains, {TUNE} tuning steps, target acceptance {TARGET_ACCEPT}:")
    print(format_table(table, COLUMNS))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"machine": info, "runs": rows, "summary": table}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
