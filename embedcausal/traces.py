"""The sampler's draws as a run's DataTree: parts merged, partial draws, data groups.

A design is sampled in parts (:func:`embedcausal.fitting.part_models`); :func:`assemble` merges
the parts' traces into one DataTree. A sampler stopped early (Ctrl-C) leaves fewer or
incomplete draws: :func:`check_complete` raises :class:`Interrupted` for them and
:func:`partial_draws` keeps the draws every part has, when asked to. :func:`data_groups` adds
the model's data as ``constant_data`` and ``observed_data``, from which a saved run rebuilds its
prepared data.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from embedcausal.plan import Design
from embedcausal.spec import ModelSpec

#: draws per chain a partial run needs at least (``keep_partial``)
MIN_PARTIAL_DRAWS = 2


class Interrupted(KeyboardInterrupt):
    """Sampling was stopped (Ctrl-C). ``trace`` holds the complete draws so far, or None.

    A ``KeyboardInterrupt``: code that does not ask for partial results stops as on any
    Ctrl-C. Only ``fit(..., keep_partial=True)`` keeps ``trace``, as a run marked incomplete.
    """

    def __init__(self, message: str, trace: xr.DataTree | None = None) -> None:
        super().__init__(message)
        self.trace = trace


def complete_draws(post: xr.Dataset) -> np.ndarray:
    """Per chain, the number of leading draws without a NaN in any variable."""
    n_chain, n_draw = post.sizes.get("chain", 0), post.sizes.get("draw", 0)
    ok = np.ones((n_chain, n_draw), dtype=bool)
    for v in post.data_vars:
        a = np.asarray(post[v].values, dtype=float).reshape(n_chain, n_draw, -1)
        ok &= ~np.isnan(a).any(axis=-1)
    return np.where(ok.all(axis=1), n_draw, np.argmin(ok, axis=1)) if n_draw else ok.sum(1)


def check_complete(trace: xr.DataTree, spec: ModelSpec, part: str) -> None:
    """Raise :class:`Interrupted` when a sampler returned fewer draws than asked (Ctrl-C)."""
    post = trace["posterior"]
    s = spec.sampler
    n_chain, n_draw = post.sizes.get("chain", 0), post.sizes.get("draw", 0)
    incomplete = n_chain < s.chains or n_draw < s.draws
    if not incomplete and (complete_draws(post.to_dataset()) < n_draw).any():
        incomplete = True
    if incomplete:
        raise Interrupted(
            f"sampling of the {part} model stopped early ({n_chain} chains x {n_draw} draws of "
            f"{s.chains} x {s.draws})",
            trace,
        )


def _truncated(trace: xr.DataTree, n_draw: int) -> dict[str, xr.Dataset]:
    """A trace's posterior and sample statistics, first ``n_draw`` draws (no warm-up)."""
    return {
        g: trace[g].to_dataset().isel(draw=slice(0, n_draw))
        for g in ("posterior", "sample_stats")
        if g in trace.children
    }


def partial_draws(
    done: list[tuple[str, xr.DataTree]], part: str, trace: xr.DataTree | None, parts: list[str]
) -> tuple[list[tuple[str, dict[str, xr.Dataset]]], int] | None:
    """The draws every part has, when the interrupted ``part`` is the last one sampled."""
    if trace is None or "posterior" not in trace.children or part != parts[-1]:
        return None
    counts = complete_draws(trace["posterior"].to_dataset())
    n = int(counts.min()) if counts.size else 0
    if n < MIN_PARTIAL_DRAWS:
        return None
    return [(p, _truncated(t, n)) for p, t in [*done, (part, trace)]], n


def assemble(done: list[tuple[str, xr.DataTree]], design: Design) -> xr.DataTree:
    """One DataTree from the parts' traces (``sample_stats_mediator`` for the mediator's)."""
    posts, tree = [], {}
    for part, trace in done:
        posts.append(trace["posterior"].to_dataset())
        group = "sample_stats_mediator" if part == "mediator" else "sample_stats"
        if "sample_stats" in trace.children:
            tree[group] = trace["sample_stats"].to_dataset()
        for name in ("warmup_posterior", "warmup_sample_stats"):
            if name in trace.children:
                suffix = "_mediator" if part == "mediator" else ""
                tree[name + suffix] = trace[name].to_dataset()
    post = xr.merge(posts, compat="override", join="exact")
    post = _with_names(post, design)
    tree = {"posterior": post, **tree}
    return xr.DataTree.from_dict(tree)


def _with_names(ds: xr.Dataset, design: Design) -> xr.Dataset:
    """Attach readable level names (``country_name``) as coordinates where the data have them."""
    extra = {
        f"{g}_name": (g, names) for g, names in design.data.group_names.items() if g in ds.dims
    }
    return ds.assign_coords(extra) if extra else ds


def data_groups(model, design: Design) -> tuple[xr.Dataset, xr.Dataset]:
    """``(constant_data, observed_data)``: every ``pm.Data`` of the model and the observations.

    Named and dimensioned as in the model, so ``pm.sample_posterior_predictive(run.idata,
    model=run.model)`` (or on ``pm.do(run.model, ...)``) finds the data unchanged.
    """
    from pymc.backends.arviz import find_constants, find_observations

    dims = model.named_vars_to_dims
    coords = {k: np.asarray(v) for k, v in model.coords.items() if v is not None}

    def dataset(values: dict) -> xr.Dataset:
        ds = xr.Dataset(
            {k: (dims.get(k) or (), np.asarray(v)) for k, v in values.items()},
        )
        # every grouping's levels, even where only its integer codes are data (a saved run
        # rebuilds the groupings from them)
        used = {d for v in ds.data_vars for d in ds[v].dims} | set(design.data.group_codes)
        ds = ds.assign_coords({k: v for k, v in coords.items() if k in used})
        return _with_names(ds, design)

    const = dataset(find_constants(model))
    # every grouping's levels, also those only reached through integer codes (``mission__code``
    # has dim ``obs``): a saved run rebuilds its PreparedData from them
    levels = {g: np.asarray(design.data.coords[g]) for g in design.data.group_codes}
    const = _with_names(
        const.assign_coords({g: v for g, v in levels.items() if g not in const}), design
    )
    return const, dataset(find_observations(model))
