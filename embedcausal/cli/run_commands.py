"""The commands on runs: ``fit`` one and save it, read its ``effects``, ``compare`` runs.

``fit`` exits 130 after Ctrl-C (writing nothing, or a run marked partial with
``--keep-partial``); ``effects`` and ``compare`` read saved runs (partial ones only with
``--allow-partial``, and say so).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from embedcausal.cli.conventions import (
    SAMPLER_FLAGS,
    AddCommand,
    emit_json,
    sampler_flags,
    show_progress,
)
from embedcausal.errors import EmbedcausalError, one_line

__all__ = ["add_commands", "cmd_compare", "cmd_effects", "cmd_fit"]


def cmd_fit(args: argparse.Namespace) -> int:
    """``embedcausal fit``: fit a model file and save the run (130 after Ctrl-C)."""
    from embedcausal.fitting import _validate_settings, fit, format_timings
    from embedcausal.plan import design
    from embedcausal.report import format_effects
    from embedcausal.runs import writing

    overrides = sampler_flags(args)
    out = Path(args.out)
    # the lock is taken and --out checked before the model is even read: a second writer, a
    # file in the way or a place that cannot be written fail at once, not after sampling
    with writing(out, overwrite=args.overwrite):
        plan = design(args.model, args.data).with_sampler(**overrides)
        flags = {key: flag for flag, (_dest, key) in SAMPLER_FLAGS.items() if key in overrides}
        _validate_settings(plan, names=flags)
        run = fit(plan, progress=show_progress(args), keep_partial=args.keep_partial)
        try:
            run.save(out, overwrite=args.overwrite)
        except OSError as exc:
            raise EmbedcausalError(
                f"{out}: cannot write the run ({exc.strerror or type(exc).__name__}); nothing "
                "was written"
            ) from None
    if args.json:
        emit_json(
            {
                "out": str(out),
                "complete": run.complete,
                "diagnostics": run.diagnostics.to_dict(),
                "effects": run.effects.to_dict(orient="records"),
                "timings": run.timings,
            }
        )
    else:
        print(f"wrote {out}" + ("" if run.complete else " (partial: complete = false)"))
        print(format_effects(run))
        if args.verbose:
            print(format_timings(run.timings))
    if not run.complete:
        print(
            f"error: interrupted: {one_line(run.interrupted)}; kept a partial run in {out} "
            "(complete = false in run.json; read it with --allow-partial)",
            file=sys.stderr,
        )
        return 130
    return 0


def _partial_note(run) -> None:
    if not run.complete:
        print(f"note: partial run (complete = false): {one_line(run.interrupted) or 'interrupted'}")


def cmd_effects(args: argparse.Namespace) -> int:
    """``embedcausal effects``: print a saved run's effects table."""
    from embedcausal.report import format_effects
    from embedcausal.runs import load_run

    run = load_run(args.run, log_likelihood=False, lazy=True, allow_partial=args.allow_partial)
    if run.effects is None:
        raise EmbedcausalError(f"{args.run}: the run has no effects table (effects.csv)")
    if args.json:
        emit_json(run.effects.to_dict(orient="records"))
    else:
        _partial_note(run)
        print(format_effects(run))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``embedcausal compare``: compare saved runs with PSIS-LOO."""
    from embedcausal.compare import compare_runs
    from embedcausal.runs import load_run

    runs = {Path(d).name: load_run(d, allow_partial=args.allow_partial) for d in args.runs}
    result = compare_runs(runs)
    if args.json:
        emit_json(result.to_dict())
    else:
        for run in runs.values():
            _partial_note(run)
        print(result.summary())
    return 0


def add_commands(add: AddCommand) -> None:
    """Register this group's subcommands."""
    sp = add("fit", "Fit a model file and save the run (posterior, effects, diagnostics).", cmd_fit)
    sp.add_argument("model", metavar="MODEL", help="model file (TOML)")
    sp.add_argument("--out", required=True, metavar="DIR", help="run directory to write")
    sp.add_argument(
        "--data", metavar="FILE", help="data file instead of the model file's data.path"
    )
    sp.add_argument("--draws", type=int, help="posterior draws per chain (default: model file)")
    sp.add_argument("--tune", type=int, help="tuning steps per chain (default: model file)")
    sp.add_argument("--chains", type=int, help="number of chains (default: model file)")
    sp.add_argument("--seed", type=int, help="random seed (default: model file)")
    sp.add_argument(
        "--sampler",
        choices=["nutpie", "pymc"],
        help="NUTS implementation (default: model file, else nutpie)",
    )
    sp.add_argument("--overwrite", action="store_true", help="replace an existing --out directory")
    sp.add_argument(
        "--keep-partial",
        action="store_true",
        help="on Ctrl-C, keep the draws made so far as a run marked complete = false "
        "(default: write nothing)",
    )
    sp.add_argument(
        "--verbose", action="store_true", help="print the seconds spent in each phase of the fit"
    )

    sp = add("effects", "Print the effects table of a saved run.", cmd_effects)
    sp.add_argument("run", metavar="DIR", help="run directory written by `embedcausal fit`")
    sp.add_argument(
        "--allow-partial", action="store_true", help="read a run kept with --keep-partial"
    )

    sp = add("compare", "Compare saved runs of rival mechanisms with PSIS-LOO.", cmd_compare)
    sp.add_argument("runs", nargs="+", metavar="DIR", help="run directories (at least two)")
    sp.add_argument(
        "--allow-partial", action="store_true", help="read runs kept with --keep-partial"
    )
