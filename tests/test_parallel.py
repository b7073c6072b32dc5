"""run_grid: in-process, local processes and a real Dask LocalCluster; resume; failures; kills."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _parallel_tasks import (
    Design,
    die_on_two,
    echo_context,
    fail_on_two,
    interrupt_on_two,
    lose_ctrl_c_on_two,
    not_a_dataset,
    scaled,
    sigint_self_on_two,
    square,
    with_attrs,
)

from embedcausal import parallel
from embedcausal.errors import EmbedcausalError, RunError
from embedcausal.parallel import GridPoint, GridResult, executor, point_key, run_grid, worker_cache

HERE = Path(__file__).parent


def grid(n: int = 4) -> list[GridPoint]:
    return [GridPoint(f"x{i}", {"x": i}) for i in range(n)]


def calls(log: Path) -> list[float]:
    """The x of every recorded task call (one file per call)."""
    return sorted(float(p.name.split("-")[0]) for p in log.iterdir()) if log.is_dir() else []


def callers(log: Path) -> set[int]:
    return {int(p.name.split("-")[1]) for p in log.iterdir()}


def check_results(res: GridResult, n: int) -> None:
    data = res.datasets()
    assert list(data) == [f"x{i}" for i in range(n)]
    for i, ds in enumerate(data.values()):
        assert ds["y"].dims == ("chain", "draw")
        np.testing.assert_array_equal(ds["y"].values, np.full((2, 3), float(i**2)))
        assert ds.attrs["x"] == i


def run(task, points, out, log, **kw):
    return run_grid(task, points, out, context={"log": str(log), **kw.pop("ctx", {})}, **kw)


# --------------------------------------------------------------------------- execution modes


def test_in_process_reuses_worker_cache(tmp_path):
    parallel.clear_worker_cache()
    res = run(square, grid(), tmp_path / "out", tmp_path / "log", progress=False)
    check_results(res, 4)
    assert res.computed == ["x0", "x1", "x2", "x3"] and res.skipped == [] and res.missing == []
    pids = {int(res.load(k).attrs["pid"]) for k in res.keys}
    assert pids == {os.getpid()}
    # one cached object served all four points, in order
    assert [int(res.load(k).attrs["cache_calls"]) for k in res.keys] == [1, 2, 3, 4]
    saved = json.loads((tmp_path / "out" / "grid.json").read_text())
    assert saved["points"] == [[f"x{i}", {"x": i}] for i in range(4)]
    assert saved["context"] == {"log": str(tmp_path / "log")}


def test_progress_bar_counts_points(tmp_path, capsys):
    run(square, grid(3), tmp_path / "out", tmp_path / "log", progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "grid points" in err


def test_local_processes(tmp_path):
    points = grid(6)
    res = run(
        square,
        points,
        tmp_path / "out",
        tmp_path / "log",
        jobs=2,
        progress=False,
        ctx={"sleep": 0.05},
    )
    check_results(res, 6)
    per_pid: dict[int, list[int]] = {}
    for k in res.keys:
        ds = res.load(k)
        per_pid.setdefault(int(ds.attrs["pid"]), []).append(int(ds.attrs["cache_calls"]))
    assert os.getpid() not in per_pid and 1 <= len(per_pid) <= 2
    # each worker process built its cached object once and reused it for all its points
    for counts in per_pid.values():
        assert sorted(counts) == list(range(1, len(counts) + 1))


@pytest.fixture(scope="module")
def cluster():
    """A real Dask LocalCluster: 2 worker processes, 1 thread each (shared by this module)."""
    distributed = pytest.importorskip("distributed")
    with pytest.MonkeyPatch.context() as mp:  # the workers must import tests/_parallel_tasks
        mp.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
        with distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=50,
        ) as c:
            yield c


def test_dask_local_cluster(tmp_path, cluster):
    res = run(
        square,
        grid(),
        tmp_path / "out",
        tmp_path / "log",
        scheduler=cluster.scheduler_address,
        progress=False,
    )
    check_results(res, 4)
    assert os.getpid() not in {int(res.load(k).attrs["pid"]) for k in res.keys}
    assert res.computed == res.keys


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "nonsense", "http://127.0.0.1:8786"])
def test_bad_scheduler_address(tmp_path, monkeypatch, address):
    monkeypatch.setattr(executor, "DASK_CONNECT_TIMEOUT", 1.0)
    with pytest.raises(EmbedcausalError, match=f"cannot reach the Dask scheduler at '{address}'"):
        run(square, grid(1), tmp_path / "out", tmp_path / "log", scheduler=address, progress=False)
    assert calls(tmp_path / "log") == []
    assert not (tmp_path / "out").exists()  # nothing left that blocks a plain rerun
    res = run(square, grid(1), tmp_path / "out", tmp_path / "log", progress=False)
    assert res.computed == ["x0"]


def test_failure_before_the_first_point_leaves_a_directory_as_found(tmp_path, monkeypatch):
    monkeypatch.setattr(executor, "DASK_CONNECT_TIMEOUT", 1.0)
    out = tmp_path / "sweep" / "grid"  # a caller's directory and one run_grid would create
    out.parent.mkdir()
    (out.parent / "notes.txt").write_text("the caller's file")
    with pytest.raises(EmbedcausalError, match="cannot reach the Dask scheduler"):
        run(square, grid(2), out, tmp_path / "log", scheduler="tcp://127.0.0.1:9", progress=False)
    assert sorted(p.name for p in out.parent.iterdir()) == ["notes.txt"]
    out.mkdir()  # an existing, empty grid directory stays empty
    with pytest.raises(EmbedcausalError, match="cannot reach the Dask scheduler"):
        run(square, grid(2), out, tmp_path / "log", scheduler="tcp://127.0.0.1:9", progress=False)
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- any context object


def unpicklers(log: Path) -> list[int]:
    """The pid of every unpickling of a :class:`Design` (one file each)."""
    return sorted(int(p.name.split("-")[1]) for p in log.glob("unpickled-*"))


def check_scaled(res: GridResult, n: int, scale: float) -> dict[int, int]:
    """Check the results of :func:`scaled`; return how many points each process ran."""
    per_pid: dict[int, int] = {}
    for i, key in enumerate(res.keys):
        ds = res.load(key)
        np.testing.assert_array_equal(ds["y"].values, np.full((2, 3), scale * i**2))
        per_pid[int(ds.attrs["pid"])] = per_pid.get(int(ds.attrs["pid"]), 0) + 1
    assert sum(per_pid.values()) == n
    return per_pid


def test_object_context_in_process_is_the_object_itself(tmp_path):
    design = Design(tmp_path / "log", scale=3.0)
    res = run_grid(scaled, grid(3), tmp_path / "out", context=design, fingerprint="d1")
    assert check_scaled(res, 3, 3.0) == {os.getpid(): 3}
    assert {int(res.load(k).attrs["context_id"]) for k in res.keys} == {id(design)}
    assert unpicklers(tmp_path / "log") == []  # never pickled at all
    saved = json.loads((tmp_path / "out" / "grid.json").read_text())
    assert saved["context"] is None and saved["context_fingerprint"] == "d1"
    assert saved["context_type"] == "_parallel_tasks.Design"


def test_object_context_is_unpickled_once_per_worker_process(tmp_path):
    design = Design(tmp_path / "log", scale=2.0, sleep=0.05)
    res = run_grid(scaled, grid(8), tmp_path / "out", jobs=2, context=design, fingerprint="d1")
    per_pid = check_scaled(res, 8, 2.0)
    got = unpicklers(tmp_path / "log")
    assert len(got) == len(set(got)) <= 2  # once in each worker process, never per point
    assert set(per_pid) <= set(got) and os.getpid() not in got
    assert max(per_pid.values()) > 1  # and a worker did reuse it for several points


def test_object_context_reaches_each_dask_worker_once(tmp_path, cluster):
    design = Design(tmp_path / "log", scale=2.0, sleep=0.05)
    res = run_grid(
        scaled,
        grid(8),
        tmp_path / "out",
        scheduler=cluster.scheduler_address,
        context=design,
        fingerprint="d1",
        progress=False,
    )
    per_pid = check_scaled(res, 8, 2.0)
    got = unpicklers(tmp_path / "log")
    assert len(got) == len(set(got)) <= 2
    assert set(per_pid) <= set(got) and os.getpid() not in got
    assert max(per_pid.values()) > 1


def test_dict_context_with_dask_keeps_the_payload_convention(tmp_path, cluster):
    res = run(
        square,
        grid(3),
        tmp_path / "out",
        tmp_path / "log",
        scheduler=cluster.scheduler_address,
        progress=False,
        ctx={"sleep": 0.01},
    )
    check_results(res, 3)


def test_object_context_needs_a_fingerprint_and_resume_checks_it(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(EmbedcausalError, match=r"context is a Design, which is not JSON data"):
        run_grid(scaled, grid(2), out, context=Design(tmp_path / "log", 1.0), progress=False)
    assert not out.exists()
    run_grid(scaled, grid(2), out, context=Design(tmp_path / "log", 1.0), fingerprint="v1")
    (out / "points" / "x1.nc").unlink()
    with pytest.raises(
        EmbedcausalError, match=r"cannot resume: context fingerprint differs \('v1' before, 'v2'"
    ):
        run_grid(
            scaled,
            grid(2),
            out,
            context=Design(tmp_path / "log", 1.0),
            fingerprint="v2",
            resume=True,
        )
    res = run_grid(
        scaled, grid(2), out, context=Design(tmp_path / "log", 1.0), fingerprint="v1", resume=True
    )
    assert res.computed == ["x1"] and res.skipped == ["x0"]


def test_json_context_that_is_not_a_dict_is_passed_as_it_is(tmp_path):
    res = run_grid(echo_context, grid(2), tmp_path / "out", context=[1.0, 2.0], progress=False)
    np.testing.assert_array_equal(res.load("x1")["y"].values, [1.0, 2.0])
    saved = json.loads((tmp_path / "out" / "grid.json").read_text())
    assert saved["context"] == [1.0, 2.0] and saved["context_type"] == "builtins.list"
    with pytest.raises(EmbedcausalError, match="cannot resume: the context differs"):
        run_grid(echo_context, grid(2), tmp_path / "out", context=[3.0], resume=True)


@pytest.mark.parametrize("scheduler", [None, "tcp://127.0.0.1:9"])
def test_unpicklable_context_fails_before_the_first_point(tmp_path, scheduler):
    import threading

    class Holder:  # a local class holding a lock: neither pickle nor cloudpickle sends it
        lock = None

    holder = Holder()
    holder.lock = threading.Lock()
    out = tmp_path / "out"
    with pytest.raises(EmbedcausalError, match=r"the context \(Holder\) cannot be sent to"):
        run_grid(scaled, grid(2), out, jobs=2, scheduler=scheduler, context=holder, fingerprint="h")
    assert not out.exists()


# --------------------------------------------------------------------------- resume


def test_existing_run_needs_resume(tmp_path):
    run(square, grid(2), tmp_path / "out", tmp_path / "log", progress=False)
    with pytest.raises(
        EmbedcausalError, match=r"with 2 finished point\(s\) exists; pass resume=True"
    ):
        run(square, grid(2), tmp_path / "out", tmp_path / "log", progress=False)


def test_resume_skips_finished_points(tmp_path):
    run(square, grid(), tmp_path / "out", tmp_path / "log", progress=False)
    (tmp_path / "out" / "points" / "x2.nc").unlink()
    res = run(square, grid(), tmp_path / "out", tmp_path / "log", resume=True, progress=False)
    assert res.computed == ["x2"] and res.skipped == ["x0", "x1", "x3"]
    assert calls(tmp_path / "log") == [0, 1, 2, 2, 3]
    check_results(res, 4)


def test_resume_of_a_new_directory_starts_it(tmp_path):
    res = run(square, grid(2), tmp_path / "new", tmp_path / "log", resume=True, progress=False)
    assert res.computed == ["x0", "x1"]


@pytest.mark.parametrize(
    ("points", "ctx", "message"),
    [
        (grid(2), {"sleep": 0.01}, "context differs in: sleep"),
        (grid(3), {}, "points added: x2"),
        (grid(1), {}, "points removed: x1"),
        ([GridPoint("x0", {"x": 0}), GridPoint("x1", {"x": 5})], {}, "parameters changed for: x1"),
    ],
)
def test_resume_refuses_changed_grid(tmp_path, points, ctx, message):
    run(square, grid(2), tmp_path / "out", tmp_path / "log", progress=False)
    with pytest.raises(EmbedcausalError, match=f"cannot resume: {message}"):
        run(
            square, points, tmp_path / "out", tmp_path / "log", ctx=ctx, resume=True, progress=False
        )


def test_damaged_point_and_stale_temp_files(tmp_path, caplog):
    run(square, grid(2), tmp_path / "out", tmp_path / "log", progress=False)
    points = tmp_path / "out" / "points"
    (points / "x1.nc").write_bytes(b"\x89HDF\r\n half a file")
    (points / ".x0.nc.tmp-123-abcd").write_bytes(b"partial")
    with caplog.at_level(logging.WARNING, logger="embedcausal.parallel"):
        res = run(square, grid(2), tmp_path / "out", tmp_path / "log", resume=True, progress=False)
    assert res.computed == ["x1"] and res.skipped == ["x0"]
    assert "x1.nc is unreadable" in caplog.text
    assert sorted(p.name for p in points.iterdir()) == ["x0.nc", "x1.nc"]
    check_results(res, 2)


def test_open_a_grid_directory(tmp_path):
    run(square, grid(3), tmp_path / "out", tmp_path / "log", progress=False)
    (tmp_path / "out" / "points" / "x1.nc").unlink()
    res = GridResult.open(tmp_path / "out")
    assert res.keys == ["x0", "x1", "x2"] and res.missing == ["x1"]
    assert float(res.load("x2")["y"].mean()) == 4.0
    with pytest.raises(RunError, match=r"x1\.nc: grid point 'x1' has no result"):
        res.load("x1")
    with pytest.raises(EmbedcausalError, match=r"no grid point 'x9'; expected one of: x0, x1"):
        res.load("x9")
    with pytest.raises(RunError, match=r"grid\.json: not found"):
        GridResult.open(tmp_path)


# --------------------------------------------------------------------------- failures


def test_failures_name_the_key_and_keep_the_rest(tmp_path):
    out, log = tmp_path / "out", tmp_path / "log"
    with pytest.raises(
        RunError,
        match=r"^1 of 4 grid points failed: x2: ValueError: x must not be 2; rerun with resume",
    ):
        run(fail_on_two, grid(), out, log, progress=False)
    assert sorted(p.stem for p in (out / "points").glob("*.nc")) == ["x0", "x1", "x3"]
    (record,) = json.loads((out / "failures.json").read_text())
    assert record["key"] == "x2" and "fail_on_two" in record["traceback"]
    res = run(square, grid(), out, log, resume=True, progress=False)
    assert res.computed == ["x2"]
    assert not (out / "failures.json").exists()


def test_failures_in_worker_processes(tmp_path):
    with pytest.raises(EmbedcausalError, match="1 of 4 grid points failed: x2: ValueError"):
        run(fail_on_two, grid(), tmp_path / "out", tmp_path / "log", jobs=2, progress=False)
    assert sorted(p.stem for p in (tmp_path / "out" / "points").glob("*.nc")) == ["x0", "x1", "x3"]


def test_killed_worker_is_reported_and_resumed(tmp_path):
    out, log = tmp_path / "out", tmp_path / "log"
    with pytest.raises(EmbedcausalError, match=r"x2.*worker process died abruptly"):
        run(die_on_two, grid(5), out, log, jobs=2, progress=False, ctx={"sleep": 0.05})
    finished = {p.stem for p in (out / "points").glob("*.nc")}
    assert "x2" not in finished
    res = run(square, grid(5), out, log, resume=True, progress=False, ctx={"sleep": 0.05})
    assert set(res.computed) == {f"x{i}" for i in range(5)} - finished
    check_results(res, 5)


def test_task_must_return_a_dataset(tmp_path):
    with pytest.raises(
        EmbedcausalError,
        match=r"x0: EmbedcausalError: grid point 'x0': the task "
        r"returned dict; expected an xarray.Dataset",
    ):
        run(not_a_dataset, grid(1), tmp_path / "out", tmp_path / "log", progress=False)


def test_attributes_are_made_netcdf_safe(tmp_path):
    attrs = {"ok": True, "n": 3, "diag": {"rhat": 1.01}, "names": ["a", "b"], "v": [1.5, 2.5]}
    res = run_grid(with_attrs, [GridPoint("p", {"attrs": attrs})], tmp_path / "out", progress=False)
    got = res.load("p").attrs
    assert got["ok"] == 1 and got["n"] == 3 and json.loads(got["diag"]) == {"rhat": 1.01}
    assert list(got["names"]) == ["a", "b"] and list(got["v"]) == [1.5, 2.5]
    with pytest.raises(
        EmbedcausalError,
        match=r"q: EmbedcausalError: grid point 'q': attribute "
        r"'bad' is NoneType",
    ):
        run_grid(
            with_attrs,
            [GridPoint("q", {"attrs": {"bad": None}})],
            tmp_path / "out2",
            progress=False,
        )


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("key", ["a/b", "", "x y", ".hidden", "../up"])
def test_bad_keys(key):
    with pytest.raises(EmbedcausalError, match=f"grid key {key!r} is not filesystem-safe"):
        GridPoint(key, {"x": 1})
    with pytest.raises(EmbedcausalError, match="is 201 characters long; expected at most 200"):
        GridPoint("k" * 201)


def test_point_key_keeps_distinct_values_apart():
    assert point_key(t=0.5, m=0.0, y=-1.25) == "t0.5_m0_y-1.25"
    assert point_key("conf", t=0.1) != point_key("conf", t=0.1000001)
    assert point_key("conf", t=0.1000001) == "conf_t0.1000001"
    assert point_key(n=1e-7, big=1e16, i=np.int64(3), b=True, s="ab-1.2") == (
        "n1e-07_big1e16_i3_btrue_sab-1.2"
    )
    assert point_key(v=float("nan"), w=float("-inf")) == "vnan_w-inf"
    # every float reads back from its key: a sweep of close values never shares a file
    values = [0.1, 0.1000001, 0.1 + 1e-17, 1 / 3, 2 / 3, 1e-300, 0.0, 123456789.125]
    keys = [point_key("g", x=v) for v in values]
    assert all(float(k[3:]) == v for k, v in zip(keys, values, strict=True))
    assert len(set(keys)) == len({*values})
    for k in keys:
        GridPoint(k)
    with pytest.raises(EmbedcausalError, match=r"point_key: s = 'a/b' \(str\); expected"):
        point_key(s="a/b")
    with pytest.raises(EmbedcausalError, match=r"point_key: v = None"):
        point_key(v=None)
    with pytest.raises(EmbedcausalError, match="not filesystem-safe"):
        point_key("../up", x=1)


def test_bad_arguments(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(EmbedcausalError, match=r"grid keys repeat: \['a'\]"):
        run_grid(square, [GridPoint("a", {"x": 1}), GridPoint("a", {"x": 2})], out)
    with pytest.raises(EmbedcausalError, match=r"grid point 'a': params is not JSON-serialisable"):
        run_grid(square, [GridPoint("a", {"x": object()})], out)
    with pytest.raises(EmbedcausalError, match="context has a key 'params'"):
        run_grid(square, grid(1), out, context={"params": 1})
    with pytest.raises(EmbedcausalError, match=r"jobs = 0; expected an integer >= 1"):
        run_grid(square, grid(1), out, jobs=0)
    with pytest.raises(EmbedcausalError, match=r"grid point #0 is tuple"):
        run_grid(square, [("x0", {"x": 0})], out)
    with pytest.raises(EmbedcausalError, match="cannot be sent to worker processes"):
        run_grid(lambda payload: square(payload), grid(2), out, jobs=2, progress=False)
    with pytest.raises(EmbedcausalError, match=r"grid keys repeat: \['A', 'a'\].*ignoring case"):
        run_grid(square, [GridPoint("a", {"x": 1}), GridPoint("A", {"x": 2})], out)
    with pytest.raises(EmbedcausalError, match="points is GridPoint; expected a list"):
        run_grid(square, GridPoint("a"), out)
    with pytest.raises(EmbedcausalError, match="fingerprint = ''; expected a non-empty string"):
        run_grid(square, grid(1), out, fingerprint="")
    assert not list((out / "points").glob("*.nc"))
    assert not out.exists()  # a bad grid fails before it touches the disk


def test_interactive_task_with_processes_is_refused_clearly(tmp_path):
    code = (
        "from embedcausal.parallel import GridPoint, run_grid\n"
        "def task(payload):\n    return None\n"
        f"run_grid(task, [GridPoint('a')], {str(tmp_path / 'out')!r}, jobs=2, progress=False)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "EmbedcausalError: run_grid: the task 'task' is defined in an interactive session" in (
        done.stderr
    )


def test_numpy_parameters_are_plain_numbers_for_the_task(tmp_path):
    res = run(
        square,
        [GridPoint("n", {"x": np.int64(3)})],
        tmp_path / "out",
        tmp_path / "log",
        progress=False,
    )
    assert float(res.load("n")["y"].mean()) == 9.0


def test_one_run_per_directory(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(EmbedcausalError, match="another run_grid is writing to this directory"):
            run(square, grid(1), out, tmp_path / "log", progress=False)
    assert calls(tmp_path / "log") == []


def test_a_second_writer_fails_at_once(tmp_path):
    out, log = tmp_path / "out", tmp_path / "log"
    script = tmp_path / "sweep.py"
    script.write_text(
        SCRIPT.format(here=str(HERE), out=str(out), log=str(log), jobs=1, resume=False, sleep=0.3)
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out / "grid.json").exists():
            time.sleep(0.02)
        start = time.monotonic()
        with pytest.raises(EmbedcausalError) as info:
            run(square, grid(8), out, tmp_path / "log2", progress=False, resume=True)
        assert time.monotonic() - start < 1.0
        message = str(info.value)
        assert message.startswith(f"{out}: another run_grid is writing to this directory")
        assert "\n" not in message
        assert calls(tmp_path / "log2") == []
    finally:
        proc.kill()
        proc.wait()


def _with_ctrl_c(fn):
    """Run ``fn`` with Python's default SIGINT handler (KeyboardInterrupt), whatever it was."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return fn()
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("task", [interrupt_on_two, sigint_self_on_two])
def test_interrupted_point_is_never_written(tmp_path, jobs, task):
    out, log = tmp_path / "out", tmp_path / "log"
    if jobs == 2 and task is sigint_self_on_two:  # pool workers leave Ctrl-C to the parent
        res = _with_ctrl_c(lambda: run(task, grid(), out, log, jobs=2, progress=False))
        check_results(res, 4)
        return
    with pytest.raises(KeyboardInterrupt):
        _with_ctrl_c(lambda: run(task, grid(), out, log, jobs=jobs, progress=False))
    finished = {p.stem for p in (out / "points").glob("*.nc")}
    assert "x2" not in finished and not (out / "failures.json").exists()
    assert not list((out / "points").glob(".*"))  # no temporary file left either
    if jobs == 1:
        assert finished == {"x0", "x1"}
    res = run(square, grid(), out, log, resume=True, progress=False)
    assert set(res.computed) == {f"x{i}" for i in range(4)} - finished
    check_results(res, 4)


def test_a_ctrl_c_lost_inside_a_del_still_stops_the_grid(tmp_path, monkeypatch):
    lost = []
    monkeypatch.setattr(sys, "unraisablehook", lost.append)
    out, log = tmp_path / "out", tmp_path / "log"
    with pytest.raises(KeyboardInterrupt):
        _with_ctrl_c(lambda: run(lose_ctrl_c_on_two, grid(), out, log, progress=False))
    assert [type(u.exc_value) for u in lost] == [KeyboardInterrupt]  # Python did drop it
    assert {p.stem for p in (out / "points").glob("*.nc")} == {"x0", "x1"}
    res = run(square, grid(), out, log, resume=True, progress=False)
    assert res.computed == ["x2", "x3"]
    check_results(res, 4)


def test_discard_removes_what_the_store_made_but_never_a_finished_point(tmp_path):
    from embedcausal.parallel.store import GridStore

    record = {"points": [["a", {}]], "context": {}}
    with GridStore(tmp_path / "new" / "grid") as store:
        store.prepare(record, resume=False)
        store.discard()
    assert not (tmp_path / "new").exists()
    with GridStore(tmp_path / "kept") as store:
        store.prepare(record, resume=False)
        store.write_point("a", xr.Dataset({"y": ("i", [1.0])}))
        store.discard()  # e.g. Ctrl-C just after the first file was moved into place
    assert (tmp_path / "kept" / "points" / "a.nc").is_file()
    assert (tmp_path / "kept" / "grid.json").is_file()


def test_worker_cache_builds_once_and_retries_after_an_error():
    parallel.clear_worker_cache()
    built = []
    assert worker_cache("k", lambda: built.append(1) or "obj") == "obj"
    assert worker_cache("k", lambda: built.append(2) or "other") == "obj"
    assert built == [1]

    def boom():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        worker_cache("j", boom)
    assert worker_cache("j", lambda: 5) == 5
    parallel.clear_worker_cache()


# --------------------------------------------------------------------------- interrupted runs

SCRIPT = """
import json, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C raises KeyboardInterrupt
sys.path.insert(0, {here!r})
from _parallel_tasks import square
from embedcausal.parallel import GridPoint, run_grid
if __name__ == "__main__":
    pts = [GridPoint(f"x{{i}}", {{"x": i}}) for i in range(8)]
    kw = dict(context={{"log": {log!r}, "sleep": {sleep}}}, progress=False, resume={resume})
    if {jobs!r} == "dask":
        from distributed import LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0", silence_logs=50) as cluster:
            res = run_grid(square, pts, {out!r}, scheduler=cluster.scheduler_address, **kw)
    else:
        res = run_grid(square, pts, {out!r}, jobs={jobs!r}, **kw)
    print(json.dumps(res.computed))
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


def test_ctrl_c_while_the_pool_starts_stops_at_once(tmp_path):
    out, log = tmp_path / "out", tmp_path / "log"
    script = tmp_path / "sweep.py"
    script.write_text(
        SCRIPT.format(here=str(HERE), out=str(out), log=str(log), jobs=2, resume=False, sleep=30)
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "grid.json").exists():
        time.sleep(0.01)
    time.sleep(0.2)  # the pool's processes are still starting
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # our own sweep: do not leave it running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "KeyboardInterrupt" in err
    assert time.monotonic() - start < 10  # not after a 30 s point
    assert not out.exists()  # nothing finished: the directory it created is gone


@pytest.mark.parametrize(
    ("sig", "jobs", "whole_group"),
    [
        (signal.SIGKILL, 1, True),  # killed run
        (signal.SIGINT, 2, True),  # Ctrl-C in a terminal: the whole foreground group
        (signal.SIGKILL, 2, False),  # killed parent: its pool workers must not run on
        (signal.SIGINT, 1, True),  # Ctrl-C while a task runs in this process
        (signal.SIGINT, "dask", False),  # Ctrl-C in the process that submits to a cluster
    ],
    ids=[
        "sigkill-in-process",
        "ctrl-c-pool",
        "killed-parent-pool",
        "ctrl-c-in-process",
        "ctrl-c-dask",
    ],
)
def test_interrupted_run_resumes_only_missing_points(tmp_path, sig, jobs, whole_group):
    sleep = 0.3
    if jobs == "dask":
        pytest.importorskip("distributed")
        sleep = 0.6  # results come back in bursts: leave Ctrl-C a margin on a busy machine
    out, log = tmp_path / "out", tmp_path / "log"
    script = tmp_path / "sweep.py"
    script.write_text(
        SCRIPT.format(
            here=str(HERE), out=str(out), log=str(log), jobs=jobs, resume=False, sleep=sleep
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    points = out / "points"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(points.glob("*.nc"))) < 3:
        time.sleep(0.02)
    (os.killpg if whole_group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=20)  # Ctrl-C stops the pool promptly
    assert proc.returncode != 0
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in err
    workers = callers(log) - {proc.pid}
    deadline = time.time() + 10
    while time.time() < deadline and not all(_gone(p) for p in workers):
        time.sleep(0.1)
    orphans = [p for p in workers if not _gone(p)]
    for pid in orphans:  # our own sweep's workers: do not leave them running
        os.kill(pid, signal.SIGKILL)
    assert not orphans, "pool workers outlived their parent"

    finished = sorted(p.stem for p in points.glob("*.nc"))
    assert 3 <= len(finished) < 8
    for key in finished:  # every file on disk is complete
        with xr.open_dataset(points / f"{key}.nc", engine="h5netcdf") as ds:
            ds.load()

    script.write_text(
        SCRIPT.format(here=str(HERE), out=str(out), log=str(log), jobs=1, resume=True, sleep=sleep)
    )
    done = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True)
    missing = [f"x{i}" for i in range(8) if f"x{i}" not in finished]
    assert json.loads(done.stdout) == missing
    counts = calls(log)
    assert all(counts.count(float(k[1:])) == 1 for k in finished)  # never recomputed
    assert sorted(p.name for p in points.iterdir()) == [f"x{i}.nc" for i in range(8)]

    fresh = run(square, grid(8), tmp_path / "fresh", tmp_path / "log2", progress=False)
    resumed = GridResult.open(out)
    for key in fresh.keys:
        a, b = fresh.load(key), resumed.load(key)
        xr.testing.assert_identical(a["y"], b["y"])
        assert a.attrs["x"] == b.attrs["x"]
