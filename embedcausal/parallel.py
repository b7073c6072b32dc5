"""Running many fits: in-process, on local processes, or on a Dask distributed cluster.

Sensitivity grids and simulation studies are lists of :class:`GridPoint`\\ s. :func:`run_grid`
runs a task on each point and writes each result, an ``xarray.Dataset``, to
``out_dir/points/<key>.nc`` the moment it is done (to a temporary file in the same directory,
then ``os.replace``, so a half-written file is never read). An interrupted run — Ctrl-C, a
killed worker or a killed parent process — continues with ``resume=True`` and computes only
the missing points.

Execution is delegated, never scheduled by hand: ``jobs == 1`` runs in this process (so a task
can reuse a compiled model across points), ``jobs > 1`` uses the standard library's
``ProcessPoolExecutor`` (spawned processes), and ``scheduler="tcp://HOST:PORT"`` submits to a
Dask distributed cluster (``pip install 'embedcausal[distributed]'``).

Tasks receive one dict: the grid's ``context`` (JSON-serialisable, the same for every point)
at the top level and the point's parameters under ``"params"``. :func:`worker_cache` lets a
task build something expensive (a compiled model) once per process and reuse it for every
point that process runs. See ``docs/parallel.md``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from embedcausal.errors import EmbedcausalError, RunError
from embedcausal.files import atomic_write

__all__ = [
    "DASK_CONNECT_TIMEOUT",
    "GridPoint",
    "GridResult",
    "clear_worker_cache",
    "run_grid",
    "worker_cache",
]

_log = logging.getLogger(__name__)

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[str, threading.Lock] = {}

#: Seconds to wait for a Dask scheduler to answer before giving up.
DASK_CONNECT_TIMEOUT = 10.0

_POINTS = "points"
_GRID_FILE = "grid.json"
_FAILURES_FILE = "failures.json"
_LOCK_FILE = ".lock"
_BROKEN_POOL = (
    "a worker process died abruptly (killed, out of memory, or the script calling run_grid "
    "lacks an `if __name__ == '__main__':` guard)"
)


# --------------------------------------------------------------------------- grid points


@dataclass(frozen=True)
class GridPoint:
    """One point of a grid.

    Parameters
    ----------
    key : str
        Unique, filesystem-safe id: a letter or digit, then letters, digits, ``.``, ``_`` or
        ``-`` (e.g. ``"t0.25_y0.50"``). The point's result is ``points/<key>.nc``.
    params : dict
        JSON-serialisable parameters of this point (numpy scalars are accepted and stored as
        plain numbers). The task sees them under ``payload["params"]``.

    Raises
    ------
    EmbedcausalError
        If the key is not filesystem-safe or ``params`` is not a dict.
    """

    key: str
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.fullmatch(self.key):
            raise EmbedcausalError(
                f"grid key {self.key!r} is not filesystem-safe; expected a letter or digit "
                "followed by letters, digits, '.', '_' or '-'"
            )
        if not isinstance(self.params, dict):
            raise EmbedcausalError(
                f"grid point {self.key!r}: params is {type(self.params).__name__}; expected a dict"
            )


# --------------------------------------------------------------------------- worker cache


def worker_cache[T](key: str, factory: Callable[[], T]) -> T:
    """Return the object cached under ``key`` in this process, building it once with ``factory``.

    The cache is a plain per-process dict: it works the same in-process (``jobs=1``), in a
    local pool process and on a Dask worker. Each process builds its own copy the first time
    one of its tasks asks for it and then reuses it for every later point it runs, so a task
    can compile a model once per model structure and only swap data between points::

        def fit_point(payload):
            model = worker_cache(f"model-{payload['spec_hash']}", lambda: compile_model(...))
            ...

    Choose ``key`` so that it changes whenever the cached object would (hash the model file
    and data, not just the name). Building is serialised per key, so two threads of one Dask
    worker never build the same object twice; using one cached object from several threads
    at once is the task's concern (run PyMC fits with ``threads_per_worker=1``).

    Parameters
    ----------
    key : str
        Cache key.
    factory : callable
        Called with no arguments to build the object when ``key`` is not cached yet. If it
        raises, nothing is cached.

    Returns
    -------
    object
        The cached object.
    """
    try:
        return _CACHE[key]
    except KeyError:
        pass
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _CACHE:
            _CACHE[key] = factory()
        return _CACHE[key]


def clear_worker_cache() -> None:
    """Drop everything :func:`worker_cache` holds in this process (e.g. compiled models)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _KEY_LOCKS.clear()


# --------------------------------------------------------------------------- results


@dataclass
class GridResult:
    """Where a grid's results are and which points this call computed.

    Attributes
    ----------
    out_dir : Path
        The run directory (``grid.json`` and ``points/<key>.nc``).
    keys : list of str
        Every point's key, in grid order.
    computed : list of str
        Keys fitted by this call, in grid order.
    skipped : list of str
        Keys whose finished file was found on disk and reused (``resume=True``).
    """

    out_dir: Path
    keys: list[str]
    computed: list[str]
    skipped: list[str]

    @classmethod
    def open(cls, out_dir: str | Path) -> GridResult:
        """Open a grid directory written by :func:`run_grid` (finished or not).

        ``computed`` is empty and ``skipped`` lists the points whose file exists.

        Raises
        ------
        RunError
            If ``out_dir/grid.json`` is missing or unreadable.
        """
        out = Path(out_dir)
        grid = _read_grid_json(out)
        keys = [k for k, _ in grid["points"]]
        return cls(out, keys, [], [k for k in keys if (out / _POINTS / f"{k}.nc").is_file()])

    @property
    def missing(self) -> list[str]:
        """Keys without a finished file (failed or not run yet), in grid order."""
        return [k for k in self.keys if not self.path(k).is_file()]

    def path(self, key: str) -> Path:
        """File of one point's result."""
        if key not in self.keys:
            shown = ", ".join(self.keys[:5]) + (" …" if len(self.keys) > 5 else "")
            raise EmbedcausalError(
                f"{self.out_dir}: no grid point {key!r}; expected one of: {shown or '(none)'}"
            )
        return self.out_dir / _POINTS / f"{key}.nc"

    def load(self, key: str) -> xr.Dataset:
        """The result of one point, loaded into memory (the file is closed).

        Raises
        ------
        EmbedcausalError
            If ``key`` is not in the grid.
        RunError
            If the point has no finished file (it failed or has not run).
        """
        path = self.path(key)
        if not path.is_file():
            raise RunError(
                f"{path}: grid point {key!r} has no result (it failed or has not run); "
                "rerun with resume=True (CLI: --resume) to compute it"
            )
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()

    def datasets(self) -> dict[str, xr.Dataset]:
        """Every point's result, by key, in grid order (see :meth:`load`)."""
        return {k: self.load(k) for k in self.keys}


# --------------------------------------------------------------------------- JSON and files


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} value {obj!r:.60} is not JSON-serialisable")


def _jsonable(obj: Any, what: str) -> Any:
    """``obj`` as plain JSON data (a round trip), so every execution mode sees the same types."""
    try:
        return json.loads(json.dumps(obj, default=_json_default, allow_nan=True))
    except (TypeError, ValueError) as exc:
        raise EmbedcausalError(
            f"{what} is not JSON-serialisable ({exc}); expected str, numbers, bools, None, "
            "lists and dicts with string keys"
        ) from None


def _fingerprint(points: Sequence[tuple[str, Any]], context: dict) -> str:
    body = json.dumps(
        {"points": [[k, p] for k, p in points], "context": context}, sort_keys=True, default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _atomic_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _read_grid_json(out: Path) -> dict:
    path = out / _GRID_FILE
    try:
        grid = json.loads(path.read_text())
        grid["points"] = [(str(k), p) for k, p in grid["points"]]
    except FileNotFoundError:
        raise RunError(
            f"{path}: not found; expected a grid directory written by run_grid"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: unreadable ({exc}); expected the grid.json of run_grid") from None
    return grid


def _attr(point: str, where: str, name: str, value: Any) -> Any:
    """One attribute value in a form netCDF can store (see :func:`run_grid`)."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=_json_default)
    if isinstance(value, list | tuple | np.ndarray):
        arr = np.asarray(value)
        if arr.dtype.kind == "b":
            return arr.astype(np.int8)
        if arr.dtype.kind in "iuf":
            return arr
        if arr.dtype.kind == "U" and arr.ndim == 1:
            return [str(v) for v in arr]
    raise EmbedcausalError(
        f"grid point {point!r}: attribute {name!r}{where} is {type(value).__name__} "
        f"({value!r:.60}); expected str, int, float, a dict (stored as JSON) or a list of "
        "numbers or of strings"
    )


def _netcdf_safe(ds: xr.Dataset, point: str) -> xr.Dataset:
    ds = ds.copy(deep=False)
    ds.attrs = {k: _attr(point, "", k, v) for k, v in ds.attrs.items()}
    for name, var in ds.variables.items():
        var.attrs = {k: _attr(point, f" of variable {name!r}", k, v) for k, v in var.attrs.items()}
    return ds


def _write_point(points_dir: Path, key: str, ds: Any) -> None:
    if not isinstance(ds, xr.Dataset):
        raise EmbedcausalError(
            f"grid point {key!r}: the task returned {type(ds).__name__}; expected an xarray.Dataset"
        )
    safe = _netcdf_safe(ds, key)
    atomic_write(points_dir / f"{key}.nc", lambda tmp: safe.to_netcdf(tmp, engine="h5netcdf"))


def _readable(path: Path) -> bool:
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds.load()
        return True
    except Exception:  # whatever the reason, an unreadable file is recomputed
        return False


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` (POSIX ``flock``; released when the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock
        yield
        return
    with open(out / _LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EmbedcausalError(
                f"{out}: another run_grid is writing to this directory; wait for it to finish "
                "or choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- preparing a run


def _check_points(points: Sequence[GridPoint]) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    seen: set[str] = set()
    dup: set[str] = set()
    for i, p in enumerate(points):
        if not isinstance(p, GridPoint):
            raise EmbedcausalError(
                f"grid point #{i} is {type(p).__name__}; expected embedcausal.parallel.GridPoint"
            )
        (dup if p.key in seen else seen).add(p.key)
        out.append((p.key, _jsonable(p.params, f"grid point {p.key!r}: params")))
    if dup:
        raise EmbedcausalError(f"grid keys repeat: {sorted(dup)}; expected unique keys")
    return out


def _check_context(context: dict | None) -> dict:
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise EmbedcausalError(f"run_grid: context is {type(context).__name__}; expected a dict")
    if "params" in context:
        raise EmbedcausalError(
            "run_grid: context has a key 'params'; expected other keys ('params' carries each "
            "point's parameters)"
        )
    return _jsonable(context, "run_grid: context")


def _describe_change(old: dict, points: list[tuple[str, dict]], context: dict) -> str:
    old_pts, new_pts = dict(old["points"]), dict(points)
    parts = []

    def names(keys: Sequence[str]) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")

    if added := new_pts.keys() - old_pts.keys():
        parts.append(f"points added: {names(added)}")
    if removed := old_pts.keys() - new_pts.keys():
        parts.append(f"points removed: {names(removed)}")
    if changed := [k for k in new_pts.keys() & old_pts.keys() if new_pts[k] != old_pts[k]]:
        parts.append(f"parameters changed for: {names(changed)}")
    old_ctx = old.get("context", {})
    if ctx := [k for k in old_ctx.keys() | context.keys() if old_ctx.get(k) != context.get(k)]:
        parts.append(f"context differs in: {names(ctx)}")
    if not parts and [k for k, _ in old["points"]] != [k for k, _ in points]:
        parts.append("the points are in another order")
    return "; ".join(parts) or "the grid differs"


def _prepare_dir(out: Path, points: list[tuple[str, dict]], context: dict, resume: bool) -> Path:
    points_dir = out / _POINTS
    grid_file = out / _GRID_FILE
    fp = _fingerprint(points, context)
    existing = list(points_dir.glob("*.nc")) if points_dir.is_dir() else []
    if existing and not resume:
        raise EmbedcausalError(
            f"{out}: a grid run with {len(existing)} finished point(s) exists; pass resume=True "
            "(CLI: --resume) to continue it, or choose another --out"
        )
    if resume and grid_file.is_file():
        old = _read_grid_json(out)
        if old.get("fingerprint") != fp:
            raise EmbedcausalError(
                f"{out}: cannot resume: {_describe_change(old, points, context)} "
                f"(compared with {grid_file}); use the same grid and settings, or choose "
                "another --out"
            )
    points_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*points_dir.glob(".*.tmp-*"), *out.glob(".*.tmp-*")]:
        _log.info("removing the stale temporary file %s", stale)
        stale.unlink(missing_ok=True)
    _atomic_json(
        grid_file,
        {"fingerprint": fp, "points": [[k, p] for k, p in points], "context": context},
    )
    (out / _FAILURES_FILE).unlink(missing_ok=True)
    return points_dir


def _split_done(points_dir: Path, keys: list[str], resume: bool) -> tuple[list[str], list[str]]:
    done, todo = [], []
    for key in keys:
        f = points_dir / f"{key}.nc"
        if resume and f.is_file():
            if _readable(f):
                done.append(key)
                continue
            _log.warning("%s is unreadable (a damaged file); computing grid point %r again", f, key)
            f.unlink()
        todo.append(key)
    return done, todo


def _check_jobs(jobs: int, scheduler: str | None) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int | np.integer) or jobs < 1:
        raise EmbedcausalError(f"run_grid: jobs = {jobs!r}; expected an integer >= 1")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise EmbedcausalError(
            f"run_grid: scheduler = {scheduler!r}; expected a Dask scheduler address such as "
            "'tcp://127.0.0.1:8786'"
        )


def _check_picklable(task: Callable) -> None:
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


# --------------------------------------------------------------------------- the runner


def run_grid(
    task: Callable[[dict], xr.Dataset],
    points: Sequence[GridPoint],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    context: dict | None = None,
) -> GridResult:
    """Run ``task`` on every grid point and write each result the moment it is done.

    Parameters
    ----------
    task : callable
        ``task(payload) -> xarray.Dataset`` with ``payload = {**context, "params": params}``
        (both as plain JSON data, whatever the execution mode). For ``jobs > 1`` and Dask it
        must be picklable: a function at the top level of a module that the workers can import.
    points : sequence of GridPoint
        The grid; keys must be unique.
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
    context : dict, optional
        JSON-serialisable settings shared by every point (model file, data path, sampler
        settings...), merged at the top level of each payload; it may not use the key
        ``"params"``. Part of the fingerprint checked on resume.

    Returns
    -------
    GridResult
        Keys, which points were computed or skipped, and access to the datasets.

    Raises
    ------
    EmbedcausalError
        Bad keys or arguments; an existing run without ``resume``; a changed grid with
        ``resume``; another process writing to ``out_dir``; Dask not installed or the
        scheduler unreachable; or points that failed. Failures are collected: the other
        points finish and are written first, then one error names each failed key and its
        message (tracebacks in ``out_dir/failures.json``).
    KeyboardInterrupt
        Re-raised after cancelling pending points and stopping local workers; finished points
        stay on disk for ``resume=True``.

    Notes
    -----
    Dataset attributes are stored as netCDF attributes: ``str``, ``int``, ``float`` and lists or
    arrays of numbers or of strings are kept, ``bool`` becomes ``0``/``1``, a ``dict`` becomes a
    JSON string (``json.loads`` it back); anything else (``None``, objects) fails the point.
    """
    pts = _check_points(points)
    ctx = _check_context(context)
    _check_jobs(jobs, scheduler)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = [k for k, _ in pts]
    with _locked(out):
        points_dir = _prepare_dir(out, pts, ctx, resume)
        skipped, todo = _split_done(points_dir, keys, resume)
        if skipped:
            _log.info("%s: resuming; %d of %d points are done", out, len(skipped), len(keys))
        if todo and scheduler is None and jobs > 1:
            _check_picklable(task)
        params = dict(pts)
        payloads = {k: {**ctx, "params": params[k]} for k in todo}
        computed, failures = _execute(task, payloads, points_dir, jobs, scheduler, progress, keys)
        _report_failures(out, len(keys), failures)
    return GridResult(out, keys, [k for k in keys if k in computed], skipped)


def _execute(
    task: Callable,
    payloads: dict[str, dict],
    points_dir: Path,
    jobs: int,
    scheduler: str | None,
    progress: bool,
    keys: list[str],
) -> tuple[set[str], dict[str, BaseException]]:
    computed: set[str] = set()
    failures: dict[str, BaseException] = {}
    with _bar(len(keys), len(keys) - len(payloads), progress) as bar:

        def done(key: str, result: Any, error: BaseException | None) -> None:
            if error is None:
                try:
                    _write_point(points_dir, key, result)
                except Exception as exc:  # the point failed; the grid goes on
                    error = exc
            if error is None:
                computed.add(key)
            else:
                failures[key] = error
            bar.update(1)

        if not payloads:
            pass
        elif scheduler is not None:
            _run_dask(task, payloads, scheduler, done)
        elif jobs == 1:
            _run_here(task, payloads, done)
        else:
            _run_pool(task, payloads, int(jobs), done)
    return computed, {k: failures[k] for k in keys if k in failures}


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, BrokenProcessPool):
        return f"BrokenProcessPool: {_BROKEN_POOL}"
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _report_failures(out: Path, total: int, failures: dict[str, BaseException]) -> None:
    if not failures:
        return
    record = [
        {
            "key": key,
            "error": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        }
        for key, exc in failures.items()
    ]
    _atomic_json(out / _FAILURES_FILE, record)
    groups: dict[str, list[str]] = {}
    for key, exc in failures.items():
        groups.setdefault(_one_line(exc), []).append(key)
    parts = []
    for msg, ks in groups.items():
        who = ks[0] if len(ks) == 1 else ", ".join(ks[:3]) + (" …" if len(ks) > 3 else "")
        parts.append(f"{who}{f' ({len(ks)} points)' if len(ks) > 1 else ''}: {msg}")
    if len(parts) > 5:
        parts = [*parts[:5], f"{len(parts) - 5} more different errors"]
    raise EmbedcausalError(
        f"{len(failures)} of {total} grid points failed: {'; '.join(parts)}; rerun with "
        f"resume=True (CLI: --resume) to retry them (tracebacks in {out / _FAILURES_FILE})"
    )


def _bar(total: int, initial: int, enabled: bool):
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


def _run_one(task: Callable[[dict], xr.Dataset], payload: dict) -> xr.Dataset:
    return task(payload)


Done = Callable[[str, Any, BaseException | None], None]


def _run_here(task: Callable, payloads: dict[str, dict], done: Done) -> None:
    for key, payload in payloads.items():
        try:
            result = _run_one(task, payload)
        except Exception as exc:  # reported with its key; KeyboardInterrupt propagates
            done(key, None, exc)
        else:
            done(key, result, None)


# ---- local processes


def _init_worker(parent_pid: int) -> None:
    """Pool worker setup: Ctrl-C is the parent's to handle; exit if the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), daemon=True, name="embedcausal-watch-parent"
    ).start()


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:  # the parent was killed: do not run on as an orphan
            os._exit(1)


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()


def _run_pool(task: Callable, payloads: dict[str, dict], jobs: int, done: Done) -> None:
    pool = cf.ProcessPoolExecutor(
        max_workers=min(jobs, len(payloads)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )
    futures: dict[cf.Future, str] = {}
    try:
        futures = {pool.submit(_run_one, task, pl): key for key, pl in payloads.items()}
        for fut in cf.as_completed(futures):
            try:
                result = fut.result()
            except Exception as exc:  # a worker's failure, reported with its key
                done(futures[fut], None, exc)
            else:
                done(futures[fut], result, None)
    except BaseException:  # Ctrl-C (or a bug): stop now, finished points stay on disk
        for fut in futures:
            fut.cancel()
        _stop_workers(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# ---- Dask


def _connect(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise EmbedcausalError(
            f"scheduler {address!r} given but dask.distributed is not installed; "
            "pip install 'embedcausal[distributed]'"
        ) from None
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise EmbedcausalError(
            f"cannot reach the Dask scheduler at {address!r} ({' '.join(str(exc).split())}); "
            "expected the address of a running scheduler, e.g. tcp://HOST:8786"
        ) from None


def _run_dask(task: Callable, payloads: dict[str, dict], address: str, done: Done) -> None:
    from distributed import as_completed

    client = _connect(address)
    futures: dict[Any, str] = {}
    try:
        run = uuid.uuid4().hex[:8]
        for key, pl in payloads.items():
            fut = client.submit(_run_one, task, pl, key=f"embedcausal-{run}-{key}", pure=False)
            futures[fut] = key
        try:
            for fut in as_completed(list(futures), loop=client.loop):
                try:
                    result = fut.result()
                except Exception as exc:  # a worker's failure, reported with its key
                    done(futures[fut], None, exc)
                else:
                    done(futures[fut], result, None)
                fut.release()
        except BaseException:  # Ctrl-C (or a bug): cancel what is left on the cluster
            with contextlib.suppress(Exception):
                client.cancel(list(futures))
            raise
    finally:
        client.close()
