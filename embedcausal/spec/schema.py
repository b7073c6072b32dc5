"""The model file's schema: its tables as strict pydantic models.

``[estimand]``, ``[sampler]`` and ``[sensitivity]`` have modules of their own; this one holds
``[data]``, ``[dag]``, ``[model]`` and the file as a whole. Every key is documented in
``docs/model-files.md``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from embedcausal.errors import shown
from embedcausal.spec.common import NAME_PATTERN, Name, Strict
from embedcausal.spec.estimand import EstimandSection
from embedcausal.spec.sampler import SamplerSection
from embedcausal.spec.sensitivity import SensitivitySection

MEDIATOR_FAMILIES = ("gaussian", "poisson", "negbinomial", "bernoulli", "ordered")
PRIOR_SLOTS: dict[str, tuple[str, str]] = {
    # slot -> (default, support)
    "intercept": ("Normal(0, 2.5)", "real"),
    "beta": ("Normal(0, 1)", "real"),
    "sigma": ("HalfNormal(1)", "positive"),
    "mediator_sigma": ("HalfNormal(1)", "positive"),
    "mediator_alpha": ("Exponential(1)", "positive"),
    "outcome_sigma": ("HalfNormal(1)", "positive"),
}
#: varying intercepts by these columns, those the data have, when model.varying is not set
DEFAULT_VARYING = ("country", "mission")
Parameterization = Literal["auto", "centered", "noncentered"]


class DataSection(Strict):
    """``[data]``: where the panel is and how DAG nodes map to its columns."""

    path: str
    columns: dict[Name, str] = Field(default_factory=dict)
    missing: Literal["error", "drop"] = "error"
    #: categorical covariates: each becomes indicators of its levels but the first (sorted)
    factors: list[Name] = Field(default_factory=list)
    key: list[str] = Field(default_factory=list)


class DagSection(Strict):
    """``[dag]``: the causal graph."""

    edges: list[str] = Field(default_factory=list)
    #: common causes of treatment, mediator and outcome: expanded into edges to each
    confounders: list[Name] = Field(default_factory=list)
    latent: list[Name] = Field(default_factory=list)
    constant_within: dict[Name, str] = Field(default_factory=dict)


class ModelSection(Strict):
    """``[model]``: the hierarchical PyMC model."""

    family: Literal["bernoulli", "gaussian"] = "bernoulli"
    link: Literal["logit", "probit"] = "logit"
    interaction: bool = False
    mediator_family: Literal["gaussian", "poisson", "negbinomial", "bernoulli", "ordered"] = (
        "gaussian"
    )
    mediator_centered: bool = False
    parameterization: Parameterization | dict[Name, Parameterization] = "auto"
    #: None: the groupings of DEFAULT_VARYING that the data have (ModelSpec.for_columns)
    varying: list[str] | None = None
    varying_slopes: dict[Name, str] = Field(default_factory=dict)
    within_between: list[Name] = Field(default_factory=list)
    within_group: str = "country"
    covariates: list[Name] = Field(default_factory=list)
    priors: dict[str, str] = Field(default_factory=dict)

    @field_validator("varying")
    @classmethod
    def _check_varying(cls, v: list[str] | None) -> list[str] | None:
        for item in v or ():
            parts = item.split("/")
            if not 1 <= len(parts) <= 2 or not all(re.match(NAME_PATTERN, p) for p in parts):
                raise ValueError(
                    f"{shown(item)} is not a grouping; expected a column name like 'country' or a "
                    "nesting 'outer/inner' like 'region/country'"
                )
        return v


class FileModel(Strict):
    name: str
    description: str = ""
    data: DataSection
    dag: DagSection
    estimand: EstimandSection
    model: ModelSection = Field(default_factory=ModelSection)
    sampler: SamplerSection = Field(default_factory=SamplerSection)
    sensitivity: SensitivitySection | None = None
