"""A validated panel turned into what the model builders need (:class:`PreparedData`).

:func:`prepare` validates a frame against a model file (:func:`embedcausal.data.validate`) and
keeps, for the rows used:

* the value of every DAG node the model reads, **in data units** (the model builder turns them
  into named ``pm.Data`` containers, so an intervention is ``pm.do(model, {"inst_ties": ...})``);
* the standardisation of every predictor (:class:`Predictor`): every column is centred, binary
  ones too, and continuous ones are also scaled to unit SD — centring removes the ridge between
  the intercept and the coefficients;
* the within/between (Mundlak) split of nodes listed in ``model.within_between``: the
  within-group deviation and the group mean, which is held fixed under an intervention;
* integer codes and labels of every grouping (``country``, ``mission``, …), their nesting, and
  the ``obs`` labels (``country|mission`` from ``data.key``);
* the treatment contrast in data units and a hash of the data.

Everything is plain numpy/pandas, so a :class:`PreparedData` pickles; a saved run rebuilds it
from its ``constant_data``/``observed_data`` groups (:func:`embedcausal.runs.load_run`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from embedcausal.data import load_data, resolve_contrast, treatment_levels, used_nodes, validate
from embedcausal.errors import DataError, shown
from embedcausal.spec import ModelSpec

COUNT_FAMILIES = ("poisson", "negbinomial")
_log = logging.getLogger("embedcausal")


@dataclass(frozen=True)
class Predictor:
    """One column of a part's design: ``z = (x - center) / scale``.

    ``node`` is the DAG node it measures; ``part`` is ``"value"``, ``"within"`` (``x`` minus its
    group mean, so ``center`` is 0), ``"between"`` (the group mean), ``"interaction"`` (the
    product of ``node``'s and ``other``'s values: treatment × mediator, ``model.interaction``)
    or ``"level"`` (the indicator ``x == int(other)`` of a factor's level code, ``data.factors``).
    ``x`` is the node's value after :func:`mediator_transform` (``log1p`` for count mediators).
    """

    name: str
    node: str
    part: str
    center: float
    scale: float
    other: str = ""


def mediator_transform(values: Any, family: str) -> Any:
    """How a mediator enters the outcome model: ``log1p`` for counts, itself otherwise.

    Works on numpy arrays and PyTensor tensors alike.
    """
    if family in COUNT_FAMILIES:
        return (
            np.log1p(values) if isinstance(values, np.ndarray | float | int) else _pt_log1p(values)
        )
    return values


def _pt_log1p(x):
    import pytensor.tensor as pt

    return pt.log1p(x)


@dataclass(frozen=True)
class PreparedData:
    """A validated panel, ready for the model builders (see the module docstring).

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows used (original index labels), model columns only when rebuilt from a run.
    values : dict of str to numpy.ndarray
        Node -> float values in data units, for the treatment, the mediator and every
        covariate the model reads.
    y : numpy.ndarray
        The outcome: 0/1 integers, or floats for a Gaussian outcome (``model.family``).
    coords : dict of str to numpy.ndarray
        ``obs`` labels and the levels of every grouping.
    group_codes : dict of str to numpy.ndarray
        Grouping -> integer code of each row into ``coords[grouping]``.
    group_names : dict of str to numpy.ndarray
        Grouping -> a readable name per level, where the data have a ``<grouping>_name`` column.
    nested : dict of str to str
        Inner grouping -> outer grouping for ``outer/inner`` nestings.
    adjustment : tuple of str
        Covariate nodes the model adjusts for.
    y_predictors, m_predictors : list of Predictor
        The outcome's and the mediator's predictors.
    group_means : dict of str to numpy.ndarray
        Node -> each row's within-group mean (transformed units) for within/between nodes.
    contrast : tuple of float
        Treatment values (from, to) in data units (0, 1 for a categorical treatment).
    treatment, outcome : str
    mediator : str or None
    mediator_family : str
    dropped : list
        Index labels of rows dropped for missing values.
    factor_levels : dict of str to tuple of str
        Factor node -> its levels (sorted); its value is the level's code, the first level is
        the reference and each other level has an indicator predictor ``node[level]``.
    data_hash : str
        SHA-256 of the used columns of the used rows.
    contrast_labels : tuple of str, optional
        A categorical treatment's (from, to) level names, coded 0 and 1 (``values``, ``frame``).
    """

    frame: pd.DataFrame
    values: dict[str, np.ndarray]
    y: np.ndarray
    coords: dict[str, np.ndarray]
    group_codes: dict[str, np.ndarray]
    group_names: dict[str, np.ndarray]
    nested: dict[str, str]
    adjustment: tuple[str, ...]
    y_predictors: list[Predictor]
    m_predictors: list[Predictor]
    group_means: dict[str, np.ndarray]
    contrast: tuple[float, float]
    treatment: str
    outcome: str
    mediator: str | None
    mediator_family: str
    dropped: list = field(default_factory=list)
    data_hash: str = ""
    factor_levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    contrast_labels: tuple[str, str] | None = None

    @property
    def contrast_shown(self) -> tuple[str, str]:
        """The contrast's ends as text in the data's units: level names or numbers (``:g``)."""
        if self.contrast_labels is not None:
            return self.contrast_labels
        return f"{self.contrast[0]:g}", f"{self.contrast[1]:g}"

    @property
    def n_obs(self) -> int:
        """Number of rows used."""
        return len(self.y)

    @property
    def m(self) -> np.ndarray | None:
        """The mediator in data units (``None`` without a mediator)."""
        return self.values[self.mediator] if self.mediator else None

    def transformed(self, node: str, values: np.ndarray | None = None) -> np.ndarray:
        """A node's values (default: observed) as they enter a model (mediator transform)."""
        v = self.values[node] if values is None else np.asarray(values, dtype=float)
        return mediator_transform(v, self.mediator_family) if node == self.mediator else v

    def column(self, p: Predictor, values: np.ndarray | None = None) -> np.ndarray:
        """The standardised column of predictor ``p`` (``values`` replaces the node's values)."""
        x = self.transformed(p.node, values)
        if p.part == "interaction":
            return (x * self.transformed(p.other) - p.center) / p.scale
        if p.part == "level":
            return ((x == int(p.other)).astype(float) - p.center) / p.scale
        if p.part == "within":
            return (x - self.group_means[p.node]) / p.scale
        if p.part == "between":
            return (self.group_means[p.node] - p.center) / p.scale
        return (x - p.center) / p.scale

    @property
    def X_y(self) -> np.ndarray:
        """The outcome's standardised design matrix (rows x ``y_predictors``)."""
        return self.design_matrix("y")

    @property
    def X_m(self) -> np.ndarray:
        """The mediator's standardised design matrix (rows x ``m_predictors``)."""
        return self.design_matrix("m")

    def design_matrix(self, part: str) -> np.ndarray:
        """Standardised design (rows x predictors) of ``part`` (``"y"`` or ``"m"``)."""
        preds = self.y_predictors if part == "y" else self.m_predictors
        if not preds:
            return np.zeros((self.n_obs, 0))
        return np.column_stack([self.column(p) for p in preds])


def _standardise(x: np.ndarray, *, scale_binary: bool = False) -> tuple[float, float]:
    """(center, scale): every column is centred; 0/1 columns keep scale 1."""
    center = float(np.mean(x))
    if not scale_binary and np.isin(x, [0.0, 1.0]).all():
        return center, 1.0
    sd = float(np.std(x))
    return center, (sd if sd > 0 else 1.0)


def _obs_labels(spec: ModelSpec, frame: pd.DataFrame) -> np.ndarray:
    """``country|mission`` labels from ``data.key`` (row index labels without a key)."""
    if spec.data.key and all(k in frame.columns for k in spec.data.key):
        parts = [frame[k].astype(str).to_numpy() for k in spec.data.key]
        return np.asarray(["|".join(p) for p in zip(*parts, strict=True)], dtype=object)
    return np.asarray([str(i) for i in frame.index], dtype=object)


def prepare(
    spec: ModelSpec,
    frame: pd.DataFrame | None = None,
    *,
    adjustment: Sequence[str] = (),
    source: str | None = None,
) -> PreparedData:
    """Validate a panel and build everything the PyMC model builders need.

    Parameters
    ----------
    spec : ModelSpec
    frame : pandas.DataFrame, optional
        The panel; read from ``spec.data_path`` when omitted.
    adjustment : sequence of str
        Covariate nodes to adjust for (normally the identification result's adjustment set).
    source : str, optional
        Name of the data in error messages (default: the data path).

    Returns
    -------
    PreparedData

    Raises
    ------
    DataError
        If the data do not fit the model file (one line naming the column and rows).
    """
    if frame is None:
        frame = load_data(spec)
        source = source or str(spec.data_path)
    source = source or "data"
    spec = spec.for_columns(frame.columns)
    dag = spec.dag()
    adjustment = tuple(a for a in adjustment if a in dag.observed)
    frame, dropped = validate(spec, frame, adjustment=adjustment, source=source)
    e = spec.estimand
    family = spec.model.mediator_family
    wb = set(spec.model.within_between)
    wg = spec.model.within_group

    coords: dict[str, np.ndarray] = {"obs": _obs_labels(spec, frame)}
    codes: dict[str, np.ndarray] = {}
    names: dict[str, np.ndarray] = {}
    # the within group gets codes even when unused by the model: a latent confounder lives there
    for g in dict.fromkeys([*spec.groupings, *([wg] if wg in frame.columns else [])]):
        cat = pd.Categorical(frame[g])
        coords[g] = np.asarray([str(c) for c in cat.categories], dtype=object)
        codes[g] = np.asarray(cat.codes, dtype=np.int64)
        label_col = f"{g}_name"
        if label_col in frame.columns:
            per = frame.groupby(codes[g])[label_col].first()
            names[g] = np.asarray([str(per.get(i, "")) for i in range(len(cat.categories))])
    nested: dict[str, str] = {}
    for item in spec.varying:
        if "/" in item:
            outer, inner = item.split("/")
            per_inner = frame.groupby(inner)[outer].nunique()
            bad = per_inner[per_inner > 1]
            if len(bad):
                raise DataError(
                    f"{source}: model.varying {shown(item)}: {shown(inner)} {shown(bad.index[0])} "
                    "lies in "
                    f"{int(bad.iloc[0])} different {shown(outer)} groups; expected each {inner} "
                    f"inside one {outer}"
                )
            nested[inner] = outer

    covs = [c for c in dict.fromkeys([*adjustment, *spec.model.covariates])]
    covs = [c for c in covs if c not in (e.treatment, e.mediator, e.outcome)]
    nodes = [e.treatment, *([e.mediator] if e.mediator else []), *covs]
    factors = [n for n in spec.data.factors if n in covs]
    levels: dict[str, tuple[str, ...]] = {}
    values = {}
    for n in nodes:
        if n in factors:
            cat = pd.Categorical(frame[spec.column(n)].astype(str))
            levels[n] = tuple(str(c) for c in cat.categories)
            values[n] = np.asarray(cat.codes, dtype=float)
        else:
            values[n] = frame[spec.column(n)].to_numpy(dtype=float)
    group_means: dict[str, np.ndarray] = {}
    preds: dict[str, list[Predictor]] = {}
    for node in nodes:
        if node in factors:
            preds[node] = _level_predictors(node, values[node], levels[node], source)
            continue
        x = mediator_transform(values[node], family) if node == e.mediator else values[node]
        if node in wb:
            gm = pd.Series(x).groupby(codes[wg]).transform("mean").to_numpy(dtype=float)
            group_means[node] = gm
            center, scale = _standardise(x, scale_binary=True)
            preds[node] = [
                Predictor(f"{node}[within]", node, "within", 0.0, scale),
                Predictor(f"{node}[between]", node, "between", center, scale),
            ]
        else:
            center, scale = _standardise(x)
            preds[node] = [Predictor(node, node, "value", center, scale)]
    y_preds = [p for n in nodes for p in preds[n]]
    if spec.model.interaction and e.mediator:
        product = values[e.treatment] * mediator_transform(values[e.mediator], family)
        center, scale = _standardise(product, scale_binary=True)
        y_preds.append(
            Predictor(
                f"{e.treatment}:{e.mediator}",
                e.treatment,
                "interaction",
                center,
                scale,
                other=e.mediator,
            )
        )
    m_preds = [p for n in [e.treatment, *covs] for p in preds[n]] if e.mediator else []
    ydtype = float if spec.model.family == "gaussian" else np.int64
    y = frame[spec.column(e.outcome)].to_numpy(dtype=ydtype)
    t0, t1 = resolve_contrast(spec, values[e.treatment])
    used_cols = list(
        dict.fromkeys([spec.column(n) for n in used_nodes(spec, adjustment)] + list(spec.groupings))
    )
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(frame[used_cols], index=True).to_numpy().tobytes()
    ).hexdigest()
    return PreparedData(
        frame=frame,
        values=values,
        y=y,
        coords=coords,
        group_codes=codes,
        group_names=names,
        nested=nested,
        adjustment=tuple(covs),
        y_predictors=y_preds,
        m_predictors=m_preds,
        group_means=group_means,
        contrast=(t0, t1),
        treatment=e.treatment,
        outcome=e.outcome,
        mediator=e.mediator,
        mediator_family=family,
        dropped=dropped,
        data_hash=digest,
        factor_levels=levels,
        contrast_labels=treatment_levels(spec),
    )


def _level_predictors(
    node: str, codes: np.ndarray, levels: tuple[str, ...], source: str
) -> list[Predictor]:
    """Indicators of a factor's levels but the first (the reference), centred."""
    if len(levels) < 2:
        raise DataError(
            f"{source}: factor {shown(node)} (data.factors) has one level "
            f"{shown(levels[0] if levels else '')}; expected at least two"
        )
    _log.info(
        "%s: factor %s: reference level %r, indicators for %s",
        source,
        node,
        levels[0],
        ", ".join(repr(v) for v in levels[1:]),
    )
    return [
        Predictor(f"{node}[{lv}]", node, "level", float(np.mean(codes == k)), 1.0, other=str(k))
        for k, lv in enumerate(levels)
        if k > 0
    ]
