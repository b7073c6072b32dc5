"""The commands that draw saved results: ``plot`` (one figure) and ``report`` (HTML).

``plot`` draws one kind of figure of saved runs to a ``.png``, ``.svg`` or ``.pdf`` file;
``report`` writes one self-contained HTML page of runs and sensitivity sweeps
(:func:`embedcausal.html.write_report`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embedcausal.cli.conventions import AddCommand, emit_json

__all__ = ["PLOT_KINDS", "add_commands", "cmd_plot", "cmd_report"]


PLOT_KINDS = ("effects", "curve", "ppc", "diagnostics", "dag", "loo")
_MULTI_RUN_KINDS = ("effects", "loo")


def cmd_plot(args: argparse.Namespace) -> int:
    """``embedcausal plot``: draw one kind of figure of saved runs to ``--out``."""
    from embedcausal.plots.base import PlotError, figure_format, save_figure

    out = Path(args.out)
    figure_format(out)  # a bad suffix or directory fails before any run is read
    if not out.parent.is_dir():
        raise PlotError(f"--out {out}: directory {str(out.parent)!r} not found")
    kind = args.kind
    if len(args.runs) > 1 and kind not in _MULTI_RUN_KINDS:
        raise PlotError(
            f"--kind {kind} draws one run, got {len(args.runs)}; several runs go with "
            + " or ".join(f"--kind {k}" for k in _MULTI_RUN_KINDS)
        )
    if kind == "loo" and len(args.runs) < 2:
        raise PlotError(f"--kind loo compares runs: expected at least two, got {len(args.runs)}")
    runs = _load_runs(args.runs, log_likelihood=kind == "loo", lazy=kind in ("effects", "dag"))
    first = next(iter(runs.values()))
    if kind == "dag":
        from embedcausal.identification import node_roles
        from embedcausal.plots import draw_dag

        dag = first.spec.dag()
        draw_dag(dag, out, roles=node_roles(dag))
    else:
        fig = _plot_figure(kind, runs, args)
        save_figure(fig, out, dpi=args.dpi)
    if args.json:
        emit_json({"kind": kind, "runs": [str(r) for r in args.runs], "out": str(out)})
    else:
        print(f"wrote {out}")
    return 0


def _load_runs(paths: Sequence[str], *, log_likelihood: bool, lazy: bool) -> dict[str, Any]:
    from embedcausal.html import unique_names
    from embedcausal.runs import load_run

    names = unique_names([Path(p) for p in paths])
    return {
        name: load_run(p, log_likelihood=log_likelihood, lazy=lazy)
        for p, name in zip(paths, names, strict=True)
    }


def _plot_figure(kind: str, runs: dict[str, Any], args: argparse.Namespace):
    from embedcausal import plots

    run = next(iter(runs.values()))
    if kind == "effects":
        rope = tuple(args.rope) if args.rope else None
        return plots.plot_effects(runs if len(runs) > 1 else run, rope=rope, hdi_prob=args.hdi_prob)
    if kind == "curve":
        return plots.plot_effect_curve(run, points=args.points, hdi_prob=args.hdi_prob)
    if kind == "ppc":
        return plots.plot_ppc(run, by=args.by)
    if kind == "diagnostics":
        return plots.plot_diagnostics(run)
    from embedcausal.compare import compare_runs

    return plots.plot_loo(compare_runs(runs))


def cmd_report(args: argparse.Namespace) -> int:
    """``embedcausal report``: write the self-contained HTML report."""
    from embedcausal.html import write_report

    path = write_report(
        args.paths, args.out, title=args.title, curve=not args.no_curve, ppc=not args.no_ppc
    )
    if args.json:
        emit_json({"out": str(path), "inputs": [str(p) for p in args.paths]})
    else:
        print(f"wrote {path}")
    return 0


def add_commands(add: AddCommand) -> None:
    """Register this group's subcommands."""
    sp = add(
        "plot",
        "Draw a figure of saved runs: effects, effect curve, posterior predictive check, "
        "diagnostics, DAG, or a PSIS-LOO comparison.",
        cmd_plot,
    )
    sp.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run directories (several for --kind effects or loo)",
    )
    sp.add_argument(
        "--kind",
        required=True,
        choices=PLOT_KINDS,
        help="which figure: " + ", ".join(PLOT_KINDS),
    )
    sp.add_argument(
        "--out", required=True, metavar="FILE", help="output .png, .svg or .pdf (atomic write)"
    )
    sp.add_argument(
        "--by",
        default="mission",
        metavar="GROUPING",
        help="ppc: a grouping (mission, country, ...) or country_group (default mission)",
    )
    sp.add_argument(
        "--rope",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="effects: region of practical equivalence (probability scale)",
    )
    sp.add_argument("--hdi-prob", type=float, default=0.9, help="HDI probability (default 0.9)")
    sp.add_argument("--points", type=int, default=9, help="curve: grid points (default 9)")
    sp.add_argument("--dpi", type=int, default=150, help="resolution of .png files (default 150)")

    sp = add(
        "report",
        "Write one self-contained HTML report of runs and sensitivity sweeps.",
        cmd_report,
    )
    sp.add_argument(
        "paths",
        nargs="+",
        metavar="RUN_OR_SWEEP",
        help="run directories (embedcausal fit) and sweep directories (embedcausal sensitivity)",
    )
    sp.add_argument("--out", required=True, metavar="FILE.html", help="the HTML file to write")
    sp.add_argument("--title", help="page title (default: the model names)")
    sp.add_argument("--no-curve", action="store_true", help="skip the effect curves (faster)")
    sp.add_argument(
        "--no-ppc", action="store_true", help="skip the posterior predictive checks (faster)"
    )
