"""``[sensitivity]``: which sensitivity analyses a model file asks for, and their settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from embedcausal.errors import shown
from embedcausal.spec.common import FiniteFloat, Name, Strict


def _correlation(value: float) -> float:
    if not -1.0 < value < 1.0:
        raise ValueError(
            f"{shown(value)} is not a correlation strictly between -1 and 1; expected |ρ| < 1"
        )
    return value


#: one value of the ρ grid: a finite number with |ρ| < 1
Correlation = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_correlation)]


class ConfounderSweep(Strict):
    """``[sensitivity.confounder]``: the latent-confounder grid."""

    on_treatment: list[FiniteFloat] = Field(min_length=1)
    on_outcome: list[FiniteFloat] = Field(min_length=1)
    on_mediator: list[FiniteFloat] = Field(default_factory=lambda: [0.0], min_length=1)
    benchmark: list[Name] = Field(default_factory=list)


class OVBSettings(Strict):
    """``[sensitivity.ovb]``: Cinelli–Hazlett omitted-variable bias for the linear model."""

    benchmark: list[Name] = Field(default_factory=list)
    kd: list[Annotated[float, Field(allow_inf_nan=False, gt=0)]] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0], min_length=1
    )
    q: FiniteFloat = Field(1.0, gt=0)
    alpha: FiniteFloat = Field(0.05, gt=0, lt=1)
    fixed_effects: list[str] = Field(default_factory=list)


class PriorSensitivity(Strict):
    """``[sensitivity.priors]``: power-scaling and alternative prior sets."""

    power_scaling: bool = True
    sets: dict[Name, dict[str, str]] = Field(default_factory=dict)


class RefuterSettings(Strict):
    """``[sensitivity.refuters]``: DoWhy refuters on a frequentist estimate."""

    methods: list[Literal["placebo_treatment", "random_common_cause", "data_subset"]] = Field(
        default_factory=lambda: ["placebo_treatment", "random_common_cause", "data_subset"]
    )
    simulations: int = Field(20, ge=2)


class SensitivitySection(Strict):
    """``[sensitivity]``: which sensitivity analyses to run."""

    confounder: ConfounderSweep | None = None
    ovb: OVBSettings | None = None
    priors: PriorSensitivity | None = None
    refuters: RefuterSettings | None = None
    #: the ρ grid of the mediator–outcome error correlation (``embedcausal.sensitivity.rho``)
    rho: list[Correlation] | None = Field(None, min_length=1)

    @field_validator("rho")
    @classmethod
    def _distinct_rho(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and len(set(v)) != len(v):
            twice = next(x for i, x in enumerate(v) if x in v[:i])
            raise ValueError(f"{shown(twice)} is listed twice; expected distinct values of ρ")
        return v
