"""The ``embedcausal`` command: its parser, the dispatch to a subcommand, the exit status.

Exit status 0 on success and 2 on bad user input, with a one-line ``error: …`` on stderr (a
traceback only with ``--debug``); 130 when interrupted (Ctrl-C); 1 on an internal error, in one
line too. Each group of subcommands lives in its own module and registers itself
(``add_commands``), in the order ``--help`` lists them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from embedcausal.cli import (
    figure_commands,
    model_commands,
    run_commands,
    sensitivity_command,
    simulate_command,
)
from embedcausal.errors import EmbedcausalError, one_line

__all__ = ["EPILOG", "build_parser", "main"]

EPILOG = (
    "Exit status: 0 success, 2 bad input (one-line 'error: …' on stderr), 130 interrupted "
    "(Ctrl-C), 1 internal error. See docs/contract.md."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    p = _Parser(
        prog="embedcausal",
        description="Bayesian causal models of coalition participation: check model files, "
        "identify effects, fit hierarchical models, read mechanism effects, run sensitivity "
        "analyses.",
        epilog=EPILOG,
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str, func) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help, epilog=EPILOG)
        sp.set_defaults(func=func)
        sp.add_argument("--json", action="store_true", help="print machine-readable JSON")
        sp.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
        return sp

    for group in (
        model_commands,
        simulate_command,
        run_commands,
        sensitivity_command,
        figure_commands,
    ):
        group.add_commands(add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``embedcausal`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EmbedcausalError as exc:
        if args.debug:
            raise
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        detail = f": {one_line(str(exc), 300)}" if str(exc) else ""
        tail = "; no run was written" if args.command == "fit" else ""
        print(f"error: interrupted{detail}{tail}", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the traceback with --debug
        if args.debug:
            raise
        print(
            f"error: internal error ({type(exc).__name__}: {one_line(str(exc), 300)}); "
            "rerun with --debug for the traceback and report it",
            file=sys.stderr,
        )
        return 1
