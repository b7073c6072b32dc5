"""The ``simulate`` command: a panel under a rival mechanism, with ground-truth effects."""

from __future__ import annotations

import argparse
from pathlib import Path

from embedcausal.cli.conventions import AddCommand, emit_json
from embedcausal.errors import EmbedcausalError

__all__ = ["MAX_SIMULATED_ROWS", "add_commands", "cmd_simulate"]

#: rows a simulation may have at most (countries x missions)
MAX_SIMULATED_ROWS = 10_000_000


def _check_out_file(out: Path) -> None:
    """An output file path must not be a directory, nor lie below a file."""
    if out.is_dir():
        raise EmbedcausalError(f"--out {out}: is a directory; expected a file name like sim.csv")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise EmbedcausalError(f"--out {out}: {parent} is a file, not a directory")


def cmd_simulate(args: argparse.Namespace) -> int:
    """``embedcausal simulate``: write a simulated panel and its ground truth."""
    from embedcausal.files import make_parents, remove_empty
    from embedcausal.simulation import simulate

    for flag, value, least in (
        ("--countries", args.countries, 10),
        ("--missions", args.missions, 3),
        ("--seed", args.seed, 0),
    ):
        if value < least:
            raise EmbedcausalError(f"{flag} {value}: expected an integer >= {least}")
    if args.countries * args.missions > MAX_SIMULATED_ROWS:
        raise EmbedcausalError(
            f"--countries {args.countries} x --missions {args.missions}: "
            f"{args.countries * args.missions} rows; expected at most {MAX_SIMULATED_ROWS}"
        )
    out = Path(args.out)
    _check_out_file(out)
    sim = simulate(
        args.mechanism, seed=args.seed, n_countries=args.countries, n_missions=args.missions
    )
    try:
        created = make_parents(out)
    except OSError as exc:
        raise EmbedcausalError(
            f"--out {out}: cannot create its directory ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        data_path, truth_path = sim.save(out)
    except OSError as exc:
        remove_empty(created)
        raise EmbedcausalError(
            f"--out {out}: cannot write ({exc.strerror or type(exc).__name__}); expected a "
            "writable place for the .csv file"
        ) from None
    if args.json:
        emit_json({"data": str(data_path), "truth": str(truth_path), **sim.truth})
    else:
        t = sim.truth
        print(f"wrote {data_path} ({len(sim.data)} rows) and {truth_path}")
        print(
            f"truth ({t['treatment']} {t['contrast']['from']:g} -> {t['contrast']['to']:g}, "
            f"probability scale): total {t['total']:.4f}, NDE {t['nde']:.4f}, NIE {t['nie']:.4f}"
        )
    return 0


def add_commands(add: AddCommand) -> None:
    """Register this group's subcommands."""
    sp = add(
        "simulate",
        "Simulate a panel under a rival mechanism, with ground-truth effects.",
        cmd_simulate,
    )
    sp.add_argument(
        "mechanism",
        metavar="MECHANISM",
        help="institutional, personal, disposition or side_payment",
    )
    sp.add_argument(
        "--out",
        required=True,
        metavar="FILE.csv",
        help="data file to write; the truth goes beside it as FILE.truth.json",
    )
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--countries", type=int, default=80, help="number of countries (default 80)")
    sp.add_argument("--missions", type=int, default=30, help="number of missions (default 30)")
