"""The outcome's pointwise log-likelihood of a posterior, for PSIS-LOO (:mod:`embedcausal.compare`).

Computed from the outcome model's own graph (so it always matches the model that was sampled),
vectorised over draws and in chunks, stored as ``float32``.

:func:`embedcausal.fit` and :func:`embedcausal.load_run` attach it to a run's DataTree as a
*lazy* group (:func:`lazy_log_likelihood`): ``run.idata["log_likelihood"]`` is there, with its
dims and size, but its values are computed the first time they are read (``az.loo(run.idata)``,
``.values``, ``.load()``) and then kept. A fit whose log-likelihood is never read never pays for
it: on the canonical 9k panel at 4 × 1000 draws that is 1.2 s and 144 MB of float32 values. A
saved run does not store it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from embedcausal.batched import flat_draws, linear_predictor, vectorized_function
from embedcausal.likelihoods import outcome_logp
from embedcausal.models import build_model
from embedcausal.plan import Design

#: pointwise log-likelihood values (rows × draws) kept in memory at most; above, LOO is chunked
LOGLIK_MAX_VALUES = 150_000_000


def _too_large(post: xr.Dataset | xr.DataTree, design: Design) -> bool:
    return design.data.n_obs * post.sizes["chain"] * post.sizes["draw"] > LOGLIK_MAX_VALUES


def _values(post: xr.Dataset, design: Design, dtype=np.float32) -> np.ndarray:
    """The values, shape (chain, draw, obs), computed from the outcome model's graph."""
    nchain, ndraw = post.sizes["chain"], post.sizes["draw"]
    n = design.data.n_obs
    model = build_model(design, parts=("outcome",))
    eta = linear_predictor(model, "y")
    y = model[f"{design.data.outcome}__observed"]
    names, fn = vectorized_function(model, [outcome_logp(design, model, y, eta)])
    flat = flat_draws(post, names)
    out = np.empty((nchain * ndraw, n), dtype=dtype)
    step = max(1, 2_000_000 // max(n, 1))
    for start in range(0, nchain * ndraw, step):
        (vals,) = fn(*(flat[k][start : start + step] for k in names))
        out[start : start + step] = vals
    return out.reshape(nchain, ndraw, n)


def _wrap(values: np.ndarray | indexing.LazilyIndexedArray, post, design: Design) -> xr.Dataset:
    da = xr.DataArray(
        values,
        dims=("chain", "draw", "obs"),
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "obs": design.data.coords["obs"],
        },
        name=design.data.outcome,
    )
    return da.to_dataset()


def log_likelihood(idata: xr.DataTree, design: Design, *, dtype=np.float32) -> xr.Dataset | None:
    """The outcome's pointwise log-likelihood (dims chain, draw, obs), or None when too large.

    Computed now, from the outcome model's graph, vectorised over draws, in chunks; ``float32``.
    Above :data:`LOGLIK_MAX_VALUES` values it is not kept in memory.

    See Also
    --------
    lazy_log_likelihood : the same values, computed when first read.
    """
    post = idata["posterior"]
    if _too_large(post, design):
        return None
    return _wrap(_values(post.to_dataset(), design, dtype), post, design)


class _OnFirstRead(BackendArray):
    """An array whose values come from ``compute()`` the first time any of them is read.

    The ``BackendArray`` protocol is how xarray's file backends load lazily; here the "file" is
    the posterior and the outcome model. The values are kept after the first read.
    """

    def __init__(self, compute: Callable[[], np.ndarray], shape: tuple[int, ...], dtype) -> None:
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self._compute: Callable[[], np.ndarray] | None = compute
        self._values: np.ndarray | None = None
        self._lock = threading.Lock()

    def get_values(self) -> np.ndarray:
        with self._lock:
            if self._values is None:
                assert self._compute is not None
                self._values = self._compute()
                self._compute = None  # drop the posterior and design it held
            return self._values

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw
        )

    def _raw(self, key: tuple) -> np.ndarray:
        return self.get_values()[key]

    def __getstate__(self) -> dict:
        # pickling (a run sent to another process) sends the values, computed if need be
        return {"shape": self.shape, "dtype": self.dtype, "values": self.get_values()}

    def __setstate__(self, state: dict) -> None:
        self.shape, self.dtype = state["shape"], state["dtype"]
        self._values, self._compute = state["values"], None
        self._lock = threading.Lock()


class _Compute:
    """``compute()`` of the lazy group: a picklable closure over the posterior and the design."""

    def __init__(self, post: xr.Dataset, design: Design, dtype) -> None:
        self.post, self.design, self.dtype = post, design, dtype

    def __call__(self) -> np.ndarray:
        return _values(self.post, self.design, self.dtype)


def lazy_log_likelihood(
    idata: xr.DataTree, design: Design, *, dtype=np.float32
) -> xr.Dataset | None:
    """The outcome's pointwise log-likelihood as a lazy Dataset, or None when too large.

    Its variable has the dims, coordinates, shape and dtype of :func:`log_likelihood`'s, but no
    values until one is read (``az.loo``, ``.values``, ``.load()``, arithmetic); they are then
    computed once, exactly as :func:`log_likelihood` computes them, and kept.

    Parameters
    ----------
    idata : xarray.DataTree
        With a ``posterior`` group.
    design : Design
        The design the posterior was sampled from.

    Returns
    -------
    xarray.Dataset or None
        None above :data:`LOGLIK_MAX_VALUES` values.

    Examples
    --------
    >>> ll = lazy_log_likelihood(run.idata, run.design)                # doctest: +SKIP
    >>> run.idata["log_likelihood"] = xr.DataTree(ll)                  # doctest: +SKIP
    """
    post = idata["posterior"]
    if _too_large(post, design):
        return None
    shape = (post.sizes["chain"], post.sizes["draw"], design.data.n_obs)
    lazy = _OnFirstRead(_Compute(post.to_dataset(), design, dtype), shape, dtype)
    return _wrap(indexing.LazilyIndexedArray(lazy), post, design)
