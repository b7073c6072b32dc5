"""embedcausal's default fitting path against the same model by hand and by its peers.

    python bench/peers.py                      # part 1: six contestants, 150 x 60 panel, 3 repeats
    python bench/peers.py --quick              # smoke test: 30 x 10, 2 chains x 100 draws, 1 repeat
    python bench/peers.py --part scaling       # part 2: embedcausal alone at 2k ... 250k rows
    python bench/peers.py --part scaling --rows 2000,9000 --json out/scaling.json

Part ``peers`` fits the canonical joint model (see ``bench/contestants.py``) to one simulated
panel with every contestant, each run in a fresh process, the contestants interleaved
(A B C ... then A B C ... again), and prints the per-run values and the median per contestant.
Part ``scaling`` fits embedcausal alone at growing panel sizes and also reports the size of the
saved run directory. Nothing else should sample on the machine meanwhile: runs are sequential.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (
    SEED,
    Settings,
    build_panel,
    diagnostics,
    du_bytes,
    format_machine,
    format_table,
    load_draws,
    machine_info,
    median,
    run_worker,
    tail,
    worker_env,
    write_json,
)
from contestants import CONTESTANTS

WORKER = Path(__file__).resolve().with_name("contestants.py")

#: Panel sizes of the scaling part: rows -> (countries, missions).
SCALING_SIZES = {2000: (50, 40), 9000: (150, 60), 50000: (500, 100), 250000: (1250, 200)}
QUICK_SCALING_SIZES = {200: (20, 10), 300: (30, 10)}

PEER_COLUMNS = [
    ("contestant", "contestant", ""),
    ("rows", "rows", "d"),
    ("wall s", "wall_s", ".1f"),
    ("min bulk ESS", "min_ess_bulk", ".0f"),
    ("min tail ESS", "min_ess_tail", ".0f"),
    ("ESS/s", "ess_per_s", ".1f"),
    ("max R-hat", "max_r_hat", ".3f"),
    ("divergences", "divergences", ".0f"),
    ("peak RSS GB", "peak_rss_gb", ".2f"),
]
RUN_COLUMNS = [
    ("repeat", "repeat", "d"),
    *PEER_COLUMNS,
    ("import s", "import_s", ".1f"),
    ("peak PSS GB", "peak_pss_gb", ".2f"),
    ("procs", "max_processes", "d"),
    ("ok", "ok", ""),
]
SCALING_COLUMNS = [
    ("rows", "rows", "d"),
    ("countries x missions", "panel", ""),
    ("wall s", "wall_s", ".1f"),
    ("min bulk ESS", "min_ess_bulk", ".0f"),
    ("min tail ESS", "min_ess_tail", ".0f"),
    ("ESS/s", "ess_per_s", ".1f"),
    ("max R-hat", "max_r_hat", ".3f"),
    ("divergences", "divergences", ".0f"),
    ("peak RSS GB", "peak_rss_gb", ".2f"),
    ("run dir MB", "run_dir_mb", ".1f"),
    ("save s", "save_s", ".1f"),
]

WALL_NOTE = """\
wall: seconds from "data frame in memory" (CSV already read) to "posterior draws in memory",
  in a fresh process per run; imports are done before the clock starts ("import s" per run in
  the JSON, which also lists packages a library imports lazily inside the clock as
  imported_in_wall). What the clock includes:"""
WALL_INCLUDES = {
    "embedcausal": "the whole fit() call: identification (DoWhy), data validation and "
    "standardisation, model build, compilation, sampling, diagnostics and "
    "the g-computation of the effects",
    "pymc-nuts": "standardisation, model build, compilation (PyTensor) and sampling",
    "pymc-nutpie": "standardisation, model build, nutpie compilation (numba) and sampling",
    "pymc-nutpie-centred": "as pymc-nutpie, with centred 0/1 columns",
    "bambi": "formula parsing, build, compilation and sampling of both models",
    "numpyro": "standardisation, JIT compilation and sampling (float64)",
}
OTHER_NOTES = """\
ESS, R-hat: ArviZ {arviz} ess (bulk, tail; rank-normalised) and rhat over every element of every
  free parameter on the constrained scale (intercepts, coefficients, scales, standardised group
  effects z or Bambi's offsets; nothing per observation); min/max over all of them
  ({pooled}).
  ESS/s = min bulk ESS / wall. Divergences: post-warm-up divergent transitions, all chains.
peak RSS: the larger of (a) the peak of the summed RSS of the worker and all its descendants
  (PyMC's NUTS samples in worker processes), sampled every {interval} s with psutil, and (b) the
  kernel's high-water mark ru_maxrss of the largest single process (wait4). Pages that forked
  workers share count in every process in (a); the JSON also has the summed PSS.
sampler seeds: repeat r uses seed {seed}+r for every run of that repeat; the panel is shared."""


def footnotes(names: list[str], args: argparse.Namespace, arviz: str) -> str:
    """The footnotes for the contestants that ran."""
    wall = [WALL_NOTE]
    for n in names:
        wall.append(
            textwrap.fill(
                f"{n}: {WALL_INCLUDES[n]}.", 96, initial_indent="  - ", subsequent_indent="    "
            )
        )
    pooled = "Bambi: both models pooled" if "bambi" in names else "one model per run"
    other = OTHER_NOTES.format(arviz=arviz, interval=args.interval, seed=args.seed, pooled=pooled)
    return "\n".join([*wall, other])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults depend on ``--part`` and ``--quick``)."""
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--part", choices=("peers", "scaling"), default="peers")
    ap.add_argument("--quick", action="store_true", help="tiny panel, 2 chains x 100, 1 repeat")
    ap.add_argument("--countries", type=int, help="peers: countries (default 150; quick 30)")
    ap.add_argument("--missions", type=int, help="peers: missions (default 60; quick 10)")
    ap.add_argument(
        "--rows",
        help="scaling: comma-separated sizes among "
        f"{','.join(map(str, SCALING_SIZES))} (or CxM, e.g. 80x25); default all",
    )
    ap.add_argument(
        "--contestants",
        help=f"peers: comma-separated subset of {','.join(CONTESTANTS)} (default all, in order)",
    )
    ap.add_argument("--draws", type=int, help="default 1000 (scaling 500; quick 100)")
    ap.add_argument("--tune", type=int, help="default 1000 (scaling 500; quick 100)")
    ap.add_argument("--chains", type=int, help="default 4 (quick 2)")
    ap.add_argument("--repeats", type=int, help="interleaved repeats (default 3; scaling, quick 1)")
    ap.add_argument("--seed", type=int, default=SEED, help="panel seed and first sampler seed")
    ap.add_argument(
        "--numpyro-devices",
        type=int,
        help="XLA host devices for numpyro (default: the number of chains, so that "
        "chain_method='parallel' really runs in parallel; fewer makes NumPyro run them in turn)",
    )
    ap.add_argument("--timeout", type=float, help="kill a run after this many seconds")
    ap.add_argument("--interval", type=float, default=0.05, help="memory sampling period (s)")
    ap.add_argument(
        "--max-rss-gb",
        type=float,
        help="kill a run whose process tree holds more than this (default: 85%% of RAM), "
        "before the kernel's OOM killer picks a process of someone else",
    )
    ap.add_argument("--json", type=Path, help="also write every number to this JSON file")
    ap.add_argument("--keep", type=Path, help="keep the panel, logs, draws and runs here")
    args = ap.parse_args(argv)
    scaling = args.part == "scaling"
    if args.quick:
        defaults = {"countries": 30, "missions": 10, "draws": 100, "tune": 100, "chains": 2}
        defaults["repeats"] = 1
    else:
        n = 500 if scaling else 1000
        defaults = {"countries": 150, "missions": 60, "draws": n, "tune": n, "chains": 4}
        defaults["repeats"] = 1 if scaling else 3
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.numpyro_devices is None:
        args.numpyro_devices = args.chains
    if args.max_rss_gb is None:
        import psutil

        args.max_rss_gb = round(0.85 * psutil.virtual_memory().total / 1024**3, 1)
    return args


def run_once(
    name: str,
    csv: Path,
    settings: Settings,
    out: Path,
    args: argparse.Namespace,
    *,
    save_run: bool = False,
) -> dict[str, Any]:
    """One run of one contestant in a fresh process; the row of numbers it produced."""
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(WORKER), name, "--csv", str(csv), "--out", str(out)]
    argv += ["--draws", str(settings.draws), "--tune", str(settings.tune)]
    argv += ["--chains", str(settings.chains), "--seed", str(settings.seed)]
    if save_run:
        argv.append("--save-run")
    extra = {}
    if name == "numpyro":
        extra["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.numpyro_devices}"
    log = out / "worker.log"
    stats = run_worker(
        argv,
        log=log,
        env=worker_env(extra),
        interval_s=args.interval,
        timeout_s=args.timeout,
        max_rss_gb=args.max_rss_gb,
    )
    row: dict[str, Any] = {"contestant": name, "seed": settings.seed, "ok": False}
    result_file = out / "result.json"
    if result_file.is_file():
        result = json.loads(result_file.read_text())
        row.update({k: v for k, v in result.items() if k not in ("settings", "contestant")})
    if stats.timed_out:
        row["error"] = f"killed after {args.timeout} s"
    elif stats.over_memory:
        row["error"] = f"killed: process tree above --max-rss-gb {args.max_rss_gb} GB"
    elif stats.returncode != 0 and "error" not in row:
        row["error"] = f"worker exited with {stats.returncode}"
    if not row.get("ok"):
        row["ok"] = False
        row["log_tail"] = tail(log)
    row.update(
        peak_rss_gb=stats.peak_gb,
        peak_rss_sampled_gb=stats.peak_rss_gb,
        peak_pss_gb=stats.peak_pss_gb,
        ru_maxrss_gb=stats.ru_maxrss_gb,
        max_processes=stats.max_processes,
        process_s=stats.elapsed_s,
    )
    if row["ok"]:
        row.update(diagnostics(load_draws(out)))
        row["ess_per_s"] = row["min_ess_bulk"] / row["wall_s"]
        if save_run:
            disk, apparent = du_bytes(out / "run")
            row["run_dir_mb"] = disk / 1e6
            row["run_dir_apparent_mb"] = apparent / 1e6
    return row


def _label(row: dict[str, Any]) -> str:
    return f"{row['contestant']} {row['panel']}" if "panel" in row else row["contestant"]


def progress(row: dict[str, Any]) -> None:
    """One line per finished run, as it finishes."""
    if row["ok"]:
        print(
            f"  {_label(row):<28} repeat {row['repeat']}: wall {row['wall_s']:.1f} s, "
            f"min bulk ESS {row['min_ess_bulk']:.0f}, max R-hat {row['max_r_hat']:.3f}, "
            f"peak {row['peak_rss_gb']:.2f} GB",
            flush=True,
        )
    else:
        print(f"  {_label(row):<28} repeat {row['repeat']}: FAILED: {row.get('error')}")
        if row.get("log_tail"):
            print("    " + row["log_tail"].replace("\n", "\n    "))
        sys.stdout.flush()


def summarise(rows: list[dict[str, Any]], key: str, keys: list[str]) -> list[dict[str, Any]]:
    """Median per group (``key``) of the numeric columns ``keys`` over the runs that finished."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    out = []
    for value, runs in groups.items():
        ok = [r for r in runs if r["ok"]]
        med: dict[str, Any] = {key: value, "runs": len(runs), "ok_runs": len(ok)}
        med["ok_runs_label"] = f"{len(ok)}/{len(runs)}"
        for k in keys:
            med[k] = median(r.get(k) for r in ok) if ok else None
        for k in ("rows", "panel"):
            if k in runs[0]:
                med[k] = runs[0][k]
        out.append(med)
    return out


def part_peers(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Part 1: every contestant on one panel, interleaved repeats."""
    names = args.contestants.split(",") if args.contestants else list(CONTESTANTS)
    unknown = [n for n in names if n not in CONTESTANTS]
    if unknown:
        raise SystemExit(f"unknown contestant(s) {unknown}; expected some of {list(CONTESTANTS)}")
    frame = build_panel(args.countries, args.missions, seed=args.seed)
    csv = tmp / "panel.csv"
    frame.to_csv(csv, index=False)
    print(
        f"panel: {args.countries} countries x {args.missions} missions = {len(frame)} rows; "
        f"{args.chains} chains x ({args.tune} tune + {args.draws} draws); "
        f"{args.repeats} interleaved repeat(s); contestants: {', '.join(names)}\n",
        flush=True,
    )
    rows = []
    for rep in range(args.repeats):
        s = Settings(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed + rep)
        for name in names:
            row = run_once(name, csv, s, tmp / f"r{rep}-{name}", args)
            row["repeat"] = rep
            row.setdefault("rows", len(frame))
            rows.append(row)
            progress(row)
    keys = [k for _, k, f in PEER_COLUMNS if f and k != "rows"] + ["import_s", "peak_pss_gb"]
    medians = summarise(rows, "contestant", keys)
    print("\nper run:\n" + format_table(rows, RUN_COLUMNS))
    print(f"\nmedian over {args.repeats} repeat(s) (runs that finished):")
    print(format_table(medians, [*PEER_COLUMNS, ("ok runs", "ok_runs_label", "")]))
    return {
        "panel": {"countries": args.countries, "missions": args.missions},
        "runs": rows,
        "medians": medians,
    }


def scaling_sizes(spec: str | None, quick: bool) -> list[tuple[int, int]]:
    """(countries, missions) per panel for ``--rows`` (sizes of the table, or ``CxM``)."""
    table = QUICK_SCALING_SIZES if quick else SCALING_SIZES
    if not spec:
        return list(table.values())
    known = {**SCALING_SIZES, **QUICK_SCALING_SIZES}
    out = []
    for item in spec.split(","):
        item = item.strip().lower()
        try:
            if "x" in item:
                c, m = (int(v) for v in item.split("x"))
                out.append((c, m))
            else:
                out.append(known[int(item)])
        except (ValueError, KeyError):
            raise SystemExit(
                f"--rows {item!r}: expected one of {list(SCALING_SIZES)} or countries x missions "
                "such as 80x25"
            ) from None
    return out


def part_scaling(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Part 2: embedcausal alone at growing panel sizes, with the saved run's size."""
    sizes = scaling_sizes(args.rows, args.quick)
    print(
        f"embedcausal at {', '.join(f'{c}x{m}' for c, m in sizes)}; "
        f"{args.chains} chains x ({args.tune} tune + {args.draws} draws); "
        f"{args.repeats} interleaved repeat(s)\n",
        flush=True,
    )
    panels: dict[tuple[int, int], Path] = {}
    for c, m in sizes:
        csv = tmp / f"panel-{c}x{m}.csv"
        build_panel(c, m, seed=args.seed).to_csv(csv, index=False)
        panels[c, m] = csv
    rows = []
    for rep in range(args.repeats):
        s = Settings(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed + rep)
        for c, m in sizes:
            out = tmp / f"r{rep}-embedcausal-{c}x{m}"
            row = run_once("embedcausal", panels[c, m], s, out, args, save_run=True)
            row.update(repeat=rep, panel=f"{c}x{m}")
            row.setdefault("rows", c * m)
            rows.append(row)
            progress(row)
            if not args.keep:
                shutil.rmtree(out / "run", ignore_errors=True)
    keys = [k for _, k, f in SCALING_COLUMNS if f and k != "rows"]
    medians = summarise(rows, "panel", keys)
    if args.repeats > 1:
        print("\nper run:\n" + format_table(rows, [RUN_COLUMNS[0], *SCALING_COLUMNS]))
    print(f"\nembedcausal, median over {args.repeats} repeat(s):")
    print(format_table(medians, [*SCALING_COLUMNS, ("ok runs", "ok_runs_label", "")]))
    return {"sizes": sizes, "runs": rows, "medians": medians}


@contextmanager
def _workdir(keep: Path | None, part: str) -> Iterator[Path]:
    """A temporary directory, or a new directory under ``keep`` that stays."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="embedcausal-bench-") as name:
            yield Path(name)
    else:
        path = keep / f"{part}-{time.strftime('%Y%m%d-%H%M%S')}"
        path.mkdir(parents=True)
        yield path


def main(argv: list[str] | None = None) -> int:
    """Print the machine, run the chosen part, print the tables (and write the JSON)."""
    args = parse_args(argv)
    info = machine_info()
    import embedcausal

    info["embedcausal_path"] = str(Path(embedcausal.__file__).parent)
    print(format_machine(info))
    print(f"embedcausal from {info['embedcausal_path']}")
    print(f"numpyro: {args.numpyro_devices} XLA host device(s)\n")
    with _workdir(args.keep, args.part) as tmp:
        payload = part_peers(args, tmp) if args.part == "peers" else part_scaling(args, tmp)
        if args.keep:
            print(f"\nkept the panel(s), logs, draws and saved runs in {tmp}")
    names = sorted({r["contestant"] for r in payload["runs"]}, key=list(CONTESTANTS).index)
    print("\n" + footnotes(names, args, info["packages"]["arviz"]))
    if args.part == "scaling":
        print(
            "run dir MB: disk usage (like du) of the directory the run's save wrote (today\n"
            "  posterior.nc with the log-likelihood and effects, run.json, effects.csv); "
            "save s is not in wall."
        )
    if args.json:
        write_json(
            args.json,
            {"part": args.part, "machine": info, "options": vars(args), **payload},
        )
        print(f"\nwrote {args.json}")
    failed = sum(not r["ok"] for r in payload["runs"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
