"""Does every shipped analysis converge at its own settings? And simulated 9k panels?

    python bench/convergence.py                       # every models/*.toml + simulated panels
    python bench/convergence.py --only models         # just the shipped model files
    python bench/convergence.py --only simulated --draws 500
    python bench/convergence.py --only simulated --seeds 3   # three sampler seeds per panel

Each model file is fitted with ``embedcausal fit MODEL --json`` at the file's own
``[sampler]`` settings, in a fresh process, one after another; the table gives the checks the
library applies (ArviZ's thresholds: max R-hat <= 1.01, bulk and tail ESS >= 100 per chain,
no divergences) and the wall time. The simulated part fits 150 x 60 panels (9,000 rows) of
three mechanisms with a Gaussian mediator, a within/between split of treatment and mediator
and ``varying = ["mission", "region/country"]`` (4 chains x 500 draws after the default
1000 tuning steps), and says
whether each effect's 90% interval covers the simulated truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import REPO, format_machine, format_table, machine_info, run_worker, worker_env

MECHANISMS = ("personal", "institutional", "side_payment")


def simulated_model(csv: Path, mediator: str, draws: int, tune: int, seed: int = 20201) -> str:
    """The model file of a simulated panel in the held-out shape."""
    edges = [
        "inst_ties -> participation",
        f"inst_ties -> {mediator}",
        f"{mediator} -> participation",
        "threat -> inst_ties",
        f"threat -> {mediator}",
        "threat -> participation",
        "alliance -> inst_ties",
        "alliance -> participation",
        "disposition -> inst_ties",
        f"disposition -> {mediator}",
        "disposition -> participation",
    ]
    return f"""name = "simulated {csv.stem}"
[data]
path = "{csv.name}"
key = ["country", "mission"]
[dag]
edges = {json.dumps(edges)}
latent = ["disposition"]
constant_within = {{ disposition = "country" }}
[estimand]
treatment = "inst_ties"
mediator = "{mediator}"
outcome = "participation"
[model]
mediator_family = "gaussian"
varying = ["mission", "region/country"]
within_between = ["inst_ties", "{mediator}"]
[sampler]
draws = {draws}
tune = {tune}
chains = 4
seed = {seed}
"""


def r_hat_parts(run_dir: Path) -> dict:
    """Max R-hat of location (rank-normalised split) and of scale (folded) over the posterior.

    ArviZ's R-hat (``method="rank"``) is the larger of the two; telling them apart says
    whether the chains disagree about where a parameter is or only about its spread.
    """
    import arviz as az

    from embedcausal import load_run

    post = load_run(run_dir, log_likelihood=False).idata["posterior"].to_dataset()
    out = {}
    for key, method in (("r_hat_bulk", "z_scale"), ("r_hat_folded", "folded")):
        r = az.rhat(post, method=method)
        out[key] = max(float(r[v].max()) for v in r.data_vars)
    return out


def fit_row(name: str, model: Path, out: Path, log: Path) -> dict:
    argv = [sys.executable, "-m", "embedcausal.cli", "fit", str(model), "--out", str(out)]
    stats = run_worker([*argv, "--json"], log=log, env=worker_env())
    text = log.read_text(errors="replace")
    if stats.returncode != 0:
        return {"model": name, "status": f"FAILED ({stats.returncode}): {text.strip()[-200:]}"}
    body = json.loads(text[text.index("{") :])
    d = body["diagnostics"]
    effects = {e["effect"]: e for e in body["effects"]}
    return {
        "model": name,
        "r_hat": d["max_r_hat"],
        **r_hat_parts(out),
        "ess_bulk": d["min_ess_bulk"],
        "ess_tail": d["min_ess_tail"],
        "div": d["divergences"],
        "ok": "yes" if d["ok"] else "NO",
        "wall": stats.elapsed_s,
        "gb": stats.peak_gb,
        "effects": effects,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["models", "simulated"])
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="sampler seeds per simulated panel (20201, 20202, ...; default 1)",
    )
    args = ap.parse_args()
    print(format_machine(machine_info()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.only in (None, "models"):
            for model in sorted((REPO / "models").glob("*.toml")):
                rows.append(fit_row(f"models/{model.name}", model, tmp / model.stem, tmp / "l"))
                print(f"  {rows[-1]['model']}: {rows[-1].get('ok', rows[-1].get('status'))}")
        if args.only in (None, "simulated"):
            from embedcausal.simulation import simulate

            for seed, mech in [(s, m) for s in range(args.seeds) for m in MECHANISMS]:
                sim = simulate(mech, seed=20201, n_countries=150, n_missions=60)
                csv = tmp / f"{mech}.csv"
                sim.save(csv)
                model = tmp / f"{mech}.toml"
                text = simulated_model(
                    csv, sim.truth["mediator"], args.draws, args.tune, 20201 + seed
                )
                model.write_text(text)
                name = f"simulated 9k: {mech}" + (
                    f" (seed {20201 + seed})" if args.seeds > 1 else ""
                )
                row = fit_row(name, model, tmp / f"sim-{mech}-{seed}", tmp / "l")
                if "effects" in row:
                    cover = [
                        e
                        for e in ("total", "nde", "nie")
                        if row["effects"][e]["hdi_low"]
                        <= sim.truth[e]
                        <= row["effects"][e]["hdi_high"]
                    ]
                    row["covered"] = f"{len(cover)}/3"
                rows.append(row)
                print(f"  {row['model']}: {row.get('ok', row.get('status'))}")
    cols = [
        ("model", "model", ""),
        ("max R-hat", "r_hat", ".3f"),
        ("of location", "r_hat_bulk", ".3f"),
        ("of scale", "r_hat_folded", ".3f"),
        ("min bulk ESS", "ess_bulk", ".0f"),
        ("min tail ESS", "ess_tail", ".0f"),
        ("divergences", "div", "d"),
        ("converged", "ok", ""),
        ("truth in 90% HDI", "covered", ""),
        ("wall s", "wall", ".1f"),
        ("peak GB", "gb", ".2f"),
    ]
    print(format_table(rows, cols))
    failed = [r["model"] for r in rows if r.get("ok") != "yes"]
    if failed:
        print("not converged: " + ", ".join(failed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
