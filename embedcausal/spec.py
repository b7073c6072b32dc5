"""Model files: TOML in, a validated :class:`ModelSpec` out.

A model file states one causal question: the DAG of a rival mechanism, the estimand
(treatment, mediator, outcome, contrast), the hierarchical model, the sampler settings and
the sensitivity analyses. Validation is strict: unknown keys, wrong types, missing keys,
unknown node names, cycles, bad priors and missing data files are each a :class:`SpecError`
naming the file, the dotted key, the bad value and what was expected. Every key is
documented in ``docs/model-files.md``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from embedcausal.dag import CausalDAG, parse_edge
from embedcausal.errors import DAGError, SpecError, expected, one_line, shown
from embedcausal.priors import Prior, PriorError, parse_prior

EFFECTS = ("total", "nde", "nie")
MEDIATOR_FAMILIES = ("gaussian", "poisson", "negbinomial", "bernoulli")
PRIOR_SLOTS: dict[str, tuple[str, str]] = {
    # slot -> (default, support)
    "intercept": ("Normal(0, 2.5)", "real"),
    "beta": ("Normal(0, 1)", "real"),
    "sigma": ("HalfNormal(1)", "positive"),
    "mediator_sigma": ("HalfNormal(1)", "positive"),
    "mediator_alpha": ("Exponential(1)", "positive"),
}
_QUANTILE = re.compile(r"^p(\d{1,3}(\.\d+)?)$")
#: seeds the samplers take (numpy's SeedSequence and nutpie both accept 0 <= seed < 2**32)
SEED_LIMIT = 2**32
#: largest model file read (a model file is a page of TOML)
MAX_FILE_BYTES = 1_000_000
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Name = Annotated[str, Field(pattern=_NAME)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Parameterization = Literal["auto", "centered", "noncentered"]
ContrastValue = str | float


class DataSection(_Strict):
    """``[data]``: where the panel is and how DAG nodes map to its columns."""

    path: str
    columns: dict[Name, str] = Field(default_factory=dict)
    missing: Literal["error", "drop"] = "error"
    key: list[str] = Field(default_factory=list)


class DagSection(_Strict):
    """``[dag]``: the causal graph."""

    edges: list[str] = Field(min_length=1)
    latent: list[Name] = Field(default_factory=list)
    constant_within: dict[Name, str] = Field(default_factory=dict)


class Contrast(_Strict):
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


class EstimandSection(_Strict):
    """``[estimand]``: the causal question."""

    treatment: Name
    outcome: Name
    mediator: Name | None = None
    effects: list[Literal["total", "nde", "nie"]] | None = Field(None, min_length=1)
    contrast: Contrast = Field(
        default_factory=lambda: Contrast.model_validate({"from": "p25", "to": "p75"})
    )
    assume: list[str] = Field(default_factory=list)

    @property
    def effect_list(self) -> tuple[str, ...]:
        """The effects asked for (default: total, plus nde and nie when there is a mediator)."""
        if self.effects is not None:
            return tuple(self.effects)
        return EFFECTS if self.mediator else ("total",)


class ModelSection(_Strict):
    """``[model]``: the hierarchical PyMC model."""

    family: Literal["bernoulli"] = "bernoulli"
    mediator_family: Literal["gaussian", "poisson", "negbinomial", "bernoulli"] = "gaussian"
    mediator_centered: bool = False
    parameterization: Parameterization | dict[Name, Parameterization] = "auto"
    varying: list[str] = Field(default_factory=lambda: ["country", "mission"])
    varying_slopes: dict[Name, str] = Field(default_factory=dict)
    within_between: list[Name] = Field(default_factory=list)
    within_group: str = "country"
    covariates: list[Name] = Field(default_factory=list)
    priors: dict[str, str] = Field(default_factory=dict)

    @field_validator("varying")
    @classmethod
    def _check_varying(cls, v: list[str]) -> list[str]:
        for item in v:
            parts = item.split("/")
            if not 1 <= len(parts) <= 2 or not all(re.match(_NAME, p) for p in parts):
                raise ValueError(
                    f"{shown(item)} is not a grouping; expected a column name like 'country' or a "
                    "nesting 'outer/inner' like 'region/country'"
                )
        return v


class SamplerSection(_Strict):
    """``[sampler]``: MCMC settings."""

    backend: Literal["nutpie", "pymc"] = "nutpie"
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=10)
    chains: int = Field(4, ge=1, le=64)
    seed: int = Field(20201, ge=0, lt=SEED_LIMIT)
    target_accept: FiniteFloat = Field(0.8, gt=0, lt=1)
    save_warmup: bool = False
    adaptation: Literal["diag", "low_rank"] = "diag"


class ConfounderSweep(_Strict):
    """``[sensitivity.confounder]``: the latent-confounder grid."""

    on_treatment: list[FiniteFloat] = Field(min_length=1)
    on_outcome: list[FiniteFloat] = Field(min_length=1)
    on_mediator: list[FiniteFloat] = Field(default_factory=lambda: [0.0], min_length=1)
    benchmark: list[Name] = Field(default_factory=list)


class OVBSettings(_Strict):
    """``[sensitivity.ovb]``: Cinelli–Hazlett omitted-variable bias for the linear model."""

    benchmark: list[Name] = Field(default_factory=list)
    kd: list[Annotated[float, Field(allow_inf_nan=False, gt=0)]] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0], min_length=1
    )
    q: FiniteFloat = Field(1.0, gt=0)
    alpha: FiniteFloat = Field(0.05, gt=0, lt=1)
    fixed_effects: list[str] = Field(default_factory=list)


class PriorSensitivity(_Strict):
    """``[sensitivity.priors]``: power-scaling and alternative prior sets."""

    power_scaling: bool = True
    sets: dict[Name, dict[str, str]] = Field(default_factory=dict)


class RefuterSettings(_Strict):
    """``[sensitivity.refuters]``: DoWhy refuters on a frequentist estimate."""

    methods: list[Literal["placebo_treatment", "random_common_cause", "data_subset"]] = Field(
        default_factory=lambda: ["placebo_treatment", "random_common_cause", "data_subset"]
    )
    simulations: int = Field(20, ge=2)


class SensitivitySection(_Strict):
    """``[sensitivity]``: which sensitivity analyses to run."""

    confounder: ConfounderSweep | None = None
    ovb: OVBSettings | None = None
    priors: PriorSensitivity | None = None
    refuters: RefuterSettings | None = None


class _FileModel(_Strict):
    name: str
    description: str = ""
    data: DataSection
    dag: DagSection
    estimand: EstimandSection
    model: ModelSection = Field(default_factory=ModelSection)
    sampler: SamplerSection = Field(default_factory=SamplerSection)
    sensitivity: SensitivitySection | None = None


class ModelSpec:
    """A validated model file.

    Create it with :func:`load_spec` (from a file) or :meth:`ModelSpec.from_dict` (from Python).
    It is plain data: building the PyMC model and sampling are separate, explicit steps.

    Attributes
    ----------
    source : str
        The file the spec came from (or ``"<dict>"``).
    name, description : str
    data, dag_section, estimand, model, sampler, sensitivity
        The validated sections.
    data_path : pathlib.Path
        The data file, resolved relative to the model file.
    priors : dict of str to Prior
        Every prior slot, with the documented defaults filled in.
    """

    def __init__(
        self,
        parsed: _FileModel,
        *,
        source: str,
        base_dir: Path,
        raw: dict,
        check_files: bool = True,
    ) -> None:
        self._parsed = parsed
        self.source = source
        self.base_dir = base_dir
        self.raw = raw
        self.name = parsed.name
        self.description = parsed.description
        self.data = parsed.data
        self.dag_section = parsed.dag
        self.estimand = parsed.estimand
        self.model = parsed.model
        self.sampler = parsed.sampler
        self.sensitivity = parsed.sensitivity
        self.data_path = (base_dir / parsed.data.path).resolve()
        self.priors: dict[str, Prior] = {}
        self._check_files = check_files
        self._validate()

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls,
        raw: Mapping[str, Any],
        *,
        source: str = "<dict>",
        base_dir: str | Path = ".",
        check_files: bool = True,
    ) -> ModelSpec:
        """Validate a model-file dictionary (as TOML would parse it).

        ``check_files=False`` skips the check that ``data.path`` exists (a saved run holds its
        data, so it does not need the file).

        Raises
        ------
        SpecError
            Naming ``source``, the dotted key, the value and what was expected.
        """
        raw = dict(raw)
        try:
            parsed = _FileModel.model_validate(raw)
        except ValidationError as exc:
            raise _spec_error(source, exc) from None
        return cls(
            parsed,
            source=source,
            base_dir=Path(base_dir).resolve(),
            raw=raw,
            check_files=check_files,
        )

    def replace(self, **sections: Mapping[str, Any]) -> ModelSpec:
        """A new spec with some sections' keys replaced, validated again.

        Example: ``spec.replace(sampler={"draws": 200}, model={"priors": {...}})``.
        """
        raw = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.raw.items()}
        for section, values in sections.items():
            if isinstance(values, Mapping) and isinstance(raw.get(section), Mapping):
                raw[section] = {**raw[section], **values}
            else:
                raw[section] = values
        return ModelSpec.from_dict(
            raw, source=self.source, base_dir=self.base_dir, check_files=self._check_files
        )

    # -- derived ------------------------------------------------------------------------
    def column(self, node: str) -> str:
        """The data column that measures DAG node ``node``."""
        return self.data.columns.get(node, node)

    def dag(self) -> CausalDAG:
        """The causal DAG, with the estimand's treatment, mediator and outcome declared
        (derived roles: :func:`embedcausal.identification.node_roles`)."""
        return self._dag

    @property
    def groupings(self) -> tuple[str, ...]:
        """Every grouping column used by ``model.varying`` and ``model.varying_slopes``."""
        cols: list[str] = []
        for item in self.model.varying:
            cols.extend(item.split("/"))
        cols.extend(self.model.varying_slopes.values())
        if self.model.within_between:
            cols.append(self.model.within_group)
        return tuple(dict.fromkeys(cols))

    def grouping_keys(self) -> dict[str, str]:
        """Every grouping column the model uses -> the model-file key that names it."""
        keys: dict[str, str] = {}
        for i, item in enumerate(self.model.varying):
            for col in item.split("/"):
                keys.setdefault(col, f"model.varying[{i}]")
        for node, col in self.model.varying_slopes.items():
            keys.setdefault(col, f"model.varying_slopes.{node}")
        if self.model.within_between:
            keys.setdefault(self.model.within_group, "model.within_group")
        return keys

    def to_dict(self) -> dict:
        """The file's content (as parsed from TOML), for saving beside a run."""
        return self._parsed.model_dump(mode="json", by_alias=True, exclude_none=True)

    def __repr__(self) -> str:
        return f"ModelSpec(name={shown(self.name)}, source={shown(self.source)})"

    # -- validation beyond types ---------------------------------------------------------
    def _err(self, key: str, message: str) -> SpecError:
        return SpecError(self.source, key, message)

    def _validate(self) -> None:
        d = self.dag_section
        try:
            edges = []
            for i, e in enumerate(d.edges):
                try:
                    edges.append(parse_edge(e))
                except DAGError as exc:
                    raise self._err(f"dag.edges[{i}]", str(exc)) from None
            dag = CausalDAG.from_edges(edges, latent=d.latent, constant_within=d.constant_within)
        except DAGError as exc:
            key = "dag.latent" if "latent" in str(exc) and "cycle" not in str(exc) else "dag.edges"
            if "constant" in str(exc):
                key = "dag.constant_within"
            raise self._err(key, str(exc)) from None
        nodes = set(dag.nodes)
        observed = set(dag.observed)
        e = self.estimand

        def need_node(key: str, value: str, *, observed_only: bool = True) -> None:
            pool = observed if observed_only else nodes
            if value in nodes and value not in pool:
                raise self._err(
                    key, f"{shown(value)} is latent; {key.split('.')[-1]} must be observed"
                )
            if value not in pool:
                raise self._err(
                    key, f"unknown node {shown(value)}; {expected(value, sorted(pool))}"
                )

        need_node("estimand.treatment", e.treatment)
        need_node("estimand.outcome", e.outcome)
        if e.treatment == e.outcome:
            raise self._err("estimand.outcome", f"{shown(e.outcome)} is also the treatment")
        if e.mediator is not None:
            need_node("estimand.mediator", e.mediator)
            if e.mediator in (e.treatment, e.outcome):
                raise self._err(
                    "estimand.mediator", f"{shown(e.mediator)} is the treatment or outcome"
                )
        if e.effects and {"nde", "nie"} & set(e.effects) and e.mediator is None:
            raise self._err(
                "estimand.effects",
                f"{e.effects} asks for nde/nie but estimand.mediator is not set; "
                "expected a mediator node or effects = ['total']",
            )
        if e.contrast.from_ == e.contrast.to:
            raise self._err(
                "estimand.contrast",
                f"from = to = {shown(e.contrast.to)}; expected two different values",
            )
        for node in self.data.columns:
            need_node(f"data.columns.{node}", node)
        read_by: dict[str, str] = {}
        for node in [*self.data.columns, *sorted(observed)]:
            col = self.column(node)
            other = read_by.setdefault(col, node)
            if other != node:
                blamed = node if node in self.data.columns else other
                key = f"data.columns.{blamed}" if blamed in self.data.columns else "data.columns"
                raise self._err(
                    key,
                    f"nodes {shown(other)} and {shown(node)} both read column {shown(col)}; "
                    "expected one column per DAG node",
                )
        for col, key in self.grouping_keys().items():
            node = next((n for n in sorted(nodes) if col in (n, self.column(n))), None)
            if node is not None:
                role = {e.treatment: "the treatment", e.outcome: "the outcome"}.get(
                    node, "a DAG node"
                )
                if node == e.mediator:
                    role = "the mediator"
                raise self._err(
                    key,
                    f"grouping {shown(col)} is {role} ({shown(node)}); expected a grouping column "
                    "such as 'country' that is not a node of the DAG",
                )
        for i, node in enumerate(self.model.within_between):
            need_node(f"model.within_between[{i}]", node)
        for node in self.model.varying_slopes:
            if node not in (e.treatment, e.mediator):
                raise self._err(
                    f"model.varying_slopes.{node}",
                    f"{shown(node)} is not the treatment or mediator; expected "
                    f"{shown(e.treatment)}" + (f" or {shown(e.mediator)}" if e.mediator else ""),
                )
        desc_t = dag.descendants(e.treatment)
        for i, node in enumerate(self.model.covariates):
            need_node(f"model.covariates[{i}]", node)
            if node in desc_t or node in (e.treatment, e.outcome):
                raise self._err(
                    f"model.covariates[{i}]",
                    f"{shown(node)} is the treatment, the outcome or a descendant of the "
                    "treatment; "
                    "adjusting for it would bias the effect. Expected a pre-treatment covariate",
                )
        self._validate_priors("model.priors", self.model.priors)
        s = self.sensitivity
        if s is not None:
            if s.confounder:
                for i, node in enumerate(s.confounder.benchmark):
                    need_node(f"sensitivity.confounder.benchmark[{i}]", node)
            if s.ovb:
                for i, node in enumerate(s.ovb.benchmark):
                    need_node(f"sensitivity.ovb.benchmark[{i}]", node)
            if s.priors:
                for set_name, priors in s.priors.sets.items():
                    self._validate_priors(f"sensitivity.priors.sets.{set_name}", priors, fill=False)
        if self._check_files and not self.data_path.is_file():
            raise self._err(
                "data.path",
                f"data file {shown(self.data.path)} not found (resolved to {self.data_path}); "
                "expected a CSV file, relative to the model file",
            )
        if self.data_path.suffix.lower() not in (".csv", ".parquet"):
            raise self._err("data.path", f"{shown(self.data.path)} is not a .csv or .parquet file")
        self._dag = dag.with_roles(treatment=e.treatment, mediator=e.mediator, outcome=e.outcome)

    def _validate_priors(self, key: str, priors: Mapping[str, str], *, fill: bool = True) -> None:
        parsed: dict[str, Prior] = {}
        for slot, text in priors.items():
            if slot not in PRIOR_SLOTS:
                raise self._err(
                    f"{key}.{slot}",
                    f"unknown prior slot {shown(slot)}; {expected(slot, PRIOR_SLOTS)}",
                )
            try:
                parsed[slot] = parse_prior(text, support=PRIOR_SLOTS[slot][1])
            except PriorError as exc:
                raise self._err(f"{key}.{slot}", str(exc)) from None
        if fill:
            for slot, (default, _support) in PRIOR_SLOTS.items():
                parsed.setdefault(slot, parse_prior(default))
            self.priors = parsed


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _fields_at(loc: tuple) -> list[str] | None:
    """The allowed keys of the table at ``loc`` in the file model, for unknown-key errors."""
    model: Any = _FileModel
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = next(
            (a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return None


def _cap(part: object, limit: int = 40) -> str:
    text = str(part)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} characters)"


def _spec_error(source: str, exc: ValidationError) -> SpecError:
    errors = exc.errors(include_url=False)
    # a typo shows up as an unknown key *and* a missing one: report the unknown key first
    # ... and, in a union (``str | float``), the value's own problem before "not a string"
    err = next(
        (e for e in errors if e["type"] == "extra_forbidden"),
        next((e for e in errors if e["type"] not in _TYPE_WORDS), errors[0]),
    )
    loc = tuple(err["loc"])
    # pydantic appends the union member's type name to the location; drop it
    loc = tuple(p for p in loc if not (isinstance(p, str) and p in ("str", "float", "int")))
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{_cap(p)}" for p in loc).lstrip(".")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1]) or []
        return SpecError(
            source, key, f"unknown key {shown(loc[-1])}; {expected(str(loc[-1]), allowed)}"
        )
    if kind == "missing":
        return SpecError(source, key, "required key is missing")
    if kind == "finite_number":
        return SpecError(source, key, f"{shown(value)} is not a finite number; expected a number")
    if kind == "too_short" and isinstance(value, list | dict) and not value:
        return SpecError(source, key, "is empty; expected at least one value")
    if kind in _TYPE_WORDS:
        return SpecError(
            source,
            key,
            f"expected {_TYPE_WORDS[kind]}, got {shown(value)} ({type(value).__name__})",
        )
    msg = err["msg"].removeprefix("Value error, ")
    return SpecError(source, key, f"{msg} (got {shown(value)})")


def load_spec(path: str | Path) -> ModelSpec:
    """Load and validate a model file.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML model file. Relative paths inside it resolve against its directory.

    Returns
    -------
    ModelSpec

    Raises
    ------
    SpecError
        If the file is missing, is not valid TOML, or does not follow the schema documented in
        ``docs/model-files.md``; the message names the file, the key, the value and what was
        expected.
    """
    p = Path(path)
    if p.is_dir():
        raise SpecError(str(path), "", "is a directory; expected a .toml model file")
    if not p.is_file():
        raise SpecError(str(path), "", "model file not found; expected a path to a .toml file")
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError(
            str(path), "", f"cannot read the model file ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(
            str(path), "", f"larger than {MAX_FILE_BYTES} bytes; expected a TOML model file"
        )
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is not content
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(
            str(path), "", "not a UTF-8 text file; expected a TOML model file"
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), "", f"not valid TOML: {one_line(exc)}") from None
    except RecursionError:
        raise SpecError(
            str(path), "", "not valid TOML here: arrays or tables nested too deeply"
        ) from None
    return ModelSpec.from_dict(raw, source=str(path), base_dir=p.parent)
