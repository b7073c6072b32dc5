"""A validated model file: :class:`ModelSpec`, and the checks that types alone cannot make.

Node names are checked against the DAG, grouping columns against the nodes, covariates against
the treatment's descendants, and priors against their slots; each failure is a
:class:`~embedcausal.errors.SpecError` naming the file, the dotted key, the value and what was
expected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from embedcausal.dag import CausalDAG, parse_edge
from embedcausal.errors import DAGError, SpecError, expected, shown
from embedcausal.priors import Prior, PriorError, parse_prior
from embedcausal.spec.confounders import confounder_edges
from embedcausal.spec.estimand import is_level
from embedcausal.spec.messages import spec_error
from embedcausal.spec.schema import DEFAULT_VARYING, PRIOR_SLOTS, FileModel

_log = logging.getLogger("embedcausal")


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
    confounder_edges : list of str
        The edges ``dag.confounders`` added (``"threat -> inst_ties"``, …).
    """

    def __init__(
        self,
        parsed: FileModel,
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
        self.confounder_edges: list[str] = []
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
            parsed = FileModel.model_validate(raw)
        except ValidationError as exc:
            raise spec_error(source, exc) from None
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
    def varying(self) -> list[str]:
        """``model.varying`` (unset: :data:`~embedcausal.spec.schema.DEFAULT_VARYING`; a
        :class:`~embedcausal.plan.Design` resolves it against the data, :meth:`for_columns`)."""
        v = self.model.varying
        return list(DEFAULT_VARYING) if v is None else list(v)

    def for_columns(self, columns: Iterable[str]) -> ModelSpec:
        """This spec with an unset ``model.varying`` resolved against a data set's columns.

        The default groupings (``country``, ``mission``) that the data have become varying
        intercepts, none if it has neither; the choice is logged (logger ``embedcausal``) and,
        being explicit in the returned spec, saved with a run. A spec that sets
        ``model.varying`` (``[]`` for none) is returned as it is.
        """
        if self.model.varying is not None:
            return self
        cols = set(columns)
        present = [g for g in DEFAULT_VARYING if g in cols]
        missing = [g for g in DEFAULT_VARYING if g not in cols]
        _log.info(
            "%s: model.varying not set; varying intercepts by %s%s",
            self.source,
            ", ".join(present) or "nothing (no grouping column)",
            f" (no column {', '.join(missing)} in the data)" if missing else "",
        )
        return self.replace(model={"varying": present})

    @property
    def groupings(self) -> tuple[str, ...]:
        """Every grouping column used by ``model.varying`` and ``model.varying_slopes``."""
        cols: list[str] = []
        for item in self.varying:
            cols.extend(item.split("/"))
        cols.extend(self.model.varying_slopes.values())
        if self.model.within_between:
            cols.append(self.model.within_group)
        return tuple(dict.fromkeys(cols))

    def grouping_keys(self) -> dict[str, str]:
        """Every grouping column the model uses -> the model-file key that names it."""
        keys: dict[str, str] = {}
        for i, item in enumerate(self.varying):
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
            edges += self._confounder_edges(edges)
            if not edges:
                raise self._err("dag.edges", "is empty; expected at least one edge")
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
        if e.contrast is not None and e.contrast.from_ == e.contrast.to:
            raise self._err(
                "estimand.contrast",
                f"from = {shown(e.contrast.from_)} and to = {shown(e.contrast.to)} are equal; "
                "expected two different values of treatment column "
                f"{shown(self.column(e.treatment))}",
            )
        if e.contrast is not None and e.contrast.levels is None:
            ends = (e.contrast.from_, e.contrast.to)
            if any(is_level(v) for v in ends):
                raise self._err(
                    "estimand.contrast",
                    f"from = {shown(ends[0])} and to = {shown(ends[1])} mix a level name with a "
                    "quantile or number; expected two level names of a categorical treatment "
                    "or two quantiles/numbers",
                )
        for node in self.data.columns:
            need_node(f"data.columns.{node}", node)
        for i, node in enumerate(self.data.factors):
            need_node(f"data.factors[{i}]", node)
            if node in (e.treatment, e.mediator, e.outcome) or node in self.model.within_between:
                raise self._err(
                    f"data.factors[{i}]",
                    f"{shown(node)} is the treatment, mediator or outcome, or in "
                    "model.within_between; expected a categorical covariate",
                )
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
        if e.four_way is not None and e.mediator is None:
            raise self._err(
                "estimand.four_way",
                f"{shown(e.four_way)} sets the mediator value of the four-way decomposition, "
                "but estimand.mediator is not set; expected a mediator node",
            )
        if self.model.interaction and e.mediator is None:
            raise self._err(
                "model.interaction",
                "true adds treatment × mediator to the outcome, but estimand.mediator is not "
                "set; expected a mediator node or interaction = false",
            )
        if self.model.family == "gaussian" and self.model.link != "logit":
            raise self._err(
                "model.link",
                f"{shown(self.model.link)} is a link of the Bernoulli outcome; a Gaussian outcome "
                "(model.family = 'gaussian') has the identity link: remove model.link",
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
            if s.rho is not None:
                self._check_rho()
        if self._check_files and not self.data_path.is_file():
            raise self._err(
                "data.path",
                f"data file {shown(self.data.path)} not found (resolved to {self.data_path}); "
                "expected a CSV file, relative to the model file",
            )
        if self.data_path.suffix.lower() not in (".csv", ".parquet"):
            raise self._err("data.path", f"{shown(self.data.path)} is not a .csv or .parquet file")
        self._dag = dag.with_roles(treatment=e.treatment, mediator=e.mediator, outcome=e.outcome)

    def _check_rho(self) -> None:
        """``sensitivity.rho`` needs a Gaussian mediator and a probit or Gaussian outcome."""
        m, why = self.model, None
        if self.estimand.mediator is None:
            why = "estimand.mediator is not set; expected a mediator node"
        elif m.mediator_family != "gaussian":
            why = f"model.mediator_family is {shown(m.mediator_family)}; expected 'gaussian'"
        elif m.family == "bernoulli" and m.link != "probit":
            why = f"model.link is {shown(m.link)}; expected 'probit' (or family 'gaussian')"
        if why:
            raise self._err("sensitivity.rho", f"ρ is the correlation of normal errors, but {why}")

    def _confounder_edges(self, edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``dag.confounders`` as new edges, kept as ``self.confounder_edges`` for ``check``."""
        e = self.estimand
        roles = {e.treatment: "treatment", **({e.mediator: "mediator"} if e.mediator else {})}
        roles[e.outcome] = "outcome"
        new = confounder_edges(self.dag_section.confounders, roles, edges, self._err)
        self.confounder_edges = [f"{a} -> {b}" for a, b in new]
        return new

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
