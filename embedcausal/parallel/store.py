"""The result store: one grid's directory on disk, and the rules that keep it honest.

Layout::

    out_dir/
      grid.json          # the points, the context (or its fingerprint) and their fingerprint
      points/<key>.nc    # one finished point, written atomically (h5netcdf)
      failures.json      # tracebacks of the points that failed, only when some did
      .lock              # OS-level lock held by the one run_grid writing here

A point's file appears under its final name only once it is complete
(:func:`embedcausal.files.atomic_write`), and only the process that called ``run_grid``
writes, so a file that exists is a finished point and nothing else is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from embedcausal.errors import EmbedcausalError, RunError
from embedcausal.files import atomic_write
from embedcausal.parallel.points import json_default

_log = logging.getLogger(__name__)

POINTS = "points"
GRID_FILE = "grid.json"
FAILURES_FILE = "failures.json"
LOCK_FILE = ".lock"


def fingerprint(record: dict[str, Any]) -> str:
    """SHA-256 of a grid record (``points``, ``context`` and any ``context_*`` entries)."""
    body = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def read_grid_json(out: Path) -> dict:
    """The ``grid.json`` of a grid directory, points as ``[(key, params), ...]``.

    Raises
    ------
    RunError
        If the file is missing or unreadable.
    """
    path = out / GRID_FILE
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


def _atomic_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _names(keys: Sequence[str]) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _describe_change(old: dict, new: dict) -> str:
    old_pts, new_pts = dict(old["points"]), dict(new["points"])
    parts = []
    if added := new_pts.keys() - old_pts.keys():
        parts.append(f"points added: {_names(added)}")
    if removed := old_pts.keys() - new_pts.keys():
        parts.append(f"points removed: {_names(removed)}")
    if changed := [k for k in new_pts.keys() & old_pts.keys() if new_pts[k] != old_pts[k]]:
        parts.append(f"parameters changed for: {_names(changed)}")
    old_ctx, new_ctx = old.get("context"), new.get("context")
    if isinstance(old_ctx, dict) and isinstance(new_ctx, dict):
        if ctx := [k for k in old_ctx.keys() | new_ctx.keys() if old_ctx.get(k) != new_ctx.get(k)]:
            parts.append(f"context differs in: {_names(ctx)}")
    elif old_ctx != new_ctx:
        parts.append("the context differs")
    for what in ("context_type", "context_fingerprint"):
        if (before := old.get(what)) != (now := new.get(what)):
            parts.append(f"{what.replace('_', ' ')} differs ({before!r} before, {now!r} now)")
    if not parts and [k for k, _ in old["points"]] != [k for k, _ in new["points"]]:
        parts.append("the points are in another order")
    return "; ".join(parts) or "the grid differs"


def _attr(point: str, where: str, name: str, value: Any) -> Any:
    """One attribute value in a form netCDF can store (see :func:`run_grid`)."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=json_default)
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


def readable(path: Path) -> bool:
    """Whether a point file opens and loads (a damaged one is computed again)."""
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds.load()
        return True
    except Exception:  # whatever the reason, an unreadable file is recomputed
        return False


class GridStore:
    """One grid directory, held by this process for writing (use as a context manager).

    Entering creates the directory if needed and takes its lock (``filelock``, an OS-level
    lock released when the process ends, even if killed); a second writer fails at once.
    Leaving releases the lock. :meth:`discard` removes what this store created, for a run
    that failed before its first point.

    Parameters
    ----------
    out : Path
        The grid directory.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, GridStore(Path(tmp) / "g") as store:
    ...     store.points_dir.name
    'points'
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.points_dir = self.out / POINTS
        self._created: list[Path] = []  # directories this store created, outermost first
        self._created_grid_json = False
        self._lock: Any = None

    # ---- lock

    def __enter__(self) -> GridStore:
        from filelock import FileLock, Timeout

        missing = [p for p in (self.out, *self.out.parents) if not p.exists()]
        self.out.mkdir(parents=True, exist_ok=True)
        self._created = missing[::-1]
        lock = FileLock(self.out / LOCK_FILE)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            raise EmbedcausalError(
                f"{self.out}: another run_grid is writing to this directory; wait for it to "
                "finish or choose another --out"
            ) from None
        self._lock = lock
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ---- preparing a run

    def prepare(self, record: dict[str, Any], resume: bool) -> None:
        """Check the directory against the grid ``record`` and write ``grid.json``.

        ``record`` holds ``points`` (``[[key, params], ...]``), ``context`` (JSON data or
        ``None``) and optionally ``context_type`` and ``context_fingerprint``; its
        :func:`fingerprint` is stored with it and compared on resume.

        Raises
        ------
        EmbedcausalError
            Finished points exist and ``resume`` is false; or ``resume`` is true and the grid
            differs from the one in ``grid.json`` (the message says what differs).
        """
        grid_file = self.out / GRID_FILE
        fp = fingerprint(record)
        existing = list(self.points_dir.glob("*.nc")) if self.points_dir.is_dir() else []
        if existing and not resume:
            raise EmbedcausalError(
                f"{self.out}: a grid run with {len(existing)} finished point(s) exists; pass "
                "resume=True (CLI: --resume) to continue it, or choose another --out"
            )
        if resume and grid_file.is_file():
            old = read_grid_json(self.out)
            if old.get("fingerprint") != fp:
                raise EmbedcausalError(
                    f"{self.out}: cannot resume: {_describe_change(old, record)} "
                    f"(compared with {grid_file}); use the same grid and settings, or choose "
                    "another --out"
                )
        if not self.points_dir.is_dir():
            self.points_dir.mkdir()
            self._created.append(self.points_dir)
        for stale in [*self.points_dir.glob(".*.tmp-*"), *self.out.glob(".*.tmp-*")]:
            _log.info("removing the stale temporary file %s", stale)
            stale.unlink(missing_ok=True)
        self._created_grid_json = not grid_file.exists()
        _atomic_json(grid_file, {"fingerprint": fp, **record})
        (self.out / FAILURES_FILE).unlink(missing_ok=True)

    def split_done(self, keys: list[str], resume: bool) -> tuple[list[str], list[str]]:
        """``(finished, to do)``: with ``resume``, points whose file opens are finished."""
        done, todo = [], []
        for key in keys:
            f = self.path(key)
            if resume and f.is_file():
                if readable(f):
                    done.append(key)
                    continue
                _log.warning(
                    "%s is unreadable (a damaged file); computing grid point %r again", f, key
                )
                f.unlink()
            todo.append(key)
        return done, todo

    # ---- writing results

    def path(self, key: str) -> Path:
        """The file of one point's result."""
        return self.points_dir / f"{key}.nc"

    def write_point(self, key: str, ds: Any) -> None:
        """Write one finished point atomically.

        Raises
        ------
        EmbedcausalError
            If ``ds`` is not an ``xarray.Dataset`` or an attribute cannot be stored.
        """
        if not isinstance(ds, xr.Dataset):
            raise EmbedcausalError(
                f"grid point {key!r}: the task returned {type(ds).__name__}; expected an "
                "xarray.Dataset"
            )
        safe = _netcdf_safe(ds, key)
        atomic_write(self.path(key), lambda tmp: safe.to_netcdf(tmp, engine="h5netcdf"))

    def write_failures(self, failures: dict[str, BaseException]) -> Path:
        """Record failed points (key, error type, message, traceback) in ``failures.json``."""
        record = [
            {
                "key": key,
                "error": type(exc).__name__,
                "message": str(exc),
                "traceback": "".join(traceback.format_exception(exc)),
            }
            for key, exc in failures.items()
        ]
        path = self.out / FAILURES_FILE
        _atomic_json(path, record)
        return path

    def discard(self) -> None:
        """Remove what this store created (``grid.json``, ``points/``, directories), if empty.

        For a run that failed before its first point: a plain rerun then finds the directory
        as it was. Anything else found there is left alone, and a directory that holds a
        finished point is never discarded.
        """
        if self.points_dir.is_dir() and any(self.points_dir.glob("*.nc")):
            return
        if self._created_grid_json:
            (self.out / GRID_FILE).unlink(missing_ok=True)
        if self._created:  # the lock file is ours too; filelock copes with its removal
            (self.out / LOCK_FILE).unlink(missing_ok=True)
        for d in reversed(self._created):
            with contextlib.suppress(OSError):  # not empty: someone else's files are there
                d.rmdir()
