"""The commands that read model files: ``check``, ``identify`` and ``dag``.

``check`` validates model files against their data's header; ``identify`` says which effects
the DAG identifies, how and why not (``--implications`` tests the DAG on the data); ``dag``
prints the DAG as DOT or draws it.
"""

from __future__ import annotations

import argparse

from embedcausal.cli.conventions import AddCommand, emit_json
from embedcausal.errors import EmbedcausalError

__all__ = ["add_commands", "cmd_check", "cmd_dag", "cmd_identify"]


def cmd_check(args: argparse.Namespace) -> int:
    """``embedcausal check``: validate model files against their data's header."""
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
        emit_json(reports)
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
    """``embedcausal identify``: what each model file's DAG identifies, how, why not."""
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
        emit_json(out[0] if len(out) == 1 else out)
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
    """``embedcausal dag``: print a model file's DAG as DOT, or draw it to ``--out``."""
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
        emit_json({"file": str(args.model), "out": str(path)})
    else:
        print(f"wrote {path}")
    return 0


def add_commands(add: AddCommand) -> None:
    """Register this group's subcommands."""
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
