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

Tasks receive one dict: the point's parameters under ``"params"`` and the grid's ``context``
(JSON-serialisable, the same for every point) merged in at the top level.
:func:`worker_cache` lets a task build something expensive (a compiled model) once per worker
process and reuse it for every point that worker runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from embedcausal.errors import EmbedcausalError

_KEY = re.compile(r"^[A-Za-z0-9._-]+$")
_CACHE: dict[str, Any] = {}


@dataclass(frozen=True)
class GridPoint:
    """One point of a grid.

    Parameters
    ----------
    key : str
        Unique, filesystem-safe id (letters, digits, ``.``, ``_``, ``-``).
    params : dict
        JSON-serialisable parameters of this point.
    """

    key: str
    params: dict = field(default_factory=dict)


def worker_cache[T](key: str, factory: Callable[[], T]) -> T:
    """Return the object cached under ``key`` in this process, building it once with ``factory``.

    Works the same in-process, in a pool process and on a Dask worker: each process builds
    its own copy the first time one of its tasks asks for it.
    """
    if key not in _CACHE:
        _CACHE[key] = factory()
    return _CACHE[key]


@dataclass
class GridResult:
    """Where a grid's results are and which points this call computed."""

    out_dir: Path
    keys: list[str]
    computed: list[str]
    skipped: list[str]

    def path(self, key: str) -> Path:
        """File of one point."""
        return self.out_dir / "points" / f"{key}.nc"

    def load(self, key: str) -> xr.Dataset:
        """The result of one point (loaded into memory; the file is closed)."""
        with xr.open_dataset(self.path(key), engine="h5netcdf") as ds:
            return ds.load()

    def datasets(self) -> dict[str, xr.Dataset]:
        """Every point's result, by key, in grid order."""
        return {k: self.load(k) for k in self.keys}


def _fingerprint(points: Sequence[GridPoint], context: dict) -> str:
    body = json.dumps(
        {"points": [[p.key, p.params] for p in points], "context": context},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _atomic_json(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def _netcdf_safe(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    for k, v in list(ds.attrs.items()):
        if isinstance(v, bool):
            ds.attrs[k] = int(v)
        elif isinstance(v, dict | list | tuple) and not all(
            isinstance(x, int | float | str) for x in (v if not isinstance(v, dict) else [None])
        ):
            ds.attrs[k] = json.dumps(v, default=str)
        elif v is None:
            ds.attrs[k] = ""
    return ds


def _write_point(points_dir: Path, key: str, ds: xr.Dataset) -> None:
    if not isinstance(ds, xr.Dataset):
        raise EmbedcausalError(
            f"grid point {key!r}: the task returned {type(ds).__name__}, expected an xarray.Dataset"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.nc.tmp-", dir=points_dir)
    os.close(fd)
    try:
        _netcdf_safe(ds).to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, points_dir / f"{key}.nc")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _readable(path: Path) -> bool:
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds.load()
        return True
    except Exception:  # any failure means the file must be recomputed
        return False


def _run_one(task: Callable[[dict], xr.Dataset], payload: dict) -> xr.Dataset:
    return task(payload)


def _prepare_dir(out: Path, points: Sequence[GridPoint], context: dict, resume: bool) -> Path:
    points_dir = out / "points"
    grid_file = out / "grid.json"
    fp = _fingerprint(points, context)
    existing = sorted(points_dir.glob("*.nc")) if points_dir.is_dir() else []
    if existing and not resume:
        raise EmbedcausalError(
            f"{out}: {len(existing)} finished grid point(s) exist; pass resume=True "
            "(CLI: --resume) to continue it, or choose another --out"
        )
    if resume and grid_file.is_file():
        old = json.loads(grid_file.read_text())
        if old.get("fingerprint") != fp:
            keys_old = {k for k, _ in old.get("points", [])}
            keys_new = {p.key for p in points}
            what = (
                "the grid points differ"
                if keys_old != keys_new
                else "the parameters or context (model file, data, sampler settings) differ"
            )
            raise EmbedcausalError(
                f"{out}: cannot resume: {what} from the interrupted run; choose another --out"
            )
    points_dir.mkdir(parents=True, exist_ok=True)
    for stale in points_dir.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)
    _atomic_json(
        grid_file,
        {"fingerprint": fp, "points": [[p.key, p.params] for p in points], "context": context},
    )
    return points_dir


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
    """Run ``task`` on every grid point and write each result as soon as it is done.

    Parameters
    ----------
    task : callable
        ``task(payload) -> xarray.Dataset`` with ``payload = {**context, "params": point.params}``.
        Must be importable (a module-level function) for ``jobs > 1`` and Dask.
    points : sequence of GridPoint
    out_dir : path
        ``points/<key>.nc`` per point and ``grid.json`` (the grid and its fingerprint).
    jobs : int
        Local worker processes (1: run in this process).
    scheduler : str, optional
        Address of a Dask distributed scheduler, e.g. ``tcp://127.0.0.1:8786``.
    resume : bool
        Skip points whose file exists and opens; refuse if the grid or context changed.
    progress : bool
        Show a progress bar (points done / total, time left) on stderr.
    context : dict, optional
        JSON-serialisable data shared by every point.

    Returns
    -------
    GridResult

    Raises
    ------
    EmbedcausalError
        Bad keys or arguments, an existing run without ``resume``, an unreachable scheduler,
        or failed points (finished points stay on disk; the message names each failure).
    """
    context = dict(context or {})
    try:
        json.dumps(context)
    except TypeError as exc:
        raise EmbedcausalError(f"run_grid: context is not JSON-serialisable: {exc}") from None
    if jobs < 1:
        raise EmbedcausalError(f"jobs = {jobs}; expected an integer >= 1")
    keys = [p.key for p in points]
    for k in keys:
        if not _KEY.match(k):
            raise EmbedcausalError(
                f"grid key {k!r} is not filesystem-safe; expected letters, digits, '.', '_', '-'"
            )
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise EmbedcausalError(f"grid keys repeat: {sorted(dup)}; expected unique keys")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    points_dir = _prepare_dir(out, points, context, resume)
    skipped, todo = [], []
    for p in points:
        f = points_dir / f"{p.key}.nc"
        if resume and f.is_file() and _readable(f):
            skipped.append(p.key)
        else:
            if f.is_file():
                print(f"embedcausal: {f} is unreadable; recomputing it", file=sys.stderr)
                f.unlink()
            todo.append(p)
    payloads = {p.key: {**context, "params": dict(p.params)} for p in todo}
    bar = _bar(len(points), len(skipped), progress)
    failures: list[str] = []
    computed: list[str] = []

    def done(key: str, result: xr.Dataset | None, error: BaseException | None) -> None:
        if error is not None:
            failures.append(f"{key}: {type(error).__name__}: {error}")
        else:
            _write_point(points_dir, key, result)
            computed.append(key)
        bar.update(1)

    try:
        if scheduler:
            _run_dask(task, payloads, scheduler, done)
        elif jobs == 1:
            for key, payload in payloads.items():
                try:
                    result = _run_one(task, payload)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # reported with its key below
                    done(key, None, exc)
                else:
                    done(key, result, None)
        else:
            _run_pool(task, payloads, jobs, done)
    finally:
        bar.close()
    if failures:
        raise EmbedcausalError(
            f"{len(failures)} of {len(points)} grid points failed: "
            + "; ".join(failures)
            + "; rerun with resume=True (CLI: --resume) to retry them"
        )
    return GridResult(out, keys, [k for k in keys if k in computed], skipped)


def _bar(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        disable=not enabled,
        unit="point",
        desc="grid points",
        file=sys.stderr,
    )


def _run_pool(task, payloads: dict[str, dict], jobs: int, done) -> None:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(_run_one, task, pl): key for key, pl in payloads.items()}
        try:
            for fut in cf.as_completed(futures):
                key = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # a worker's failure, with its key
                    done(key, None, exc)
                else:
                    done(key, result, None)
        except KeyboardInterrupt:
            for fut in futures:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_dask(task, payloads: dict[str, dict], address: str, done) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise EmbedcausalError(
            "a Dask scheduler was given but dask.distributed is not installed; "
            "pip install 'embedcausal[distributed]'"
        ) from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise EmbedcausalError(
            f"cannot reach the Dask scheduler at {address!r}: {exc}; expected tcp://HOST:PORT "
            "of a running scheduler"
        ) from None
    try:
        futures = {
            client.submit(
                _run_one, task, pl, key=f"embedcausal-{key}-{time.time_ns()}", pure=False
            ): key
            for key, pl in payloads.items()
        }
        try:
            for fut in as_completed(list(futures)):
                key = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # a worker's failure, with its key
                    done(key, None, exc)
                else:
                    done(key, result, None)
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise
    finally:
        client.close()
