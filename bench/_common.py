"""Shared helpers for ``bench/peers.py``: the panel, the design, diagnostics, the runner, tables.

Everything that must be done *the same way for every contestant* lives here:

* the panel (:func:`build_panel`) and its standardisation (:func:`design`,
  :func:`standardised_frame`), so the hand-written models see exactly the numbers that
  embedcausal's ``prepare`` builds;
* the convergence numbers (:func:`diagnostics`): ArviZ's ``ess`` (bulk and tail) and ``rhat``
  over every free parameter a contestant saved, nothing per-observation;
* the runner (:func:`run_worker`): one fresh process per run, its process tree's memory sampled
  while it runs, the kernel's high-water mark read when it ends;
* machine information and the tables.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SEED = 20201
TARGET_ACCEPT = 0.8  # embedcausal's [sampler] default; every contestant uses it

TREATMENT, MEDIATOR, OUTCOME = "inst_ties", "personal_ties", "participation"
GROUPS = ("country", "mission")
# The terms of the two linear predictors, in embedcausal's order (treatment, [mediator],
# adjustment set sorted, covariates). embedcausal's `prepare` puts model.covariates into the
# mediator model as well as the outcome model, so `us_war` is in both; the hand-written
# contestants follow the library so that every contestant fits the same model. The embedcausal
# contestant checks its fitted terms against these and records any difference.
MEDIATOR_TERMS = ("inst_ties", "alliance", "threat", "us_war")
OUTCOME_TERMS = ("inst_ties", "personal_ties", "alliance", "threat", "us_war")

PACKAGES = (
    "embedcausal",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "arviz-stats",
    "numpy",
    "xarray",
    "pandas",
    "numba",
    "bambi",
    "formulae",
    "numpyro",
    "jax",
    "jaxlib",
    "psutil",
)

GB = 1024**3


# -- data ---------------------------------------------------------------------------------


def build_panel(n_countries: int, n_missions: int, seed: int = SEED) -> pd.DataFrame:
    """The simulated ``personal`` panel plus the 0/1 column ``us_war``."""
    from embedcausal.simulation import simulate

    frame = simulate("personal", seed=seed, n_countries=n_countries, n_missions=n_missions).data
    frame = frame.copy()
    frame["us_war"] = (frame["mission_type"] == "us_war").astype(np.int64)
    return frame


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.isin(x, [0.0, 1.0]).all())


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = float(np.std(x))
    return (x - float(np.mean(x))) / (sd if sd > 0 else 1.0)


def predictor(frame: pd.DataFrame, name: str, *, centred: bool = False) -> np.ndarray:
    """One predictor column as embedcausal enters it.

    Continuous columns are standardised (mean 0, population SD 1); 0/1 columns are left as they
    are, like ``embedcausal.data.prepare`` does, or centred (mean subtracted) when ``centred``.
    """
    x = frame[name].to_numpy(dtype=float)
    if _is_binary(x):
        return x - float(np.mean(x)) if centred else x
    return _zscore(x)


@dataclass(frozen=True)
class Design:
    """Arrays of the canonical joint model, shared by the hand-written contestants.

    ``X_m``/``X_y`` are the mediator/outcome design matrices (columns :data:`MEDIATOR_TERMS` /
    :data:`OUTCOME_TERMS`), ``m`` the standardised mediator, ``y`` the 0/1 outcome, and
    ``codes``/``levels`` the integer code of each row and the labels of each grouping.
    """

    X_m: np.ndarray
    X_y: np.ndarray
    m: np.ndarray
    y: np.ndarray
    codes: dict[str, np.ndarray]
    levels: dict[str, np.ndarray]

    @property
    def n_obs(self) -> int:
        """Number of rows."""
        return len(self.y)


def design(frame: pd.DataFrame, *, centred: bool = False) -> Design:
    """Standardised design of the canonical joint model (``centred``: 0/1 columns centred too)."""
    cols = {n: predictor(frame, n, centred=centred) for n in {*MEDIATOR_TERMS, *OUTCOME_TERMS}}
    codes, levels = {}, {}
    for g in GROUPS:
        cat = pd.Categorical(frame[g])
        codes[g] = np.asarray(cat.codes, dtype=np.int64)
        levels[g] = np.asarray(cat.categories)
    return Design(
        X_m=np.column_stack([cols[n] for n in MEDIATOR_TERMS]),
        X_y=np.column_stack([cols[n] for n in OUTCOME_TERMS]),
        m=_zscore(frame[MEDIATOR].to_numpy(dtype=float)),
        y=frame[OUTCOME].to_numpy(dtype=np.int64),
        codes=codes,
        levels=levels,
    )


def standardised_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The panel with every model column replaced by its standardised value (for formulas).

    ``personal_ties`` is z-scored once: the same column is the mediator model's response and
    the outcome model's predictor, as in embedcausal.
    """
    out = pd.DataFrame({g: frame[g].astype(str).to_numpy() for g in GROUPS})
    for n in dict.fromkeys([*MEDIATOR_TERMS, *OUTCOME_TERMS]):
        out[n] = predictor(frame, n)
    out[MEDIATOR] = _zscore(frame[MEDIATOR].to_numpy(dtype=float))
    out[OUTCOME] = frame[OUTCOME].to_numpy(dtype=np.int64)
    return out


# -- sampler settings and results -----------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """MCMC settings shared by every contestant of one run."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = SEED
    target_accept: float = TARGET_ACCEPT

    @property
    def cores(self) -> int:
        """Chains run at once: as many as there are CPUs (embedcausal's rule)."""
        return max(1, min(self.chains, os.cpu_count() or 1))


@dataclass
class Fitted:
    """What a contestant hands back: the draws of its free parameters and sampler facts.

    ``draws`` maps a parameter name to an array ``(chain, draw, *shape)`` on the constrained
    scale; per-observation quantities are never in it. ``phases`` holds optional sub-timings
    (seconds) inside the timed region; ``info`` anything worth recording (which sampler ran,
    device counts, ...); ``save_run`` writes the library's run directory (embedcausal only).
    """

    draws: dict[str, np.ndarray]
    divergences: int
    phases: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    save_run: Callable[[Path], None] | None = None


def draws_from_dataset(ds: Any, names: Iterable[str], prefix: str = "") -> dict[str, np.ndarray]:
    """``{prefix + name: array(chain, draw, ...)}`` from an xarray posterior."""
    out = {}
    for n in names:
        da = ds[n]
        rest = [d for d in da.dims if d not in ("chain", "draw")]
        out[prefix + n] = np.asarray(da.transpose("chain", "draw", *rest).values)
    return out


def divergences_in(stats: Any) -> int:
    """Number of divergent transitions in a ``sample_stats`` group (PyMC or nutpie naming)."""
    for name in ("diverging", "divergences"):
        if name in stats:
            return int(np.asarray(stats[name].values).sum())
    return 0


def save_fitted(fitted: Fitted, directory: Path) -> None:
    """Write the draws (``draws.npz``) of a fitted contestant."""
    np.savez(directory / "draws.npz", **fitted.draws)


def load_draws(directory: Path) -> dict[str, np.ndarray]:
    """Read the draws written by :func:`save_fitted`."""
    with np.load(directory / "draws.npz") as z:
        return {k: z[k] for k in z.files}


def diagnostics(draws: dict[str, np.ndarray]) -> dict[str, float]:
    """Min bulk/tail ESS and max R-hat over every element of every free parameter.

    ArviZ 1.x ``arviz.ess`` (``method="bulk"`` and ``"tail"``, rank-normalised) and
    ``arviz.rhat`` (rank-normalised split R-hat), the same call for every contestant.
    """
    import warnings

    import arviz as az
    import xarray as xr

    ds = xr.Dataset(
        {
            k: (("chain", "draw", *[f"{k}_dim_{i}" for i in range(v.ndim - 2)]), v)
            for k, v in draws.items()
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bulk = az.ess(ds, method="bulk")
        tail = az.ess(ds, method="tail")
        rhat = az.rhat(ds)

    def extreme(res: Any, fn: Any) -> float:
        vals = np.concatenate([np.ravel(res[v].values) for v in res.data_vars])
        vals = vals[np.isfinite(vals)]
        return float(fn(vals)) if vals.size else float("nan")

    return {
        "min_ess_bulk": extreme(bulk, np.min),
        "min_ess_tail": extreme(tail, np.min),
        "max_r_hat": extreme(rhat, np.max),
        "n_parameters": int(sum(int(np.prod(v.shape[2:])) for v in draws.values())),
    }


# -- running one contestant in a fresh process ----------------------------------------------


@dataclass
class ProcessStats:
    """How a worker process ended and how much memory its process tree held.

    ``peak_rss_gb``: the largest *sum* of RSS over the worker and all its descendants seen by
    sampling every ``interval_s`` (shared pages of forked children count once per process, so
    this is an upper bound); ``peak_pss_gb``: the same with PSS (shared pages split between
    the processes that map them); ``ru_maxrss_gb``: the kernel's high-water mark of the largest
    single process among the worker and its waited-for descendants (``wait4``), which catches
    peaks shorter than the sampling interval; ``max_processes``: most processes seen at once.
    """

    returncode: int
    elapsed_s: float
    peak_rss_gb: float
    peak_pss_gb: float
    ru_maxrss_gb: float
    max_processes: int
    interval_s: float
    timed_out: bool = False
    over_memory: bool = False

    @property
    def peak_gb(self) -> float:
        """The reported peak: sampled tree sum, or the kernel's mark if that was higher."""
        return max(self.peak_rss_gb, self.ru_maxrss_gb)


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a worker: this checkout first on ``PYTHONPATH`` (not an installed copy)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def run_worker(
    argv: Sequence[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    interval_s: float = 0.05,
    timeout_s: float | None = None,
    max_rss_gb: float | None = None,
) -> ProcessStats:
    """Run ``argv`` in a new session, sampling its process tree's memory until it exits.

    stdout and stderr go to ``log``. A run past ``timeout_s``, or whose tree's summed RSS
    passes ``max_rss_gb``, is killed (its whole process group, which this function created)
    and reported with ``timed_out`` / ``over_memory``.
    """
    import psutil

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    root = psutil.Process(proc.pid)
    peak_rss = peak_pss = 0
    max_procs = 1
    start = time.perf_counter()
    timed_out = over_memory = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        rss = pss = 0
        for p in procs:
            try:
                mi = p.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            rss += mi.rss
            pss += getattr(mi, "pss", mi.rss)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        max_procs = max(max_procs, len(procs))
        timed_out = timeout_s is not None and time.perf_counter() - start > timeout_s
        over_memory = max_rss_gb is not None and rss > max_rss_gb * GB
        if timed_out or over_memory:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(interval_s)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ProcessStats(
        returncode=proc.returncode,
        elapsed_s=elapsed,
        peak_rss_gb=peak_rss / GB,
        peak_pss_gb=peak_pss / GB,
        ru_maxrss_gb=usage.ru_maxrss * 1024 / GB,  # ru_maxrss is in KiB on Linux
        max_processes=max_procs,
        interval_s=interval_s,
        timed_out=timed_out,
        over_memory=over_memory,
    )


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def du_bytes(path: Path) -> tuple[int, int]:
    """(disk usage like ``du``, apparent size) of a file or directory tree, in bytes."""
    disk = apparent = 0
    paths = [path] if path.is_file() else [path, *path.rglob("*")]
    for p in paths:
        st = p.lstat()
        disk += st.st_blocks * 512
        apparent += st.st_size if p.is_file() else 0
    return disk, apparent


# -- the machine ----------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, load, Python and package versions, relevant environment variables."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    env_keys = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "XLA_FLAGS")
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / GB, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "packages": versions,
        "env": {k: os.environ[k] for k in env_keys if k in os.environ},
    }


def format_machine(info: dict[str, Any]) -> str:
    """Machine information as a few lines of text."""
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    env = ", ".join(f"{k}={v}" for k, v in info["env"].items()) or "none set"
    return "\n".join(
        [
            f"machine: {info['cpu']}, {info['logical_cores']} logical / "
            f"{info['physical_cores']} physical cores, {info['ram_gb']} GB RAM, {info['os']}",
            f"load average at start (1/5/15 min): {info['load_average']}",
            f"python {info['python']} ({info['python_executable']})",
            f"packages: {pk}",
            f"thread/BLAS environment: {env}",
        ]
    )


# -- tables ---------------------------------------------------------------------------------


def median(values: Iterable[float | None]) -> float:
    """Median of the finite values (NaN when there are none)."""
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    return statistics.median(vals) if vals else float("nan")


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return format(value, fmt) if fmt else str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A Markdown table; ``columns`` are ``(header, key, format spec)``.

    Columns without a format spec (text) are left-aligned, numbers right-aligned.
    """
    head = [h for h, _, _ in columns]
    left = [not f for _, _, f in columns]
    body = [[_cell(r.get(k), f) for _, k, f in columns] for r in rows]
    widths = [max([len(h), *(len(b[i]) for b in body)]) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        cols = zip(cells, widths, left, strict=True)
        padded = [c.ljust(w) if lft else c.rjust(w) for c, w, lft in cols]
        return "| " + " | ".join(padded) + " |"

    rule = [("-" if lft else ":").rjust(w + 2, "-") for w, lft in zip(widths, left, strict=True)]
    sep = "|" + "|".join(rule)
    return "\n".join([line(head), sep + "|", *(line(b) for b in body)])


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON (dataclasses and numpy scalars allowed)."""

    def default(obj: Any) -> Any:
        if hasattr(obj, "__dataclass_fields__"):
            return asdict(obj)
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=default) + "\n")
