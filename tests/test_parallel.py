"""run_grid: in-process, local processes and a real Dask LocalCluster; resume; failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _parallel_tasks import fail_on_two, square

from embedcausal.errors import EmbedcausalError
from embedcausal.parallel import GridPoint, run_grid

HERE = Path(__file__).parent


def grid(n: int = 4) -> list[GridPoint]:
    return [GridPoint(f"x{i}", {"x": i}) for i in range(n)]


def calls(log: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in log.iterdir()) if log.is_dir() else []


def check_results(res, n: int) -> None:
    data = res.datasets()
    assert list(data) == [f"x{i}" for i in range(n)]
    for i, ds in enumerate(data.values()):
        assert float(ds["y"].mean()) == i**2
        assert ds["y"].dims == ("chain", "draw")


def test_in_process_reuses_worker_cache(tmp_path):
    res = run_grid(
        square, grid(), tmp_path / "out", context={"log": str(tmp_path / "log")}, progress=False
    )
    check_results(res, 4)
    assert res.computed == ["x0", "x1", "x2", "x3"] and res.skipped == []
    counts = sorted(int(res.load(k).attrs["cache_calls"]) for k in res.keys)
    assert counts[-1] >= 4  # one cache object served every point in this process
    assert (tmp_path / "out" / "grid.json").is_file()


def test_local_processes(tmp_path):
    res = run_grid(
        square,
        grid(),
        tmp_path / "out",
        jobs=2,
        context={"log": str(tmp_path / "log")},
        progress=False,
    )
    check_results(res, 4)
    pids = {int(res.load(k).attrs["pid"]) for k in res.keys}
    assert os.getpid() not in pids


# @pytest.mark.filterwarnings("ignore::DeprecationWarning")
# @pytest.mark.filterwarnings("ignore::ResourceWarning")
# @pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_dask_local_cluster(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as cluster:
        res = run_grid(
            square,
            grid(),
            tmp_path / "out",
            scheduler=cluster.scheduler_address,
            context={"log": str(tmp_path / "log")},
            progress=False,
        )
    check_results(res, 4)
    assert os.getpid() not in {int(res.load(k).attrs["pid"]) for k in res.keys}


def test_bad_scheduler_address(tmp_path):
    with pytest.raises(EmbedcausalError, match=r"cannot reach the Dask scheduler at 'tcp://127"):
        run_grid(
            square,
            grid(1),
            tmp_path / "out",
            scheduler="tcp://127.0.0.1:9",
            context={"log": str(tmp_path / "log")},
            progress=False,
        )


def test_resume_skips_finished_points(tmp_path):
    ctx = {"log": str(tmp_path / "log")}
    run_grid(square, grid(), tmp_path / "out", context=ctx, progress=False)
    (tmp_path / "out" / "points" / "x2.nc").unlink()
    with pytest.raises(EmbedcausalError, match="pass resume=True"):
        run_grid(square, grid(), tmp_path / "out", context=ctx, progress=False)
    res = run_grid(square, grid(), tmp_path / "out", context=ctx, resume=True, progress=False)
    assert res.computed == ["x2"] and res.skipped == ["x0", "x1", "x3"]
    assert calls(tmp_path / "log") == ["0.0", "1.0", "2.0", "2.0", "3.0"]
    check_results(res, 4)


def test_resume_refuses_changed_grid(tmp_path):
    ctx = {"log": str(tmp_path / "log")}
    run_grid(square, grid(2), tmp_path / "out", context=ctx, progress=False)
    with pytest.raises(EmbedcausalError, match=r"context .* differ"):
        run_grid(
            square,
            grid(2),
            tmp_path / "out",
            context={**ctx, "sleep": 0.1},
            resume=True,
            progress=False,
        )


def test_corrupt_point_is_recomputed(tmp_path):
    ctx = {"log": str(tmp_path / "log")}
    run_grid(square, grid(2), tmp_path / "out", context=ctx, progress=False)
    (tmp_path / "out" / "points" / "x1.nc").write_bytes(b"not netcdf")
    res = run_grid(square, grid(2), tmp_path / "out", context=ctx, resume=True, progress=False)
    assert res.computed == ["x1"]
    check_results(res, 2)


def test_failures_name_the_key_and_keep_the_rest(tmp_path):
    with pytest.raises(
        EmbedcausalError, match=r"1 of 4 grid points failed: x2: ValueError: x must"
    ):
        run_grid(
            fail_on_two,
            grid(),
            tmp_path / "out",
            context={"log": str(tmp_path / "log")},
            progress=False,
        )
    assert sorted(p.stem for p in (tmp_path / "out" / "points").glob("*.nc")) == ["x0", "x1", "x3"]


@pytest.mark.parametrize("key", ["a/b", "", "x y"])
def test_bad_keys(tmp_path, key):
    with pytest.raises(EmbedcausalError, match="filesystem-safe"):
        run_grid(square, [GridPoint(key, {"x": 1})], tmp_path, progress=False)


def test_duplicate_keys(tmp_path):
    with pytest.raises(EmbedcausalError, match="repeat"):
        run_grid(
            square, [GridPoint("a", {"x": 1}), GridPoint("a", {"x": 2})], tmp_path, progress=False
        )


KILL_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from _parallel_tasks import square
from embedcausal.parallel import GridPoint, run_grid
pts = [GridPoint(f"x{{i}}", {{"x": i}}) for i in range(8)]
run_grid(square, pts, {out!r}, context={{"log": {log!r}, "sleep": 0.3}}, progress=False,
         resume={resume})
"""


def test_killed_run_resumes_only_missing_points(tmp_path):
    out, log = str(tmp_path / "out"), str(tmp_path / "log")
    script = KILL_SCRIPT.format(here=str(HERE), out=out, log=log, resume=False)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    points = tmp_path / "out" / "points"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(points.glob("*.nc"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.stem for p in points.glob("*.nc"))
    assert 3 <= len(done) < 8
    script = KILL_SCRIPT.format(here=str(HERE), out=out, log=log, resume=True)
    subprocess.run([sys.executable, "-c", script], check=True)
    res_keys = sorted(p.stem for p in points.glob("*.nc"))
    assert res_keys == [f"x{i}" for i in range(8)]
    assert not list(points.glob(".*tmp*"))
    # each finished point was computed once, each missing one once more (at most one was in flight)
    per_x = {x: calls(tmp_path / "log").count(x) for x in {c for c in calls(tmp_path / "log")}}
    assert all(per_x[f"{float(i)}"] == 1 for i in range(8) if f"x{i}" in done)
    from embedcausal.parallel import GridResult

    check_results(GridResult(tmp_path / "out", [f"x{i}" for i in range(8)], [], []), 8)
