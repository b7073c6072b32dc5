"""``[estimand]``: the causal question (treatment, mediator, outcome, contrast, effects)."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, field_validator

from embedcausal.errors import shown
from embedcausal.spec.common import Name, Strict

EFFECTS = ("total", "nde", "nie")
_QUANTILE = re.compile(r"^p(\d{1,3}(\.\d+)?)$")
ContrastValue = str | float


class Contrast(Strict):
    """The contrast of the treatment: a quantile of the data (``"p25"``) or a number."""

    from_: ContrastValue = Field(alias="from")
    to: ContrastValue

    @field_validator("from_", "to")
    @classmethod
    def _check_value(cls, v: ContrastValue) -> ContrastValue:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(
                f"{v} is not a finite number; expected 'p0'..'p100' (e.g. 'p25') or a number"
            )
        if isinstance(v, str):
            m = _QUANTILE.match(v)
            if not m or not 0 <= float(m.group(1)) <= 100:
                raise ValueError(
                    f"{shown(v)} is not a quantile; expected 'p0'..'p100' (e.g. 'p25') or a number"
                )
        return v


class EstimandSection(Strict):
    """``[estimand]``: the causal question."""

    treatment: Name
    outcome: Name
    mediator: Name | None = None
    effects: list[Literal["total", "nde", "nie"]] | None = Field(None, min_length=1)
    #: None: 0 → 1 for a binary (0/1) treatment, p25 → p75 otherwise (resolved on the data)
    contrast: Contrast | None = None
    assume: list[str] = Field(default_factory=list)
    #: half-width of the region of practical equivalence, on the outcome's scale
    rope: float | None = Field(None, gt=0, allow_inf_nan=False)
    #: the mediator value m* (data units) of VanderWeele's four-way decomposition
    four_way: float | None = Field(None, allow_inf_nan=False)

    @property
    def effect_list(self) -> tuple[str, ...]:
        """The effects asked for (default: total, plus nde and nie when there is a mediator)."""
        if self.effects is not None:
            return tuple(self.effects)
        return EFFECTS if self.mediator else ("total",)
