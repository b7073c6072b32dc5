"""Run directories on disk: held for writing (:func:`writing`) and read back (:func:`load_run`).

A run directory (written by :meth:`embedcausal.Run.save`, its files listed in
:mod:`embedcausal.run`) is self-contained: everything ``effects``, ``compare`` and ``report``
need is inside it, so it keeps working after the project folder is renamed or the data file
moved.

Writing is atomic (a temporary sibling directory moved into place), so a crash never leaves a
half-written run. ``embedcausal fit`` holds an OS-level lock (:func:`writing`, the file
``.NAME.lock`` beside the directory) from before sampling until the run is written, so a
second writer of the same directory fails at once. A run kept after Ctrl-C
(``--keep-partial``) says ``"complete": false`` in ``run.json``; :func:`load_run` refuses it
unless asked (``allow_partial``). The contract: ``docs/contract.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from embedcausal.diagnostics import Diagnostics
from embedcausal.errors import RunError, one_line, shown
from embedcausal.files import make_parents, remove_empty
from embedcausal.identification import Identification
from embedcausal.plan import Design
from embedcausal.prepared import Predictor, PreparedData
from embedcausal.run import RUN_FORMAT, Run
from embedcausal.spec import ModelSpec

#: columns every effects.csv has
EFFECTS_COLUMNS = ("effect", "mean", "sd", "hdi_low", "hdi_high")


def lock_path(directory: str | Path) -> Path:
    """The lock file of a run directory: ``.NAME.lock`` beside it."""
    d = Path(directory)
    return d.with_name(f".{d.name}.lock")


@contextlib.contextmanager
def writing(directory: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Hold a run directory for writing: checks, lock, and cleanup on failure.

    On entry, before any work: ``directory`` must not be a file, nor (unless ``overwrite``)
    exist, nor be a non-empty directory that is not a run; its missing parents are created
    and the OS-level lock ``.NAME.lock`` beside it is taken (failing at once, naming the
    directory, when another process holds it or the place cannot be written). On exit the
    lock is released and its file removed; if the block failed, parents created here are
    removed again. A process killed while holding the lock leaves only the empty lock file,
    which the next writer reuses.

    Raises
    ------
    RunError
    """
    from filelock import FileLock, Timeout

    target = Path(directory)
    _check_target(target, overwrite)
    try:
        created = make_parents(target)
    except OSError as exc:
        raise RunError(
            f"{target}: cannot create its parent directory ({_why(exc)}); expected --out in a "
            "writable place"
        ) from None
    lock = FileLock(lock_path(target))
    try:
        try:
            # a place that cannot be written fails here, not as "locked" (filelock retries)
            os.close(os.open(lock_path(target), os.O_WRONLY | os.O_CREAT, 0o644))
            lock.acquire(blocking=False)
        except Timeout:
            raise RunError(
                f"{target}: another process is writing this run directory (lock "
                f"{lock_path(target).name}); wait for it to finish or choose another --out"
            ) from None
        except OSError as exc:
            raise RunError(
                f"{target}: cannot write there ({_why(exc)}); expected --out in a writable "
                "directory"
            ) from None
        try:
            _check_target(target, overwrite)  # the other writer may have just finished
            yield target
        finally:
            with contextlib.suppress(OSError):
                lock_path(target).unlink()
            lock.release()
    except BaseException:
        if not target.exists():
            remove_empty(created)
        raise


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise RunError(f"{target}: is a file; expected a directory for the run (--out)")
    if target.is_dir():
        if not overwrite:
            raise RunError(f"{target}: already exists; choose another --out or pass --overwrite")
        if any(target.iterdir()) and not (target / "run.json").is_file():
            raise RunError(
                f"{target}: exists and is not a run directory (no run.json); refusing to "
                "replace it, choose another --out"
            )


def _read_meta(d: Path) -> dict[str, Any]:
    path = d / "run.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8
        raise RunError(
            f"{path}: unreadable ({one_line(f'{type(exc).__name__}: {exc}', 200)}); the run is "
            "damaged, refit it"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise RunError(
            f"{path}: format {shown(got)}; expected {RUN_FORMAT} (refit with this version)"
        )
    return meta


def _prepared(meta: dict, tree: xr.DataTree) -> PreparedData:
    m = meta["design"]
    const = tree["constant_data"].to_dataset()
    observed = tree["observed_data"].to_dataset()
    groupings = list(m["groupings"])
    coords = {"obs": np.asarray(const["obs"].values, dtype=object)}
    codes, names = {}, {}
    for g in groupings:
        coords[g] = np.asarray(const[g].values, dtype=object)
        codes[g] = np.asarray(const[f"{g}__code"].values, dtype=np.int64)
        if f"{g}_name" in const.coords:
            names[g] = np.asarray(const[f"{g}_name"].values)
    values = {n: np.asarray(const[n].values, dtype=float) for n in m["frame_columns"] if n in const}
    if m["mediator"]:
        values[m["mediator"]] = np.asarray(observed[m["mediator"]].values, dtype=float)
    means = {
        v.removesuffix("__group_mean"): np.asarray(const[v].values, dtype=float)
        for v in const.data_vars
        if v.endswith("__group_mean")
    }
    y = np.asarray(observed[m["outcome"]].values)
    y = y.astype(float) if y.dtype.kind == "f" else y.astype(np.int64)  # Gaussian: float
    frame = pd.DataFrame({g: coords[g][codes[g]] for g in groupings})
    for node, col in m["frame_columns"].items():
        frame[col] = values[node]
    frame[m["outcome"]] = y
    return PreparedData(
        frame=frame,
        values=values,
        y=y,
        coords=coords,
        group_codes=codes,
        group_names=names,
        nested=dict(m["nested"]),
        adjustment=tuple(m["adjustment"]),
        y_predictors=[Predictor(**p) for p in m["y_predictors"]],
        m_predictors=[Predictor(**p) for p in m["m_predictors"]],
        group_means=means,
        contrast=tuple(m["contrast"]),
        treatment=m["treatment"],
        outcome=m["outcome"],
        mediator=m["mediator"],
        mediator_family=m["mediator_family"],
        dropped=list(m["dropped"]),
        data_hash=m["data_hash"],
        contrast_labels=tuple(m["contrast_labels"]) if m.get("contrast_labels") else None,
    )


def load_run(
    directory: str | Path,
    *,
    log_likelihood: bool = True,
    lazy: bool = False,
    allow_partial: bool = False,
) -> Run:
    """Read a run written by :meth:`Run.save`.

    Parameters
    ----------
    directory : path
    log_likelihood : bool
        Recompute the outcome's pointwise log-likelihood (for ``az.loo``); skip it when only
        the effects are needed.
    lazy : bool
        Leave the posterior and sampler statistics on disk until they are used (the data and
        the effects are read); ``embedcausal effects`` reads a run this way.
    allow_partial : bool
        Read a run kept after an interrupt (``"complete": false``); refused by default.

    Raises
    ------
    RunError
        If the directory or one of its files is missing, damaged or of another format.
    """
    d = Path(directory)
    if not d.is_dir():
        raise RunError(
            f"{d}: not a saved run (no such directory); expected a directory written by "
            "`embedcausal fit --out`"
        )
    for name in ("run.json", "posterior.nc"):
        if not (d / name).is_file():
            raise RunError(
                f"{d / name}: missing; {d} is not a saved run (expected a directory written by "
                "`embedcausal fit --out`)"
            )
    meta = _read_meta(d)
    complete = meta.get("complete", True)
    if not isinstance(complete, bool):
        raise RunError(f"{d / 'run.json'}: complete = {shown(complete)}; expected true or false")
    if not complete and not allow_partial:
        why = meta.get("interrupted") or "interrupted"
        raise RunError(
            f"{d / 'run.json'}: complete = false: a partial run ({one_line(str(why), 200)}), "
            "kept with --keep-partial; pass --allow-partial to use it anyway, or refit"
        )
    try:
        if lazy:
            tree = xr.open_datatree(d / "posterior.nc", engine="h5netcdf")
            small = ("constant_data", "observed_data", "effects")
            tree = xr.DataTree.from_dict(
                {
                    g: tree[g].to_dataset().load() if g in small else tree[g].to_dataset()
                    for g in tree.children
                }
            )
        else:
            with xr.open_datatree(d / "posterior.nc", engine="h5netcdf") as opened:
                tree = opened.load()
    except Exception as exc:  # h5py/netCDF raise many types for a damaged file
        raise RunError(
            f"{d / 'posterior.nc'}: unreadable, truncated or not a netCDF file "
            f"({type(exc).__name__}); the run is damaged, refit it"
        ) from None
    for group in ("posterior", "constant_data", "observed_data"):
        if group not in tree.children:
            raise RunError(
                f"{d / 'posterior.nc'}: group {shown(group)} missing; the run is damaged"
            )
    try:
        spec = ModelSpec.from_dict(
            meta["spec"],
            source=meta["spec_source"],
            base_dir=meta["spec_base_dir"],
            check_files=False,
        )
        prepared = _prepared(meta, tree)
        ident = {k: Identification.from_dict(v) for k, v in meta["identification"].items()}
        diag = Diagnostics.from_dict(meta["diagnostics"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"key {shown(exc.args[0])} missing" if isinstance(exc, KeyError) and exc.args else ""
        raise RunError(
            f"{d / 'run.json'}: damaged ({what or one_line(f'{type(exc).__name__}: {exc}', 200)}) "
            "or does not match posterior.nc; refit the run"
        ) from None
    design = Design(spec=spec, identification=ident, data=prepared, source=meta["design"]["source"])
    effects = None
    if (d / "effects.csv").is_file():
        try:
            effects = pd.read_csv(d / "effects.csv")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise RunError(
                f"{d / 'effects.csv'}: unreadable ({one_line(str(exc), 200)}); the run is damaged"
            ) from None
        missing = [c for c in EFFECTS_COLUMNS if c not in effects.columns]
        if missing:
            raise RunError(
                f"{d / 'effects.csv'}: column {shown(missing[0])} missing; the run is damaged "
                "(refit it)"
            )
    elif "effects" in tree.children:
        raise RunError(
            f"{d / 'effects.csv'}: missing; the run is damaged (refit, or delete the run)"
        )
    run = Run(
        design=design,
        idata=tree,
        diagnostics=diag,
        versions=meta["versions"],
        timings=meta.get("timings", {}),
        effects=effects,
        complete=complete,
        interrupted=str(meta.get("interrupted") or ""),
    )
    if log_likelihood:
        from embedcausal.loglik import log_likelihood as compute

        try:
            ll = compute(tree, design)
        except (KeyError, ValueError, IndexError, OSError, RuntimeError) as exc:
            raise RunError(
                f"{d / 'posterior.nc'}: cannot compute the log-likelihood from it "
                f"({type(exc).__name__}: {one_line(str(exc), 120)}); the run is damaged, refit it"
            ) from None
        if ll is not None:
            run.idata["log_likelihood"] = xr.DataTree(ll)
    return run
