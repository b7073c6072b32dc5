"""One point of the sensitivity sweep under nutpie's sampler variants: where a point's time goes.

    python bench/sweep_point.py                         # 2 points x 5 variants, 3 repeats
    python bench/sweep_point.py --repeats 1 --points 0.5:1.5
    python bench/sweep_point.py --variants "diag 0.9" --tune 300 --repeats 1 \
        --points 0.5:1.5,0:1.5,1.5:1.5,0:1,0.5:0.5,1:1     # a shorter tuning
    python bench/sweep_point.py --variants "diag 0.9" --tune 300 --draws 500 --repeats 1 \
        --points 0.5:1.5,0:1.5,1.5:1.5,1:0     # fewer draws: which parameters fail
    python bench/sweep_point.py --points 0:1,0.5:1.5,0:1.5 \
        --variants "diag 0.9,tune 300,warm tune 300,warm tune 150"   # warm starts

Each grid point of ``models/sensitivity.toml``'s latent-confounder sweep is fitted exactly as
``embedcausal sensitivity`` fits it (:func:`embedcausal.sensitivity.confounding.fit_point`: the
compiled model, the strengths swapped as data, U drawn back, the g-computation and the
diagnostics over every posterior element), with the file's 4 chains x (500 tuning steps + 1000
draws). Only the keyword arguments handed to ``nutpie.sample`` change, variant by variant:

* ``diag 0.9``: the file's own settings (nutpie's diagonal mass matrix, target acceptance 0.9);
* ``diag 0.8``: target acceptance 0.8 (the library's default);
* ``draw_diag 0.9``: a mass matrix from the draws' variances only (Stan's and PyMC's kind);
* ``low_rank 0.9``: nutpie's low-rank modified mass matrix;
* ``mclmc``: nutpie's *unadjusted* microcanonical Langevin sampler (experimental; no
  Metropolis correction, so its draws are biased by the step size: timed here to say what it
  would buy, not offered by embedcausal);
* ``tune 300``: 300 tuning steps instead of the file's 500, from nutpie's usual start;
* ``warm tune 300``, ``warm tune 150``: each chain starts at a draw of the grid's base point
  (0, 0), fitted first at the file's settings (the draw picked by the chain's own seed, so a
  repeat starts from the same draws), and tunes 300 or 150 steps.
  nutpie's ``init_mean`` does not do this for a PyMC model (0.16: ``CompiledPyMCModel`` ignores
  it and calls its ``initial_point_func``), so the bench replaces that function.

Per run: seconds in ``nutpie.sample``, leapfrog steps (gradients) per chain in tuning and in
the draws, and the point's own verdict (max R-hat, min bulk and tail ESS, divergences; for a
run that fails, the diagnostics' problems, which name the parameters at fault). The
variants run interleaved, repeat by repeat, in this one process (the model is compiled once,
before the first timed run); medians are printed with the machine.

Last, the floor of a gradient: the outcome's row likelihood alone (Bernoulli-logit with an
intercept, the file's coefficients and a country and a mission effect per row, the panel's
shape), its log density and gradient in one hand-fused numba loop, one thread: what the
model's cost per gradient could fall to if every other term were free.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, format_machine, format_table, machine_info

VARIANTS: dict[str, dict] = {
    "diag 0.9": {},
    "diag 0.8": {"target_accept": 0.8},
    "draw_diag 0.9": {"adaptation": "draw_diag"},
    "low_rank 0.9": {"adaptation": "low_rank"},
    "mclmc": {"sampler": "mclmc"},
    "tune 300": {"tune": 300},
    "warm tune 300": {"tune": 300, "warm": True},
    "warm tune 150": {"tune": 150, "warm": True},
}
#: the point whose draws start the warm variants' chains (fitted first, not timed)
BASE = (0.0, 0.0)
#: what each run records: from the sampler, and from the point's own diagnostics
STEPS = ("sample_s", "tune_steps", "draw_steps")
ATTRS = ("max_r_hat", "min_ess_bulk", "min_ess_tail", "divergences")


class Recorder:
    """Wraps ``nutpie.sample``: adds a variant's keyword arguments, records time and steps.

    With ``keep_draws`` set it also keeps the draws as flat unconstrained vectors
    (``self.pool``); a variant with ``warm`` starts each chain at one of them.
    """

    def __init__(self, sample):
        self.sample = sample
        self.extra: dict = {}
        self.last: dict = {}
        self.keep_draws = False
        self.pool = None  # (draws, n_dim) once the base point is fitted

    def __call__(self, compiled, *args, **kwargs):
        extra = dict(self.extra)
        if extra.pop("warm", False):
            compiled = dataclasses.replace(compiled, initial_point_func=self._from_pool())
        kwargs.update(extra, blocking=True, save_warmup=True, store_unconstrained=self.keep_draws)
        start = time.perf_counter()
        trace = self.sample(compiled, *args, **kwargs)
        seconds = time.perf_counter() - start
        if self.keep_draws:
            self.pool = flat_draws(compiled, trace)
        chains = trace["sample_stats"].sizes["chain"]
        self.last = {
            "sample_s": seconds,
            "tune_steps": float(trace["warmup_sample_stats"]["n_steps"].sum()) / chains,
            "draw_steps": float(trace["sample_stats"]["n_steps"].sum()) / chains,
        }
        # fit_point expects the non-blocking handle embedcausal asks for
        return _Done(trace)

    def _from_pool(self):
        """An initial-point function: the pool's draw picked by the chain's seed.

        nutpie hands each chain a seed derived from the run's (the same in every repeat);
        picking by arrival order instead made repeats differ, as the chains' threads ask in
        any order.
        """
        pool = self.pool

        def initial_point(seed):
            return pool[int(seed) % len(pool)].copy()

        return initial_point


def flat_draws(compiled, trace):
    """Every draw, flattened in the order of the compiled model's unconstrained vector
    (``shape_info``'s names; the first ``n_dim`` values are the free ones): (draws, n_dim)."""
    import numpy as np

    groups = (trace["unconstrained_posterior"], trace["posterior"])
    names = compiled.shape_info[0]
    values, size = [], 0
    for n in names:
        if size == compiled.n_dim:
            break
        group = next(g for g in groups if n in g)
        v = np.asarray(group[n].stack(sample=("chain", "draw")).transpose("sample", ...), float)
        values.append(v.reshape(v.shape[0], -1))
        size += values[-1].shape[1]
    if size != compiled.n_dim:  # the free variables do not end where the vector does
        raise RuntimeError(f"flat_draws: {size} values, the model has {compiled.n_dim}")
    return np.concatenate(values, axis=1)


class _Done:
    def __init__(self, trace):
        self.trace = trace

    def wait(self):
        return self.trace


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--points", default="0.5:1.5,0:1.5", help="on_treatment:on_outcome, ...")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tune", type=int, help="tuning steps (default: the file's)")
    p.add_argument("--draws", type=int, help="draws a chain (default: the file's)")
    args = p.parse_args()
    points = [tuple(float(x) for x in s.split(":")) for s in args.points.split(",")]
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; expected some of {list(VARIANTS)}")

    import nutpie

    import embedcausal as ec
    from embedcausal.sensitivity.confounding import fit_point

    print(format_machine(machine_info()))
    recorder = Recorder(nutpie.sample)
    nutpie.sample = recorder
    d = ec.design(REPO / "models" / "sensitivity.toml")
    if args.tune is not None:
        d = d.with_sampler(tune=args.tune)
    if args.draws is not None:
        d = d.with_sampler(draws=args.draws)
    s = d.spec.sampler
    print(f"models/sensitivity.toml: {s.chains} chains x ({s.tune} tuning + {s.draws} draws)")

    def run(point, variant):
        recorder.extra = VARIANTS[variant]
        params = {"on_treatment": point[0], "on_outcome": point[1], "on_mediator": 0.0}
        ds = fit_point(d, params)
        problems = ds.attrs["diagnostics_problems"]
        return {**recorder.last, **{k: ds.attrs[k] for k in ATTRS}, "problems": problems}

    # compiles the model and warms numba's caches, not timed; keeps the base point's draws
    # (stored unconstrained too) only when a warm variant will start from them
    recorder.keep_draws = any(VARIANTS[v].get("warm") for v in variants)
    run(BASE, "diag 0.9")
    recorder.keep_draws = False
    runs: dict[tuple, list[dict]] = {}
    for i in range(args.repeats):
        for point in points:
            for variant in variants:
                r = run(point, variant)
                runs.setdefault((point, variant), []).append(r)
                print(
                    f"  repeat {i + 1} {point} {variant}: {r['sample_s']:.1f} s, "
                    f"{r['tune_steps']:.0f} + {r['draw_steps']:.0f} steps a chain, "
                    f"R-hat {r['max_r_hat']:.3f}, ESS {r['min_ess_bulk']:.0f}/"
                    f"{r['min_ess_tail']:.0f}, {r['divergences']} div."
                    + (f"\n    problems: {r['problems']}" if r["problems"] else ""),
                    flush=True,
                )
    cores = min(s.chains, os.cpu_count() or 1)  # as embedcausal runs the chains
    rows = []
    for (point, variant), rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in (*STEPS, *ATTRS)}
        gradients = med["tune_steps"] + med["draw_steps"]  # a chain's
        rows.append(
            {
                "point": f"({point[0]:g}, {point[1]:g})",
                "variant": variant,
                **med,
                "ms": 1e3 * med["sample_s"] * cores / s.chains / gradients,
                "ess_s": med["min_ess_bulk"] / med["sample_s"],
            }
        )
    cols = [
        ("point", "point", ""),
        ("variant", "variant", ""),
        ("sample s", "sample_s", ".1f"),
        ("tune steps/chain", "tune_steps", ".0f"),
        ("draw steps/chain", "draw_steps", ".0f"),
        ("ms/gradient/core", "ms", ".3f"),
        ("max R-hat", "max_r_hat", ".3f"),
        ("min bulk ESS", "min_ess_bulk", ".0f"),
        ("min tail ESS", "min_ess_tail", ".0f"),
        ("divergences", "divergences", ".0f"),
        ("bulk ESS/s", "ess_s", ".1f"),
    ]
    print(f"medians of {args.repeats} repeats")
    print(format_table(rows, cols))
    print(
        "one log density + gradient of the outcome's rows alone, hand-fused (numba, 1 thread): "
        f"{fused_floor(d):.3f} ms"
    )


def fused_floor(d, evaluations: int = 5000) -> float:
    """Milliseconds per log density + gradient of the Bernoulli-logit rows, fused by hand."""
    import numba
    import numpy as np

    @numba.njit(fastmath=True)
    def logp_grad(b0, b, ac, am, X, c, m, y, gb, gac, gam):  # pragma: no cover
        lp = 0.0
        g0 = 0.0
        gb[:] = 0.0
        gac[:] = 0.0
        gam[:] = 0.0
        for i in range(X.shape[0]):
            e = b0 + ac[c[i]] + am[m[i]]
            for j in range(X.shape[1]):
                e += X[i, j] * b[j]
            t = np.exp(-abs(e))
            lp += y[i] * e - max(e, 0.0) - np.log1p(t)
            r = y[i] - (1.0 / (1.0 + t) if e > 0 else t / (1.0 + t))
            g0 += r
            gac[c[i]] += r
            gam[m[i]] += r
            for j in range(X.shape[1]):
                gb[j] += X[i, j] * r
        return lp, g0

    data = d.data
    rng = np.random.default_rng(0)
    n, k = data.n_obs, len(data.y_predictors)
    n_c, n_m = len(data.coords["country"]), len(data.coords["mission"])
    X = rng.normal(size=(n, k))
    c, m = rng.integers(0, n_c, n), rng.integers(0, n_m, n)
    y = rng.integers(0, 2, n).astype(np.float64)
    b, ac, am = 0.1 * rng.normal(size=k), 0.5 * rng.normal(size=n_c), 0.5 * rng.normal(size=n_m)
    grads = np.zeros(k), np.zeros(n_c), np.zeros(n_m)
    logp_grad(0.1, b, ac, am, X, c, m, y, *grads)  # compile
    start = time.perf_counter()
    for _ in range(evaluations):
        logp_grad(0.1, b, ac, am, X, c, m, y, *grads)
    return 1e3 * (time.perf_counter() - start) / evaluations


if __name__ == "__main__":
    main()
