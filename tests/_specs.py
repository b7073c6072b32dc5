"""Model-file dictionaries for simulated panels (shared by the recovery tests and bench/)."""

from __future__ import annotations

from pathlib import Path

from embedcausal.spec import ModelSpec

CONFOUNDERS = ["threat", "alliance"]


def sim_spec(
    csv: Path,
    *,
    mediator: str | None = "personal_ties",
    within: bool = True,
    disposition: bool = True,
    draws: int = 300,
    tune: int = 300,
    chains: int = 2,
    seed: int = 1,
    backend: str = "nutpie",
    varying: tuple[str, ...] = ("mission", "region/country"),
) -> ModelSpec:
    """A spec for a simulated panel: I -> M -> Y, I -> Y, threat confounds, optional latent U."""
    edges = [
        "inst_ties -> participation",
        "threat -> inst_ties",
        "threat -> participation",
        "alliance -> inst_ties",
        "alliance -> participation",
    ]
    if mediator:
        edges += [
            f"inst_ties -> {mediator}",
            f"{mediator} -> participation",
            f"threat -> {mediator}",
        ]
    dag: dict = {"edges": edges}
    if disposition:
        dag["edges"] = [
            *edges,
            "disposition -> inst_ties",
            "disposition -> participation",
            *([f"disposition -> {mediator}"] if mediator else []),
        ]
        dag["latent"] = ["disposition"]
        dag["constant_within"] = {"disposition": "country"}
    model: dict = {"varying": list(varying)}
    if within:
        model["within_between"] = ["inst_ties", *([mediator] if mediator else [])]
    estimand = {"treatment": "inst_ties", "outcome": "participation"}
    if mediator:
        estimand["mediator"] = mediator
    raw = {
        "name": f"simulated ({csv.stem})",
        "data": {"path": csv.name},
        "dag": dag,
        "estimand": estimand,
        "model": model,
        "sampler": {
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "seed": seed,
            "backend": backend,
        },
    }
    return ModelSpec.from_dict(raw, source=f"{csv.stem}.toml", base_dir=csv.parent)
