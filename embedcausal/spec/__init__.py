"""Model files: TOML in, a validated :class:`ModelSpec` out.

A model file states one causal question: the DAG of a rival mechanism, the estimand
(treatment, mediator, outcome, contrast), the hierarchical model, the sampler settings and
the sensitivity analyses. Validation is strict: unknown keys, wrong types, missing keys,
unknown node names, cycles, bad priors and missing data files are each a :class:`SpecError`
naming the file, the dotted key, the bad value and what was expected. Every key is
documented in ``docs/model-files.md``.

Modules: :mod:`~embedcausal.spec.schema` (the tables ``[data]``, ``[dag]``, ``[model]``),
:mod:`~embedcausal.spec.estimand`, :mod:`~embedcausal.spec.sampler`,
:mod:`~embedcausal.spec.sensitivity` (their own tables), :mod:`~embedcausal.spec.messages`
(validation errors in one line), :mod:`~embedcausal.spec.model_spec` (:class:`ModelSpec` and
the checks beyond types) and :mod:`~embedcausal.spec.loader` (:func:`load_spec`).
"""

from embedcausal.spec.estimand import EFFECTS, Contrast, EstimandSection
from embedcausal.spec.loader import MAX_FILE_BYTES, load_spec
from embedcausal.spec.model_spec import ModelSpec
from embedcausal.spec.sampler import SEED_LIMIT, SamplerSection
from embedcausal.spec.schema import (
    MEDIATOR_FAMILIES,
    PRIOR_SLOTS,
    DagSection,
    DataSection,
    ModelSection,
)
from embedcausal.spec.sensitivity import (
    ConfounderSweep,
    OVBSettings,
    PriorSensitivity,
    RefuterSettings,
    SensitivitySection,
)

__all__ = [
    "EFFECTS",
    "MAX_FILE_BYTES",
    "MEDIATOR_FAMILIES",
    "PRIOR_SLOTS",
    "SEED_LIMIT",
    "ConfounderSweep",
    "Contrast",
    "DagSection",
    "DataSection",
    "EstimandSection",
    "ModelSection",
    "ModelSpec",
    "OVBSettings",
    "PriorSensitivity",
    "RefuterSettings",
    "SamplerSection",
    "SensitivitySection",
    "load_spec",
]
