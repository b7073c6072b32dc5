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
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--scheduler")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    fits, summary = coverage_study(
        args.out,
        seeds=range(args.seeds),
        draws=args.draws,
        tune=args.draws,
        jobs=args.jobs,
        scheduler=args.scheduler,
        resume=args.resume,
        progress=True,
    )
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"fits with failed diagnostics: {int((~fits['diagnostics_ok']).sum() // 3)}")


if __name__ == "__main__":
    main()
