"""Interval coverage of the effects over many simulated seeds (see docs/validation.md).

python bench/coverage_study.py --out runs/coverage [--seeds 20] [--jobs 2] [--scheduler ADDR]
"""

from __future__ import annotations

import argparse

from embedcausal.validation import coverage_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--scheduler")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    fits, summary = coverage_study(
        args.out,
        seeds=range(args.seeds),
        draws=args.draws,
        tune=args.draws,
        chains=args.chains,
        jobs=args.jobs,
        scheduler=args.scheduler,
        resume=args.resume,
        progress=True,
    )
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    per_fit = fits.drop_duplicates(["mechanism", "seed"])
    print(f"fits with failed diagnostics: {int((~per_fit['diagnostics_ok']).sum())}")
    for check, n in per_fit["failed_checks"].str.split(",").explode().value_counts().items():
        if check:
            print(f"  failing {check}: {n}")


if __name__ == "__main__":
    main()
