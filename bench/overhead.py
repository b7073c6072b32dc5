"""What a sensitivity sweep and the g-computation cost next to one fit.

    python bench/overhead.py                  # both parts, 3 interleaved repeats
    python bench/overhead.py --repeats 1 --part sweep

Part ``sweep``: ``embedcausal fit models/sensitivity.toml`` against
``embedcausal sensitivity models/sensitivity.toml --only confounder`` (its 16-point
latent-confounder grid, compiled once, strengths swapped as data; 13 posteriors, as the four
points with ``on_outcome = 0`` share one fit), each in a fresh process, interleaved. Target:
the sweep costs at most 4 fits.

Part ``gcomp``: the seconds of each phase of ``embedcausal fit --verbose --json`` on the
canonical 9k panel (``bench/contestants.py``) and on the main analysis
(``models/full.toml``); the effects (g-computation) phase as a share of the whole fit.
Target: at most 10 % on the canonical panel.

Every run is a fresh process with this checkout first on the import path; medians and every
run's values are printed with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    REPO,
    Settings,
    build_panel,
    format_machine,
    format_table,
    machine_info,
    median,
    run_worker,
    worker_env,
)
from bench.contestants import model_file_text


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "embedcausal.cli", *args]


def timed(argv: list[str], log: Path) -> tuple[float, float, str]:
    """(wall seconds, peak GB, stdout) of one command in a fresh process."""
    stats = run_worker(argv, log=log, env=worker_env())
    text = log.read_text(errors="replace")
    if stats.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({stats.returncode}):\n{text[-2000:]}")
    return stats.elapsed_s, stats.peak_gb, text


def points_verdict(points: Path) -> str:
    """How the sweep's fitted points did on their own diagnostics (the point files' attrs)."""
    import xarray as xr

    attrs = []
    for path in sorted(points.glob("*.nc")):
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            attrs.append(dict(ds.attrs))
    if not attrs:
        return "no point files"
    passed = sum(int(a["diagnostics_ok"]) for a in attrs)
    return (
        f"{passed} of {len(attrs)} fitted points pass; over them max R-hat "
        f"{max(a['max_r_hat'] for a in attrs):.3f}, min bulk ESS "
        f"{min(a['min_ess_bulk'] for a in attrs):.0f}, min tail ESS "
        f"{min(a['min_ess_tail'] for a in attrs):.0f}, "
        f"{sum(int(a['divergences']) for a in attrs)} divergences"
    )


def part_sweep(tmp: Path, repeats: int) -> None:
    model = str(REPO / "models" / "sensitivity.toml")
    fits, sweeps = [], []
    # numba writes its compiled kernels to __pycache__ at first use: in a fresh checkout the
    # first run pays that (27.7 s against 22.9-24.7 s after, 2026-12-02); not timed
    w, _, _ = timed(cli("fit", model, "--out", str(tmp / "warmup"), "--json"), tmp / "f.log")
    print(f"  warm-up fit (not timed): {w:.1f} s")
    for i in range(repeats):
        w, _, _ = timed(cli("fit", model, "--out", str(tmp / f"fit{i}"), "--json"), tmp / "f.log")
        fits.append(w)
        argv = cli("sensitivity", model, "--only", "confounder", "--out", str(tmp / f"sw{i}"))
        w, _, _ = timed([*argv, "--json"], tmp / "s.log")
        sweeps.append(w)
        print(f"  repeat {i + 1}: fit {fits[-1]:.1f} s, 16-point sweep {sweeps[-1]:.1f} s")
        print("    " + points_verdict(tmp / f"sw{i}" / "confounder" / "points"))
    rows = [
        {"what": "one fit (embedcausal fit)", "wall": median(fits), "ratio": 1.0},
        {
            "what": "16-point confounder sweep",
            "wall": median(sweeps),
            "ratio": median(sweeps) / median(fits),
        },
    ]
    print(
        format_table(
            rows, [("what", "what", ""), ("wall s", "wall", ".1f"), ("x fit", "ratio", ".2f")]
        )
    )


def part_gcomp(tmp: Path, repeats: int) -> None:
    frame = build_panel(150, 60)
    csv = tmp / "panel.csv"
    frame.to_csv(csv, index=False)
    canon = tmp / "canonical.toml"
    canon.write_text(model_file_text(csv.name, Settings()))
    files = {"canonical 9k": canon, "models/full.toml": REPO / "models" / "full.toml"}
    rows = []
    for name, path in files.items():
        shares, walls, effects = [], [], []
        for i in range(repeats):
            out = tmp / f"{name.replace('/', '_')}{i}"
            _, _, text = timed(cli("fit", str(path), "--out", str(out), "--json"), tmp / "g.log")
            timings = json.loads(text[text.index("{") :])["timings"]
            total = sum(timings.values())
            walls.append(total)
            effects.append(timings.get("effects", 0.0))
            shares.append(timings.get("effects", 0.0) / total)
            print(
                f"  {name} repeat {i + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
            )
        rows.append(
            {
                "model": name,
                "fit": median(walls),
                "effects": median(effects),
                "share": 100 * median(shares),
            }
        )
    cols = [
        ("model", "model", ""),
        ("fit s", "fit", ".1f"),
        ("g-comp s", "effects", ".1f"),
        ("% of fit", "share", ".1f"),
    ]
    print(format_table(rows, cols))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["sweep", "gcomp", "all"], default="all")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(format_machine(machine_info()))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.part in ("sweep", "all"):
            part_sweep(tmp, args.repeats)
        if args.part in ("gcomp", "all"):
            part_gcomp(tmp, args.repeats)


if __name__ == "__main__":
    main()
