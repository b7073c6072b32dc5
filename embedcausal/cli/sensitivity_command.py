"""The ``sensitivity`` command: the model file's ``[sensitivity]`` analyses, end to end."""

from __future__ import annotations

import argparse

from embedcausal.cli.conventions import AddCommand, emit_json, sampler_flags, show_progress
from embedcausal.errors import EmbedcausalError

__all__ = ["add_commands", "cmd_sensitivity"]


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """``embedcausal sensitivity``: run the model file's ``[sensitivity]`` analyses."""
    sampler_flags(args)
    if args.jobs < 1:
        raise EmbedcausalError(f"--jobs {args.jobs}: expected an integer >= 1")
    from embedcausal.sensitivity.sweep import run_sensitivity

    result = run_sensitivity(
        args.model,
        args.out,
        jobs=args.jobs,
        scheduler=args.scheduler,
        resume=args.resume,
        progress=show_progress(args),
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        only=args.only,
    )
    if args.json:
        emit_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def add_commands(add: AddCommand) -> None:
    """Register this group's subcommands."""
    sp = add("sensitivity", "Run the model file's [sensitivity] analyses.", cmd_sensitivity)
    sp.add_argument("model", metavar="MODEL", help="model file with a [sensitivity] table")
    sp.add_argument(
        "--out", required=True, metavar="DIR", help="sweep directory (one file per grid point)"
    )
    sp.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    sp.add_argument(
        "--scheduler", metavar="ADDR", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786"
    )
    sp.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    sp.add_argument("--draws", type=int, help="posterior draws per chain per grid point")
    sp.add_argument("--tune", type=int, help="tuning steps per chain per grid point")
    sp.add_argument("--chains", type=int, help="chains per grid point")
    sp.add_argument(
        "--only",
        action="append",
        choices=["confounder", "ovb", "priors", "refuters", "rho"],
        help="run only these analyses (repeatable; default: all in the model file)",
    )
