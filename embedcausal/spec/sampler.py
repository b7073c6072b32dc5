"""``[sampler]``: the MCMC settings of a model file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from embedcausal.spec.common import FiniteFloat, Strict

#: seeds the samplers take (numpy's SeedSequence and nutpie both accept 0 <= seed < 2**32)
SEED_LIMIT = 2**32


class SamplerSection(Strict):
    """``[sampler]``: MCMC settings."""

    backend: Literal["nutpie", "pymc"] = "nutpie"
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=10)
    chains: int = Field(4, ge=1, le=64)
    seed: int = Field(20201, ge=0, lt=SEED_LIMIT)
    target_accept: FiniteFloat = Field(0.8, gt=0, lt=1)
    save_warmup: bool = False
    adaptation: Literal["diag", "low_rank"] = "diag"
