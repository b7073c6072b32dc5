"""Where the memory of a fit goes: RSS after each phase, peak within it, peak so far.

    python bench/memory.py [--contestant embedcausal|pymc-nutpie] [--countries 150
        --missions 60 --draws 1000 --tune 1000 --chains 4] [--save] [--json out.json]

Each contestant runs in a fresh process (this script re-runs itself with ``--worker``) on the
canonical 9k panel of ``bench/peers.py`` (the same CSV, model file and hand-written model as
``bench/contestants.py``). The worker reads its own memory from ``/proc/self/status`` after
each phase: ``VmRSS`` (resident now) and ``VmHWM`` (the kernel's high-water mark), and resets
the high-water mark before each phase (``/proc/self/clear_refs`` = 5), so *phase peak* is the
largest RSS inside that phase and *peak so far* the largest since the process started. nutpie
samples in threads of the same process, so one process is the whole fit.

For embedcausal the phases are the fit's own (``Timer`` phases: design, build, compile,
sample per part, log-likelihood, diagnostics, effects) plus the steps between them (trace
assembly, data groups), found by wrapping the functions that :func:`embedcausal.fit` calls;
the imports are measured one package at a time first, in the order the bench worker imports
them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import REPO, Settings, build_panel, format_table, worker_env

MB = 1024**2


def _status() -> dict[str, float]:
    text = Path("/proc/self/status").read_text()
    return {
        k: int(re.search(rf"{k}:\s+(\d+)", text).group(1)) * 1024 / MB  # type: ignore[union-attr]
        for k in ("VmRSS", "VmHWM")
    }


def _pss() -> float:
    try:
        text = Path("/proc/self/smaps_rollup").read_text()
        return int(re.search(r"Pss:\s+(\d+)", text).group(1)) * 1024 / MB  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return float("nan")


def _malloc_trim() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Recorder:
    """Rows ``(phase, RSS after, phase peak, peak so far, Δ RSS)`` in MB."""

    def __init__(self, trim: bool = False) -> None:
        self.trim = trim
        self.rows: list[dict[str, Any]] = []
        self.peak = _status()["VmHWM"]
        self.last = _status()["VmRSS"]
        self.depth = 0
        _reset_peak()

    def mark(self, name: str, seconds: float = float("nan")) -> None:
        s = _status()
        self.peak = max(self.peak, s["VmHWM"])
        self.rows.append(
            {
                "phase": name,
                "rss_mb": s["VmRSS"],
                "phase_peak_mb": s["VmHWM"],
                "peak_so_far_mb": self.peak,
                "delta_mb": s["VmRSS"] - self.last,
                "pss_mb": _pss(),
                "seconds": seconds,
            }
        )
        self.last = s["VmRSS"]
        if self.trim:  # what glibc holds freed but not returned to the system
            _malloc_trim()
            self.rows[-1]["trimmed_mb"] = _status()["VmRSS"] - s["VmRSS"]
            self.last = _status()["VmRSS"]
        _reset_peak()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        # nested phases (a wrapped function inside a Timer phase) are recorded by the
        # outermost only, so that the rows add up
        self.depth += 1
        t = time.perf_counter()
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                self.mark(name, time.perf_counter() - t)

    def wrap(self, module: Any, attr: str, name: str | None = None) -> None:
        fn: Callable[..., Any] = getattr(module, attr)

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name or attr):
                return fn(*args, **kwargs)

        setattr(module, attr, wrapped)


# -- workers ----------------------------------------------------------------------------------


def _imports(rec: Recorder, modules: tuple[str, ...]) -> None:
    for m in modules:
        with rec.phase(f"import {m}"):
            importlib.import_module(m)


def work_embedcausal(rec: Recorder, csv: Path, workdir: Path, s: Settings, save: bool) -> None:
    import contestants

    _imports(rec, contestants.CONTESTANTS["embedcausal"].imports)
    import pandas as pd

    with rec.phase("read csv"):
        frame = pd.read_csv(csv)
        contestants.setup_embedcausal(s, workdir, csv)

    import embedcausal.fitting as fitting
    import embedcausal.run as run_mod
    import embedcausal.samplers as samplers
    import embedcausal.timing as timing

    # every Timer phase of the fit becomes a row (sample/compile once per part)
    original_phase = timing.Timer.phase

    @contextlib.contextmanager
    def phase(self: Any, name: str) -> Iterator[None]:
        with original_phase(self, name), rec.phase(name):
            yield

    timing.Timer.phase = phase  # type: ignore[method-assign]
    # steps between the Timer phases
    rec.wrap(fitting, "assemble", "assemble DataTree")
    rec.wrap(fitting, "_validate_settings", "validate settings")
    rec.wrap(fitting, "data_groups", "data groups (builds run.model)")
    rec.wrap(fitting, "package_versions")
    rec.wrap(samplers, "structure_key")
    del run_mod

    run = contestants.embedcausal_fit(workdir / "model.toml", frame)
    rec.mark("fit: the rest (Run, returned)")
    with rec.phase("draws for the bench (copy)"):
        names = contestants._free_parameters(run.posterior, len(frame))
        draws = contestants.draws_from_dataset(run.posterior, names)
    del draws
    if save:
        with rec.phase("save run directory"):
            run.save(workdir / "run")


def work_nutpie(rec: Recorder, csv: Path, workdir: Path, s: Settings, save: bool) -> None:
    import contestants
    from _common import design

    _imports(rec, contestants.CONTESTANTS["pymc-nutpie"].imports)
    import nutpie
    import pandas as pd

    with rec.phase("read csv"):
        frame = pd.read_csv(csv)
    with rec.phase("design"):
        d = design(frame)
    with rec.phase("build"):
        model = contestants.build_pymc_model(d)
    with rec.phase("compile"):
        compiled = nutpie.compile_pymc_model(model)
    with rec.phase("sample"):
        idata = contestants.sample_nutpie(compiled, s)
    with rec.phase("draws for the bench (copy)"):
        names = [rv.name for rv in model.free_RVs]
        draws = contestants.draws_from_dataset(idata["posterior"], names)
    del draws


WORKERS = {"embedcausal": work_embedcausal, "pymc-nutpie": work_nutpie}


def worker(args: argparse.Namespace) -> None:
    rec = Recorder(trim=args.trim)
    rec.mark("python + bench helpers")
    s = Settings(draws=args.draws, tune=args.tune, chains=args.chains)
    try:
        WORKERS[args.contestant](rec, args.csv, args.workdir, s, args.save)
    finally:
        rec.mark("end")
        Path(args.out).write_text(json.dumps(rec.rows))


# -- parent -----------------------------------------------------------------------------------


COLUMNS = [
    ("phase", "phase", ""),
    ("RSS after MB", "rss_mb", ".0f"),
    ("Δ MB", "delta_mb", "+.0f"),
    ("phase peak MB", "phase_peak_mb", ".0f"),
    ("peak so far MB", "peak_so_far_mb", ".0f"),
    ("PSS after MB", "pss_mb", ".0f"),
    ("s", "seconds", ".1f"),
]
TRIM_COLUMN = ("malloc_trim MB", "trimmed_mb", "+.0f")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contestant", default="embedcausal,pymc-nutpie")
    ap.add_argument("--countries", type=int, default=150)
    ap.add_argument("--missions", type=int, default=60)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--save", action="store_true", help="also save embedcausal's run directory")
    ap.add_argument(
        "--trim",
        action="store_true",
        help="call malloc_trim(0) after each phase and report what it returned (diagnosis)",
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ec-memory-") as tmp:
        csv = Path(tmp) / "panel.csv"
        build_panel(args.countries, args.missions).to_csv(csv, index=False)
        for name in args.contestant.split(","):
            workdir = Path(tmp) / name
            workdir.mkdir()
            out = workdir / "memory.json"
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                "--contestant",
                name,
                "--csv",
                str(csv),
                "--workdir",
                str(workdir),
                "--out",
                str(out),
                "--draws",
                str(args.draws),
                "--tune",
                str(args.tune),
                "--chains",
                str(args.chains),
                *(["--save"] if args.save else []),
                *(["--trim"] if args.trim else []),
            ]
            proc = subprocess.run(cmd, env=worker_env(), cwd=REPO, capture_output=True, text=True)
            if proc.returncode != 0 or not out.exists():
                print(f"{name}: worker failed\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
                continue
            rows = json.loads(out.read_text())
            results[name] = rows
            peak = max(r["peak_so_far_mb"] for r in rows)
            print(f"\n## {name}: peak RSS {peak / 1024:.2f} GB ({peak:.0f} MB)\n")
            print(format_table(rows, [*COLUMNS, *([TRIM_COLUMN] if args.trim else [])]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
