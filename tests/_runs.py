"""A small fitted run saved once per test session (shared by the figure and report tests)."""

from __future__ import annotations

from pathlib import Path

from _specs import sim_spec

from embedcausal.fitting import fit
from embedcausal.simulation import simulate


def small_run_dir(root: Path) -> Path:
    """Simulate a 'personal ties' panel (20 countries x 10 missions), fit it with 2 x 50
    draws (enough for PSIS-LOO's 100), save the run under ``root/personal``."""
    csv = root / "personal.csv"
    simulate("personal", seed=1, n_countries=20, n_missions=10).save(csv)
    run = fit(sim_spec(csv), draws=50, tune=50, chains=2)
    return run.save(root / "personal")
