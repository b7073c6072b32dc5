"""A 16-point latent-confounder sweep vs 16 independent `embedcausal fit` runs.

The sweep compiles the confounder model once per worker and swaps the sensitivity parameters
as data; independent runs pay for Python start-up, model building and compilation each time.
Prints a table of wall-clock seconds and the ratio.

    python bench/sweep_vs_fits.py [--points 16] [--independent 16] [--draws 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
from _specs import sim_spec

from embedcausal.sensitivity.confounding import confounding_sweep
from embedcausal.simulation import simulate


def write_model_file(spec, path: Path) -> None:
    """A TOML model file equivalent to ``spec`` for the CLI runs."""
    import json

    raw = spec.raw
    lines = [f"name = {json.dumps(raw['name'])}"]
    for section in ("data", "dag", "estimand", "model", "sampler"):
        lines.append(f"[{section}]")
        for k, v in raw[section].items():
            if isinstance(v, dict):
                inner = ", ".join(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())
                lines.append(f"{k} = {{ {inner} }}")
            else:
                lines.append(f"{k} = {json.dumps(v)}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=16, help="grid points (a square number)")
    ap.add_argument("--independent", type=int, default=16, help="independent fits to time")
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--chains", type=int, default=2)
    args = ap.parse_args()
    side = round(args.points**0.5)
    grid = list(np.linspace(0.0, 1.5, side))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "disposition.csv"
        simulate("disposition", seed=1, n_countries=60, n_missions=20).save(csv)
        spec = sim_spec(
            csv,
            mediator=None,
            within=False,
            disposition=False,
            draws=args.draws,
            tune=args.draws,
            chains=args.chains,
        )
        t = time.perf_counter()
        res = confounding_sweep(
            spec, tmp / "sweep", on_treatment=grid, on_outcome=grid, benchmark=["threat"]
        )
        sweep_s = time.perf_counter() - t
        model = tmp / "model.toml"
        write_model_file(spec, model)
        times = []
        for i in range(args.independent):
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "embedcausal.cli",
                    "fit",
                    str(model),
                    "--out",
                    str(tmp / f"fit{i}"),
                    "--json",
                ],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - t)
    n = len(res.table) // len(set(res.table["effect"]))
    indep = float(np.sum(times)) * args.points / max(len(times), 1)
    print(f"{'method':<44}{'fits':>6}{'wall s':>10}{'s / fit':>10}")
    label = "sweep (compile once, parameters as data)"
    print(f"{label:<44}{n:>6}{sweep_s:>10.1f}{sweep_s / n:>10.2f}")
    label = f"independent `embedcausal fit` ({len(times)} timed)"
    print(f"{label:<44}{args.points:>6}{indep:>10.1f}{indep / args.points:>10.2f}")
    print(
        f"ratio independent / sweep: {indep / sweep_s:.1f}x  "
        f"(draws={args.draws}, chains={args.chains}, 2-core machine)"
    )


if __name__ == "__main__":
    main()
