"""The plan of an analysis, computed once: a :class:`Design`.

A design is a validated model file, what its DAG identifies (DoWhy, checked against the graph)
and the panel prepared for the model builders. :func:`design` is the only place where a model
file's effects are identified and its data file read; everything downstream — the model
builder, :func:`embedcausal.fit`, the effects, every sensitivity analysis and every worker of
a sweep — receives the same :class:`Design` and never re-identifies or re-reads.

A design is plain data: it pickles (a sweep ships it to each worker once) and a saved run
stores it, so a run directory is self-contained.

Examples
--------
>>> import embedcausal as ec                                   # doctest: +SKIP
>>> d = ec.design("models/full.toml")                          # doctest: +SKIP
>>> d.identification["nde"].kind, d.data.n_obs, d.contrast     # doctest: +SKIP
('within', 2310, (12.0, 33.0))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from embedcausal.data import read_table
from embedcausal.errors import IdentificationError, shown
from embedcausal.identification import Identification, identify
from embedcausal.prepared import PreparedData, prepare
from embedcausal.spec import ModelSpec, load_spec


@dataclass(frozen=True)
class Design:
    """A model file's analysis plan: spec, identification and prepared data.

    Build it with :func:`design`. Attributes are read-only; :meth:`with_sampler` and
    :meth:`with_priors` return changed copies without identifying or preparing again.

    Attributes
    ----------
    spec : ModelSpec
        The validated model file.
    identification : dict of str to Identification
        One result per effect asked for (``total``, ``nde``, ``nie``).
    data : PreparedData
        The validated, prepared panel.
    source : str
        Where the data came from (a path, or ``"<DataFrame>"``).
    """

    spec: ModelSpec
    identification: Mapping[str, Identification]
    data: PreparedData
    source: str = ""

    @property
    def adjustment(self) -> tuple[str, ...]:
        """Covariates the models adjust for."""
        return self.data.adjustment

    @property
    def contrast(self) -> tuple[float, float]:
        """The treatment contrast (from, to) in data units."""
        return self.data.contrast

    @property
    def n_obs(self) -> int:
        """Rows used."""
        return self.data.n_obs

    @property
    def assumptions(self) -> list[str]:
        """Explicit assumptions from the model file (``estimand.assume``)."""
        return list(self.spec.estimand.assume)

    def with_sampler(self, **settings: Any) -> Design:
        """A copy with some ``[sampler]`` settings replaced (``None`` values are ignored).

        The identification and the prepared data are reused as they are.
        """
        settings = {k: v for k, v in settings.items() if v is not None}
        if not settings:
            return self
        return replace(self, spec=self.spec.replace(sampler=settings))

    def with_priors(self, priors: Mapping[str, str]) -> Design:
        """A copy whose ``model.priors`` are updated with ``priors`` (reuses data and DAG)."""
        spec = self.spec.replace(model={"priors": {**self.spec.model.priors, **dict(priors)}})
        return replace(self, spec=spec)

    def __repr__(self) -> str:
        effects = ", ".join(
            f"{k}: {v.kind or 'not identified'}" for k, v in self.identification.items()
        )
        return (
            f"Design({shown(self.spec.name)}, {self.data.n_obs} rows, contrast "
            f"{' -> '.join(self.data.contrast_shown)}, {effects})"
        )


def identification_for(spec: ModelSpec) -> dict[str, Identification]:
    """Identify every effect the model file asks for; refuse unidentified ones.

    Raises
    ------
    IdentificationError
        If an effect is not identified and ``estimand.assume`` is empty, if it is identified
        only within a group but the treatment (and mediator) lack a within/between split, or
        if it is identified only by an estimand the regression models do not implement.
    """
    e = spec.estimand
    out: dict[str, Identification] = {}
    for effect in e.effect_list:
        kind = "ate" if effect == "total" else effect
        res = identify(spec, estimand=kind)
        out[effect] = res
        if not res.identified and not e.assume:
            paths = "; ".join(res.open_paths) or "no valid adjustment"
            raise IdentificationError(
                f"{spec.source}: the {effect} effect of {shown(e.treatment)} on "
                f"{shown(e.outcome)} is not "
                f"identified by the DAG (open: {paths}); fix the DAG, or state the assumption "
                "you rely on in estimand.assume"
            )
        if res.identified and res.kind == "within":
            need = [n for n in (e.treatment, e.mediator) if n]
            missing = [n for n in need if n not in spec.model.within_between]
            if missing:
                raise IdentificationError(
                    f"{spec.source}: the {effect} effect is identified only within "
                    f"{shown(res.within_group)} (a latent confounder is constant within it); add "
                    f"{missing} to model.within_between and set model.within_group = "
                    f"{shown(res.within_group)}"
                )
        if res.identified and res.kind not in ("backdoor", "mediation", "within") and not e.assume:
            raise IdentificationError(
                f"{spec.source}: the {effect} effect is identified by a {res.kind} estimand, "
                "which the hierarchical regression models do not implement; model the "
                "adjustment explicitly or state the assumption in estimand.assume"
            )
    return out


def adjustment_for(ident: Mapping[str, Identification]) -> tuple[str, ...]:
    """Union of the adjustment sets of all identified effects."""
    nodes: list[str] = []
    for res in ident.values():
        nodes.extend(res.adjustment_set or ())
    return tuple(dict.fromkeys(nodes))


def design(
    spec: ModelSpec | str | Path,
    data: pd.DataFrame | str | Path | None = None,
    *,
    identification: Mapping[str, Identification] | None = None,
) -> Design:
    """Identify a model file's effects and prepare its data: the plan every later step uses.

    Parameters
    ----------
    spec : ModelSpec or path
        The model file (loaded with :func:`embedcausal.load_spec` when a path).
    data : DataFrame or path, optional
        The panel; default: the model file's ``data.path``.
    identification : dict, optional
        The result of :func:`identification_for` for this model file, when it is known
        already (a study fitting one DAG to many data sets identifies once).

    Returns
    -------
    Design

    Raises
    ------
    SpecError, IdentificationError, DataError
        One line naming the file, key or column, before anything is built or sampled.

    See Also
    --------
    embedcausal.fit : sample a design's model.
    embedcausal.build_model : the PyMC model of a design.

    Examples
    --------
    >>> import embedcausal as ec                                 # doctest: +SKIP
    >>> d = ec.design("models/personal.toml")                    # doctest: +SKIP
    >>> run = ec.fit(d, draws=500)                               # doctest: +SKIP
    """
    if isinstance(spec, Design):
        raise TypeError("design() takes a model file or a ModelSpec, got a Design already")
    if not isinstance(spec, ModelSpec):
        if not isinstance(spec, str | Path):
            raise TypeError(
                f"spec must be a ModelSpec or a path to a model file, got {type(spec).__name__}"
            )
        spec = load_spec(spec)
    ident = dict(identification) if identification is not None else identification_for(spec)
    if data is None:
        source = str(spec.data_path)
        frame = read_table(spec.data_path)
    elif isinstance(data, str | Path):
        source = str(data)
        frame = read_table(data)
    elif isinstance(data, pd.DataFrame):
        source, frame = "<DataFrame>", data
    else:
        raise TypeError(f"data must be a DataFrame or a path, got {type(data).__name__}")
    spec = spec.for_columns(frame.columns)  # an unset model.varying: the groupings present
    prepared = prepare(spec, frame, adjustment=adjustment_for(ident), source=source)
    return Design(spec=spec, identification=ident, data=prepared, source=source)
