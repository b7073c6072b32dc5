"""``run_grid``: check a grid, hold its directory, run its points, record what happened."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from embedcausal.errors import EmbedcausalError, RunError
from embedcausal.parallel.executor import open_backend, run_points
from embedcausal.parallel.points import GridPoint, check_points, jsonable
from embedcausal.parallel.results import GridResult
from embedcausal.parallel.store import GridStore

_BROKEN_POOL = (
    "a worker process died abruptly (killed, out of memory, a context that could not be "
    "unpickled there, or the script calling run_grid lacks an `if __name__ == '__main__':` "
    "guard)"
)


def run_grid(
    task: Callable[..., Any],
    points: Sequence[GridPoint],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    context: Any = None,
    fingerprint: str | None = None,
) -> GridResult:
    """Run ``task`` on every grid point and write each result the moment it is done.

    Parameters
    ----------
    task : callable
        Returns one ``xarray.Dataset`` per point. With a dict ``context`` (or none) it is
        called as ``task(payload)``, ``payload = {**context, "params": params}``; with any
        other context object as ``task(context, params)``. ``params`` is the point's
        parameters as plain JSON data, whatever the execution mode. For ``jobs > 1`` the task
        must be a function at the top level of a module that the workers can import.
    points : sequence of GridPoint
        The grid; keys must be unique (ignoring case). See :func:`point_key`.
    out_dir : str or Path
        Run directory: ``grid.json`` (the points, the context and their fingerprint, written
        first), ``points/<key>.nc`` per finished point (written atomically, ``h5netcdf``), and
        ``failures.json`` (tracebacks) when points failed. Created if missing.
    jobs : int, default 1
        ``1``: run the points one after another in this process (a task can then reuse a
        compiled model, see :func:`worker_cache`). ``> 1``: that many spawned local processes
        (``concurrent.futures.ProcessPoolExecutor``). Ignored when ``scheduler`` is given.
    scheduler : str, optional
        Address of a running Dask distributed scheduler, e.g. ``"tcp://10.0.0.5:8786"``; the
        cluster's workers run the points and send the results back to this process, which
        writes them (workers need no access to ``out_dir``). Needs ``embedcausal[distributed]``.
    resume : bool, default False
        Continue an interrupted run in ``out_dir``: points whose file exists and opens are
        skipped, damaged files are recomputed (with a logged warning), stale temporary files
        are removed. Refused if the points or the context differ from ``grid.json``.
    progress : bool, default True
        Show a progress bar (points done / total, time left) on stderr.
    context : dict or object, optional
        What every point shares, sent to each worker process once (not once per point):
        in this process the object itself; local processes unpickle it once each; Dask
        workers receive it once (``client.scatter(..., broadcast=True)``). A dict must be JSON
        data (model file, data path, sampler settings...) without a key ``"params"``; it is
        recorded in ``grid.json``. Any other picklable object (e.g. a prepared design with its
        data arrays) is passed to the task as it is.
    fingerprint : str, optional
        What identifies the context for ``resume=True``: a string that changes whenever the
        context would change the results (e.g. a hash of the model file and the data).
        Required for a context that is not JSON data; otherwise the context's JSON is used
        (and a given fingerprint is checked as well).

    Returns
    -------
    GridResult
        Keys, which points were computed or skipped, and access to the datasets.

    Raises
    ------
    EmbedcausalError
        Bad points, keys or arguments; a context that cannot be recorded or sent to the
        workers; an existing run without ``resume``; a changed grid with ``resume``; another
        process writing to ``out_dir``; Dask not installed or the scheduler unreachable. A
        run that fails before its first point leaves ``out_dir`` as it found it.
    RunError
        Points failed (a subclass of ``EmbedcausalError``). Failures are collected: the
        other points finish and are written first, then one error names each failed key and
        its message (tracebacks in ``out_dir/failures.json``). A failed point has no file.
    KeyboardInterrupt
        Ctrl-C here, or a ``KeyboardInterrupt`` raised by a task: no further point is
        submitted, pending ones are cancelled, workers are stopped, and the interrupt is
        re-raised; the finished points stay on disk for ``resume=True``.

    Notes
    -----
    Dataset attributes are stored as netCDF attributes: ``str``, ``int``, ``float`` and lists or
    arrays of numbers or of strings are kept, ``bool`` becomes ``0``/``1``, a ``dict`` becomes a
    JSON string (``json.loads`` it back); anything else (``None``, objects) fails the point.

    Examples
    --------
    A dict context; the task gets one payload:

    >>> import tempfile
    >>> import xarray as xr
    >>> from embedcausal.parallel import GridPoint, point_key, run_grid
    >>> def square(payload):
    ...     x = payload["params"]["x"]
    ...     return xr.Dataset({"y": ((), x**2 * payload["scale"])})
    >>> points = [GridPoint(point_key(x=x), {"x": x}) for x in (0.5, 1.0, 2.0)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = run_grid(square, points, tmp, context={"scale": 2.0}, progress=False)
    ...     {key: float(ds["y"]) for key, ds in result.datasets().items()}
    {'x0.5': 0.5, 'x1': 2.0, 'x2': 8.0}

    Any other object as context (shipped to each worker once); the task gets it and the
    parameters:

    >>> def fit(design, params):  # doctest: +SKIP
    ...     return design.fit(**params)
    >>> run_grid(fit, points, "runs/fit", jobs=4, context=design,
    ...          fingerprint=design.hash)  # doctest: +SKIP
    """
    pts = check_points(points)
    shipped, record = _check_context(context, fingerprint)
    _check_jobs(jobs, scheduler)
    blob = None
    if scheduler is None and jobs > 1:
        _check_picklable(task)
        blob = _pickled(shipped, pickle.dumps, "worker processes")
    elif scheduler is not None:
        import cloudpickle  # what Dask falls back on

        _pickled(shipped, cloudpickle.dumps, "the Dask workers")

    keys = [k for k, _ in pts]
    params = dict(pts)
    computed: list[str] = []
    skipped: list[str] = []
    failures: dict[str, BaseException] = {}
    with GridStore(Path(out_dir)) as store:
        try:
            store.prepare({"points": [[k, p] for k, p in pts], **record}, resume)
            skipped, todo = store.split_done(keys, resume)
            with _bar(len(keys), len(skipped), progress) as bar:

                def done(key: str, result: Any, error: BaseException | None) -> None:
                    if error is None:
                        try:
                            store.write_point(key, result)
                        except Exception as exc:  # the point failed; the grid goes on
                            error = exc
                    if error is None:
                        computed.append(key)
                    else:
                        failures[key] = error
                    bar.update(1)

                if todo:
                    with open_backend(
                        shipped, blob, jobs=int(jobs), scheduler=scheduler, n_points=len(todo)
                    ) as backend:
                        run_points(backend, task, [(k, params[k]) for k in todo], done)
        except BaseException:
            if not (computed or skipped or failures):  # failed before its first point
                store.discard()
            raise
        _report_failures(store, len(keys), {k: failures[k] for k in keys if k in failures})
    return GridResult(store.out, keys, [k for k in keys if k in computed], skipped)


# --------------------------------------------------------------------------- checks


def _check_context(context: Any, fingerprint: str | None) -> tuple[Any, dict[str, Any]]:
    """``(what the workers get, what grid.json records about it)``."""
    if fingerprint is not None and (not isinstance(fingerprint, str) or not fingerprint.strip()):
        raise EmbedcausalError(
            f"run_grid: fingerprint = {fingerprint!r:.60}; expected a non-empty string that "
            "changes whenever the context would change the results"
        )
    extra = {} if fingerprint is None else {"context_fingerprint": fingerprint}
    if context is None or isinstance(context, dict):
        context = context or {}
        if "params" in context:
            raise EmbedcausalError(
                "run_grid: context has a key 'params'; expected other keys ('params' carries "
                "each point's parameters)"
            )
        hint = (
            "; for other data pass an object that is not a dict (the task is then called as "
            "task(context, params)) with fingerprint="
        )
        ctx = jsonable(context, "run_grid: context", hint)
        return ctx, {"context": ctx, **extra}
    kind = {"context_type": f"{type(context).__module__}.{type(context).__qualname__}"}
    if fingerprint is not None:
        return context, {"context": None, **kind, **extra}
    try:
        as_json = json.loads(json.dumps(context, allow_nan=True))
    except (TypeError, ValueError) as exc:
        raise EmbedcausalError(
            f"run_grid: context is a {type(context).__name__}, which is not JSON data ({exc}); "
            "expected fingerprint='...', a string that changes whenever the context would "
            "change the results (e.g. a hash of the model file and the data), so that "
            "resume=True can tell the same grid from a changed one"
        ) from None
    return context, {"context": as_json, **kind}


def _check_jobs(jobs: int, scheduler: str | None) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int | np.integer) or jobs < 1:
        raise EmbedcausalError(f"run_grid: jobs = {jobs!r}; expected an integer >= 1")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise EmbedcausalError(
            f"run_grid: scheduler = {scheduler!r}; expected a Dask scheduler address such as "
            "'tcp://127.0.0.1:8786'"
        )


def _check_picklable(task: Callable[..., Any]) -> None:
    name = getattr(task, "__qualname__", repr(task))
    main = sys.modules.get("__main__")
    if getattr(task, "__module__", None) == "__main__" and not getattr(main, "__file__", None):
        raise EmbedcausalError(
            f"run_grid: the task {name!r} is defined in an interactive session, which worker "
            "processes cannot import; expected a function in an importable module (or use "
            "jobs=1, or a Dask scheduler)"
        )
    try:
        pickle.dumps(task)
    except Exception as exc:  # lambdas, closures, bound methods of unpicklable objects...
        raise EmbedcausalError(
            f"run_grid: the task {name!r} cannot be sent to worker processes ({exc}); expected "
            "a function defined at the top level of an importable module (or use jobs=1)"
        ) from None


def _pickled(context: Any, dumps: Callable[[Any], bytes], where: str) -> bytes:
    try:
        return dumps(context)
    except Exception as exc:  # open files, locks, lambdas, ...
        raise EmbedcausalError(
            f"run_grid: the context ({type(context).__name__}) cannot be sent to {where} "
            f"({' '.join(str(exc).split())}); expected a picklable object (or use jobs=1)"
        ) from None


# --------------------------------------------------------------------------- reporting


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, BrokenProcessPool):
        return f"BrokenProcessPool: {_BROKEN_POOL}"
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _report_failures(store: GridStore, total: int, failures: dict[str, BaseException]) -> None:
    if not failures:
        return
    path = store.write_failures(failures)
    groups: dict[str, list[str]] = {}
    for key, exc in failures.items():
        groups.setdefault(_one_line(exc), []).append(key)
    parts = []
    for msg, ks in groups.items():
        who = ks[0] if len(ks) == 1 else ", ".join(ks[:3]) + (" …" if len(ks) > 3 else "")
        parts.append(f"{who}{f' ({len(ks)} points)' if len(ks) > 1 else ''}: {msg}")
    if len(parts) > 5:
        parts = [*parts[:5], f"{len(parts) - 5} more different errors"]
    raise RunError(
        f"{len(failures)} of {total} grid points failed: {'; '.join(parts)}; rerun with "
        f"resume=True (CLI: --resume) to retry them (tracebacks in {path})"
    )


def _bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        disable=not enabled,
        unit="point",
        desc="grid points",
        file=sys.stderr,
        dynamic_ncols=True,
    )
