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
#: a string that reads as an attempt at a quantile (``p`` then digits and dots): never a level
_QUANTILE_LIKE = re.compile(r"^p[\d.]+$")
ContrastValue = str | float


def is_level(v: ContrastValue) -> bool:
    """True when a contrast end names a level of a categorical treatment (a string that is
    not a quantile such as ``"p25"``)."""
    return isinstance(v, str) and not _QUANTILE_LIKE.match(v)


class Contrast(Strict):
    """The contrast of the treatment: a quantile of the data (``"p25"``), a number, or (for a
    categorical treatment) the name of a level (``"control"``)."""

    from_: ContrastValue = Field(alias="from")
    to: ContrastValue

    @field_validator("from_", "to")
    @classmethod
    def _check_value(cls, v: ContrastValue) -> ContrastValue:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(
                f"{v} is not a finite number; expected 'p0'..'p100' (e.g. 'p25') or a number"
            )
        if isinstance(v, str) and not v.strip():
            raise ValueError(
                "is empty; expected 'p0'..'p100' (e.g. 'p25'), a number or a treatment level"
            )
        if isinstance(v, str) and not is_level(v):
            m = _QUANTILE.match(v)
            if not m or not 0 <= float(m.group(1)) <= 100:
                raise ValueError(
                    f"{shown(v)} is not a quantile; expected 'p0'..'p100' (e.g. 'p25') or a number"
                )
        return v

    @property
    def levels(self) -> tuple[str, str] | None:
        """(from, to) level names when both ends name levels of a categorical treatment."""
        if is_level(self.from_) and is_level(self.to):
            return str(self.from_), str(self.to)
        return None


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
