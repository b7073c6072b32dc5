"""A fitted model: :class:`Run` (posterior, design, diagnostics, effects) and how it is saved.

:func:`embedcausal.fit` returns a :class:`Run`; :meth:`Run.save` writes its directory
atomically, :func:`embedcausal.load_run` (:mod:`embedcausal.runs`) reads it back. The directory:

``posterior.nc``
    The DataTree: ``posterior``, ``sample_stats`` (and ``sample_stats_mediator``), ``effects``,
    ``observed_data`` and ``constant_data`` (the prepared panel, dims ``obs`` and groupings).
    The pointwise log-likelihood is not stored: it is recomputed from the posterior and the
    stored data when a run is loaded (it would be most of the file).
``run.json``
    The model file's content, the design (predictors, contrast, adjustment set), the
    identification, the diagnostics, package versions, seconds per phase, ``complete``.
``effects.csv``
    The effects table.

The contract: ``docs/contract.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from embedcausal.diagnostics import Diagnostics
from embedcausal.errors import RunError, shown
from embedcausal.identification import Identification
from embedcausal.plan import Design
from embedcausal.prepared import PreparedData
from embedcausal.serialize import plain
from embedcausal.spec import ModelSpec

RUN_FORMAT = 2
_VERSIONS = ("embedcausal", "pymc", "pytensor", "arviz", "nutpie", "dowhy", "numpy", "pandas")


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine a result."""
    out = {}
    for name in _VERSIONS:
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "not installed"
    return out


@dataclass
class Run:
    """A fitted model: posterior (ArviZ DataTree), design, diagnostics and effects.

    Attributes
    ----------
    design : Design
        The plan the run was fitted from.
    idata : xarray.DataTree
        ``posterior`` (dims ``chain``, ``draw``, ``country``, ``mission``, …),
        ``sample_stats``, ``log_likelihood`` (the outcome's, dims ``obs``; after ``fit``, computed
        the first time its values are read), ``observed_data``,
        ``constant_data`` and ``effects`` (the g-computation draws).
    diagnostics : Diagnostics
        R-hat, ESS, divergences and E-BFMI; ``diagnostics.ok`` and the named ``problems``.
    versions : dict
        Package versions at fit time.
    timings : dict
        Seconds per phase of the fit.
    effects : pandas.DataFrame or None
        The tidy effects table (:func:`embedcausal.effects_table`).
    complete : bool
        False only for a run kept after an interrupt (``fit(..., keep_partial=True)``,
        ``embedcausal fit --keep-partial``); :func:`load_run` refuses such a run unless
        ``allow_partial=True``.
    interrupted : str
        For an incomplete run, what was interrupted and after how many draws.
    """

    design: Design
    idata: xr.DataTree
    diagnostics: Diagnostics
    versions: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    effects: pd.DataFrame | None = None
    complete: bool = True
    interrupted: str = ""

    # -- views of the design ---------------------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        return self.design.spec

    @property
    def identification(self) -> dict[str, Identification]:
        return dict(self.design.identification)

    @property
    def prepared(self) -> PreparedData:
        return self.design.data

    @property
    def contrast(self) -> tuple[float, float]:
        return self.design.contrast

    @property
    def n_obs(self) -> int:
        return self.design.n_obs

    @property
    def dropped(self) -> list:
        return list(self.design.data.dropped)

    @property
    def data_hash(self) -> str:
        return self.design.data.data_hash

    @property
    def assumptions(self) -> list[str]:
        """Explicit assumptions from the model file (printed with every result)."""
        return self.design.assumptions

    @cached_property
    def model(self):
        """The joint PyMC model of the run (for ``pm.do``, ``pm.observe``, predictions)."""
        from embedcausal.models import build_model

        return build_model(self.design)

    def compute_effects(self, *, hdi_prob: float = 0.9) -> pd.DataFrame:
        """Compute the effects, store their draws in ``idata["effects"]``, return the table."""
        from embedcausal.effects import Counterfactual, effects_table, gcomp

        ds = gcomp(
            self.idata, self.design, counterfactual=Counterfactual.compile(self.design, self.model)
        )
        self.idata["effects"] = xr.DataTree(ds)
        self.effects = effects_table(ds, hdi_prob=hdi_prob, reliable=self.diagnostics.ok)
        return self.effects

    def __repr__(self) -> str:
        post = self.idata["posterior"]
        ok = "ok" if self.diagnostics.ok else "diagnostics FAILED"
        return (
            f"Run({shown(self.spec.name)}, {post.sizes['chain']} chains x {post.sizes['draw']} "
            "draws, "
            f"{self.n_obs} rows, {ok})"
        )

    # -- disk --------------------------------------------------------------------------------
    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the run to ``directory`` atomically (a crash leaves no half directory).

        Raises
        ------
        RunError
            If ``directory`` exists (unless ``overwrite``) or is a file.
        """
        target = Path(directory)
        if target.exists() and not target.is_dir():
            raise RunError(f"{target}: is a file; expected a directory for the run")
        if target.exists() and not overwrite:
            raise RunError(f"{target}: already exists; choose another --out or remove it")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            tree = {
                name: self.idata[name].to_dataset()
                for name in self.idata.children
                if name != "log_likelihood"
            }
            xr.DataTree.from_dict(tree).to_netcdf(tmp / "posterior.nc", engine="h5netcdf")
            (tmp / "run.json").write_text(json.dumps(self._meta(), indent=2, default=plain))
            if self.effects is not None:
                self.effects.to_csv(tmp / "effects.csv", index=False)
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
                os.replace(target, old / "run")
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def _meta(self) -> dict[str, Any]:
        d = self.design.data
        spec = self.spec
        return {
            "format": RUN_FORMAT,
            "complete": self.complete,
            "interrupted": self.interrupted,
            "spec": spec.raw,
            "spec_source": spec.source,
            "spec_base_dir": str(spec.base_dir),
            "data_hash": d.data_hash,
            "n_obs": d.n_obs,
            "contrast": list(d.contrast),
            "design": {
                "source": self.design.source,
                "treatment": d.treatment,
                "mediator": d.mediator,
                "outcome": d.outcome,
                "mediator_family": d.mediator_family,
                "adjustment": list(d.adjustment),
                "contrast": list(d.contrast),
                "contrast_labels": list(d.contrast_labels) if d.contrast_labels else None,
                "nested": d.nested,
                "groupings": list(d.group_codes),
                "y_predictors": [vars(p) for p in d.y_predictors],
                "m_predictors": [vars(p) for p in d.m_predictors],
                "dropped": [str(x) for x in d.dropped],
                "data_hash": d.data_hash,
                "frame_columns": {n: spec.column(n) for n in d.values},
            },
            "identification": {k: v.to_dict() for k, v in self.design.identification.items()},
            "diagnostics": self.diagnostics.to_dict(),
            "versions": self.versions,
            "timings": self.timings,
            "assumptions": self.assumptions,
        }
