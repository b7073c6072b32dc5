"""nutpie vs PyMC's NUTS on the same simulated panel: wall time and effective draws per second.

python bench/samplers.py [--draws 500] [--countries 80] [--missions 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _specs import sim_spec

from embedcausal.fit import fit
from embedcausal.simulation import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--countries", type=int, default=80)
    ap.add_argument("--missions", type=int, default=30)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "personal.csv"
        simulate("personal", seed=1, n_countries=args.countries, n_missions=args.missions).save(csv)
        for backend in ("nutpie", "pymc"):
            spec = sim_spec(
                csv, draws=args.draws, tune=args.draws, chains=args.chains, backend=backend
            )
            t = time.perf_counter()
            run = fit(spec)
            wall = time.perf_counter() - t
            d = run.diagnostics
            rows.append(
                (
                    backend,
                    wall,
                    d["min_ess_bulk"],
                    d["min_ess_bulk"] / wall,
                    d["max_r_hat"],
                    d["divergences"],
                )
            )
    n = args.countries * args.missions
    print(
        f"panel: {n} rows, mediation model, {args.chains} chains x {args.draws} draws "
        f"(+{args.draws} tune); wall includes compilation and g-computation"
    )
    print(f"{'sampler':<8}{'wall s':>9}{'min ESS':>9}{'ESS/s':>8}{'max R-hat':>11}{'div':>5}")
    for b, w, e, es, r, dv in rows:
        print(f"{b:<8}{w:>9.1f}{e:>9.0f}{es:>8.1f}{r:>11.3f}{dv:>5d}")


if __name__ == "__main__":
    main()
