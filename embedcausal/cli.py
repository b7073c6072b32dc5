"""The ``embedcausal`` command.

Conventions shared by every subcommand: ``--json`` prints machine-readable output on stdout;
exit status 0 on success and 2 on bad user input, with a one-line ``error: …`` on stderr (a
traceback only with ``--debug``); long-running steps show a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from embedcausal.errors import EmbedcausalError, one_line, shown

EPILOG = (
    "Exit status: 0 success, 2 bad input (one-line 'error: …' on stderr), 130 interrupted "
    "(Ctrl-C), 1 internal error. See docs/contract.md."
)
#: sampler flags: flag -> (dest in the namespace, key of [sampler])
SAMPLER_FLAGS = {
    "--draws": ("draws", "draws"),
    "--tune": ("tune", "tune"),
    "--chains": ("chains", "chains"),
    "--seed": ("seed", "seed"),
    "--sampler": ("sampler", "backend"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _emit_json(obj: Any) -> None:
    from embedcausal.serialize import dumps

    print(dumps(obj))


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "json", False) and sys.stderr.isatty()


def sampler_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[sampler]`` settings given as flags, each checked against the model-file schema.

    A bad value is blamed on its flag (``--draws -5``), not on the model file it overrides.
    """
    from pydantic import ValidationError

    from embedcausal.spec import SamplerSection

    out: dict[str, Any] = {}
    for flag, (dest, key) in SAMPLER_FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        try:
            SamplerSection.model_validate({key: value})
        except ValidationError as exc:
            msg = exc.errors(include_url=False)[0]["msg"]
            msg = msg.replace("Input should be", "expected a value").replace("Value error, ", "")
            raise EmbedcausalError(
                f"{flag} {shown(value)}: {msg} (it overrides sampler.{key} of the model file)"
            ) from None
        out[key] = value
    return out


# -- check ------------------------------------------------------------------------------------
def cmd_check(args: argparse.Namespace) -> int:
    import pandas as pd

    from embedcausal.data import check_groupings, read_table
    from embedcausal.identification import node_roles
    from embedcausal.spec import load_spec

    reports = []
    for path in args.models:
        spec = load_spec(path)
        dag = spec.dag()
        header = list(read_table(spec.data_path).columns)
        spec = spec.for_columns(header)  # an unset model.varying: the groupings present
        available = [n for n in dag.nodes if spec.column(n) in header]
        dag.check_data_columns(available, source=str(spec.data_path))
        check_groupings(spec, pd.DataFrame(columns=list(header)), str(spec.data_path))
        roles = node_roles(dag)
        reports.append(
            {
                "file": str(path),
                "name": spec.name,
                "nodes": {n: roles[n] for n in dag.nodes},
                "edges": [f"{a} -> {b}" for a, b in dag.edges],
                "from_confounders": spec.confounder_edges,
                "latent": sorted(dag.latent),
                "data": str(spec.data_path),
                "columns": {n: spec.column(n) for n in dag.observed},
                "groupings": list(spec.groupings),
                "effects": list(spec.estimand.effect_list),
            }
        )
    if args.json:
        _emit_json(reports)
        return 0
    for r in reports:
        print(f"{r['file']}: ok — {r['name']}")
        print("  nodes:  " + ", ".join(f"{n} ({role})" for n, role in r["nodes"].items()))
        print("  edges:  " + ", ".join(r["edges"]))
        if r["from_confounders"]:
            print("  of which from dag.confounders: " + ", ".join(r["from_confounders"]))
        print(f"  data:   {r['data']}")
        print("  columns: " + ", ".join(f"{n}={c}" for n, c in r["columns"].items()))
        print("  groupings: " + ", ".join(r["groupings"]) + "; effects: " + ", ".join(r["effects"]))
    return 0


# -- identify / dag ---------------------------------------------------------------------------
def cmd_identify(args: argparse.Namespace) -> int:
    from embedcausal.identification import identify
    from embedcausal.spec import load_spec

    out = []
    for path in args.models:
        spec = load_spec(path)
        if args.estimand in ("nde", "nie") and spec.estimand.mediator is None:
            raise EmbedcausalError(
                f"{path}: estimand.mediator: not set, but --estimand {args.estimand} needs a "
                "mediator; expected a mediator node in the model file, or --estimand ate"
            )
        estimands = (
            [args.estimand]
            if args.estimand
            else ["ate" if e == "total" else e for e in spec.estimand.effect_list]
        )
        for est in estimands:
            res = identify(spec, estimand=est)
            out.append({"file": str(path), **res.to_dict()})
        if args.implications:
            out[-1]["implications"] = _implications(spec)
    if args.json:
        _emit_json(out[0] if len(out) == 1 else out)
        return 0
    for r in out:
        status = "identified" if r["identified"] else "NOT identified"
        print(
            f"{r['file']}: {r['estimand']} of {r['treatment']} on {r['outcome']}: {status}"
            + (f" ({r['kind']})" if r.get("kind") else "")
        )
        if r.get("adjustment_set") is not None:
            print(f"  adjustment set: {{{', '.join(r['adjustment_set'])}}}")
        for key in ("frontdoor_set", "instruments"):
            if r.get(key):
                print(f"  {key.replace('_', ' ')}: {', '.join(r[key])}")
        if r.get("within_group"):
            print(f"  within group: {r['within_group']}")
        for p in r.get("open_paths", []):
            print(f"  open path: {p}")
        for a in r.get("assumptions", []):
            print(f"  assumes: {a}")
        if "implications" in r:
            imp = r["implications"]
            verdict = "CONTRADICTED by the data" if imp["contradicted"] else "not contradicted"
            print(f"  testable implications ({len(imp['tests'])}, Holm-adjusted): {verdict}")
            for t in imp["tests"]:
                given = ", ".join(t["given"]) if isinstance(t["given"], list) else t["given"]
                flag = "REJECTED" if t["rejected"] else "ok"
                print(
                    f"    {t['x']} _||_ {t['y']} | {given or '-'}: "
                    f"p_adj = {t['p_adjusted']:.3g} ({flag})"
                )
    return 0


def _implications(spec) -> dict:
    """Test the DAG's implied independences on the model file's data."""
    from embedcausal.data import load_data
    from embedcausal.identification import contradicted, test_implications

    dag = spec.dag()
    try:
        table = test_implications(
            dag, load_data(spec), columns={n: spec.column(n) for n in dag.observed}
        )
    except EmbedcausalError as exc:
        if str(spec.data_path) in str(exc):
            raise
        raise type(exc)(f"{spec.data_path}: {exc}") from None
    return {"contradicted": contradicted(table), "tests": table.to_dict(orient="records")}


def cmd_dag(args: argparse.Namespace) -> int:
    from embedcausal.identification import node_roles
    from embedcausal.plots import draw_dag
    from embedcausal.spec import load_spec

    dag = load_spec(args.model).dag()
    roles = node_roles(dag)  # the declared roles and the derived ones
    if args.out is None:
        print(dag.to_dot(roles=roles))
        return 0
    path = draw_dag(dag, args.out, roles=roles)
    if args.json:
        _emit_json({"file": str(args.model), "out": str(path)})
    else:
        print(f"wrote {path}")
    return 0


# -- simulate ---------------------------------------------------------------------------------
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
        _emit_json({"data": str(data_path), "truth": str(truth_path), **sim.truth})
    else:
        t = sim.truth
        print(f"wrote {data_path} ({len(sim.data)} rows) and {truth_path}")
        print(
            f"truth ({t['treatment']} {t['contrast']['from']:g} -> {t['contrast']['to']:g}, "
            f"probability scale): total {t['total']:.4f}, NDE {t['nde']:.4f}, NIE {t['nie']:.4f}"
        )
    return 0


# -- fit / effects / compare ------------------------------------------------------------------
def cmd_fit(args: argparse.Namespace) -> int:
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
        run = fit(plan, progress=_progress(args), keep_partial=args.keep_partial)
        try:
            run.save(out, overwrite=args.overwrite)
        except OSError as exc:
            raise EmbedcausalError(
                f"{out}: cannot write the run ({exc.strerror or type(exc).__name__}); nothing "
                "was written"
            ) from None
    if args.json:
        _emit_json(
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
    from embedcausal.report import format_effects
    from embedcausal.runs import load_run

    run = load_run(args.run, log_likelihood=False, lazy=True, allow_partial=args.allow_partial)
    if run.effects is None:
        raise EmbedcausalError(f"{args.run}: the run has no effects table (effects.csv)")
    if args.json:
        _emit_json(run.effects.to_dict(orient="records"))
    else:
        _partial_note(run)
        print(format_effects(run))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from embedcausal.compare import compare_runs
    from embedcausal.runs import load_run

    runs = {Path(d).name: load_run(d, allow_partial=args.allow_partial) for d in args.runs}
    result = compare_runs(runs)
    if args.json:
        _emit_json(result.to_dict())
    else:
        for run in runs.values():
            _partial_note(run)
        print(result.summary())
    return 0


# -- sensitivity ------------------------------------------------------------------------------
def cmd_sensitivity(args: argparse.Namespace) -> int:
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
        progress=_progress(args),
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        only=args.only,
    )
    if args.json:
        _emit_json(result.to_dict())
    else:
        print(result.summary())
    return 0


# -- plot / report (figures and the HTML report) -----------------------------------------------
PLOT_KINDS = ("effects", "curve", "ppc", "diagnostics", "dag", "loo")
_MULTI_RUN_KINDS = ("effects", "loo")


def cmd_plot(args: argparse.Namespace) -> int:
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
        _emit_json({"kind": kind, "runs": [str(r) for r in args.runs], "out": str(out)})
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
    from embedcausal.html import write_report

    path = write_report(
        args.paths, args.out, title=args.title, curve=not args.no_curve, ppc=not args.no_ppc
    )
    if args.json:
        _emit_json({"out": str(path), "inputs": [str(p) for p in args.paths]})
    else:
        print(f"wrote {path}")
    return 0


def _add_plot_and_report(add) -> None:
    """The ``plot`` and ``report`` subcommands (kept together, after the others)."""
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

    sp = add(
        "check",
        "Validate model files and summarise nodes, roles, edges and data columns.",
        cmd_check,
    )
    sp.add_argument("models", nargs="+", metavar="MODEL", help="model files (TOML)")

    sp = add(
        "identify",
        "Say which effects the model file's DAG identifies, how, and why not.",
        cmd_identify,
    )
    sp.add_argument("models", nargs="+", metavar="MODEL", help="model files (TOML)")
    sp.add_argument(
        "--estimand",
        choices=["ate", "nde", "nie"],
        help="effect to identify (default: every effect the model file asks for)",
    )
    sp.add_argument(
        "--implications",
        action="store_true",
        help="also test the DAG's implied conditional independences on the model file's data",
    )

    sp = add("dag", "Draw a model file's DAG (latent nodes dashed, roles coloured).", cmd_dag)
    sp.add_argument("model", metavar="MODEL", help="model file (TOML)")
    sp.add_argument("--out", metavar="FILE", help="output .svg or .png (default: print DOT)")

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
        choices=["confounder", "ovb", "priors", "refuters"],
        help="run only these analyses (repeatable; default: all in the model file)",
    )
    _add_plot_and_report(add)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
