"""The corpus of broken inputs and faults: every one is exit status 2 (or 130) with one line.

Each case in ``tests/corpus/*.toml`` builds a model file, a data file, an argument list or a
damaged run directory in a fresh folder, runs the ``embedcausal`` command in this process and
asserts the contract of ``docs/contract.md``: the exit status, exactly one ``error: …`` line on
stderr naming the file and the key or column (the case's ``expect`` fragments), no traceback,
no NumPy scalar repr, every echoed value capped, and nothing left behind (the folder holds
exactly what it held before the command: no run directory, no temporary sibling, no lock).
Unless a case says ``samples = true``, reaching the sampler fails it: bad input is refused
before any sampling.

A case is a ``[[case]]`` table:

``id``
    Unique name (the test id).
``argv``
    The command line, default ``fit {model} --out {out} --draws 20 --tune 20 --chains 1``.
    Placeholders: ``{tmp}`` the case's folder, ``{model}`` (``m.toml``), ``{data}``
    (``tiny.csv``), ``{out}`` (``out``, not created), ``{file}`` (an existing text file),
    ``{run}`` and ``{run2}`` (copies of a fitted run, made when used).
``model_sub`` / ``model_add`` / ``model_text``
    Edits of ``tests/model_files/valid.toml``: ``[old, new]`` replacements, text appended
    (in the last table: ``[sampler]``, unless it opens a table) or the whole text.
``csv_sub`` / ``csv_set`` / ``csv_fill`` / ``csv_add`` / ``csv_text``
    Edits of ``tests/model_files/tiny.csv``: text replacements, ``[row, column, value]``
    cells, ``{column = value}`` for every row, lines appended, or the whole text.
``files``
    ``{name = text}``: more files in the case's folder.
``damage``
    Operations on ``{run}`` before the command: ``["delete", FILE]``, ``["truncate", FILE,
    BYTES]`` (a negative count keeps that fraction: ``-2`` keeps half), ``["write", FILE,
    TEXT]``, ``["json_set", KEY, VALUE]``, ``["json_del", KEY]``.
``fault``
    ``"unreadable_model"`` (opening the model file fails with EACCES: permissions cannot stop
    root, who runs CI) or ``"disk_full"`` (writing ``posterior.nc`` fails with ENOSPC).
``expect``
    Fragments the error line must contain (placeholders allowed).
``code``
    Exit status, default 2; for 0 the command must succeed with nothing on stderr.
``samples``
    The command may sample (a fault during or after sampling).

Text values may hold ``{{python expression}}``, replaced by its value (``{{'1' * 400}}``); a
value that is one expression giving bytes is written as bytes.

Faults that need real processes (Ctrl-C, a kill, two writers at once) are the tests at the
end of this module; ``CORPUS_SIZE`` counts them with the tables.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from embedcausal.cli import main

HERE = Path(__file__).parent
REPO = HERE.parent
CORPUS = HERE / "corpus"
VALID = HERE / "model_files" / "valid.toml"
TINY_CSV = HERE / "model_files" / "tiny.csv"
TINY = ["--draws", "20", "--tune", "20", "--chains", "1"]
DEFAULT_ARGV = ["fit", "{model}", "--out", "{out}", *TINY]
TABLES = sorted(CORPUS.glob("*.toml"))
CASES = [
    dict(case, table=path.stem)
    for path in TABLES
    for case in tomllib.loads(path.read_text(encoding="utf-8"))["case"]
]
PROCESS_FAULTS = 5  # the process tests at the end of this module
CORPUS_SIZE = len(CASES) + PROCESS_FAULTS
_EXPR = re.compile(r"\{\{(.+?)\}\}")


def test_corpus_is_large_and_named_uniquely():
    ids = [(c["table"], c["id"]) for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert CORPUS_SIZE >= 80
    assert {c["table"] for c in CASES} >= {"model", "data", "cli", "runs"}


# -- building a case --------------------------------------------------------------------------
def expand(value: str) -> str | bytes:
    whole = _EXPR.fullmatch(value)
    if whole:
        result = eval(whole.group(1))  # the corpus is ours: tiny generators such as '1' * 400
        return result if isinstance(result, bytes) else str(result)
    return _EXPR.sub(lambda m: str(eval(m.group(1))), value)


def write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def model_text(case: dict) -> str | bytes:
    if "model_text" in case:
        return expand(case["model_text"])
    text = VALID.read_text(encoding="utf-8")
    for old, new in case.get("model_sub", []):
        assert old in text, f"{case['id']}: {old!r} not in valid.toml"
        text = text.replace(old, expand(new))
    if "model_add" in case:
        text += "\n" + expand(case["model_add"]) + "\n"
    return text


def csv_text(case: dict) -> str | bytes:
    if "csv_text" in case:
        return expand(case["csv_text"])
    text = TINY_CSV.read_text(encoding="utf-8").replace("\r\n", "\n")
    for old, new in case.get("csv_sub", []):
        assert old in text, f"{case['id']}: {old!r} not in tiny.csv"
        text = text.replace(old, expand(new), 1)
    if "csv_set" in case or "csv_fill" in case:
        rows = list(csv.reader(io.StringIO(text)))
        header = rows[0]
        for row, col, value in case.get("csv_set", []):
            rows[1 + row][header.index(col)] = expand(str(value))
        for col, value in case.get("csv_fill", {}).items():
            for r in rows[1:]:
                r[header.index(col)] = str(value)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        text = buf.getvalue()
    for line in case.get("csv_add", []):
        text += expand(line) + "\n"
    return text


def damage(run: Path, ops: list) -> None:
    for op, name, *rest in ops:
        path = run / name if op not in ("json_set", "json_del") else run / "run.json"
        if op == "delete":
            path.unlink()
        elif op == "truncate":
            size = rest[0] if rest[0] >= 0 else path.stat().st_size // -rest[0]
            with path.open("r+b") as fh:
                fh.truncate(size)
        elif op == "write":
            write(path, expand(rest[0]))
        elif op in ("json_set", "json_del"):
            meta = json.loads(path.read_text())
            if op == "json_set":
                meta[name] = rest[0]
            else:
                del meta[name]
            path.write_text(json.dumps(meta))
        else:  # pragma: no cover - a typo in the corpus
            raise AssertionError(f"unknown damage {op!r}")


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """One tiny fitted run; run-directory cases damage copies of it."""
    base = tmp_path_factory.mktemp("fitted")
    shutil.copy(VALID, base / "m.toml")
    shutil.copy(TINY_CSV, base / "tiny.csv")
    assert main(["fit", str(base / "m.toml"), "--out", str(base / "run"), *TINY]) == 0
    # a finished fit leaves its run and nothing else: no lock file, no temporary
    assert {p.name for p in base.iterdir()} == {"m.toml", "tiny.csv", "run"}
    assert json.loads((base / "run" / "run.json").read_text())["complete"] is True
    return base / "run"


# -- the table cases ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[f"{c['table']}-{c['id']}" for c in CASES])
def test_case(case, tmp_path, monkeypatch, capsys, request):
    tmp = tmp_path
    paths = {
        "tmp": tmp,
        "model": tmp / "m.toml",
        "data": tmp / "tiny.csv",
        "out": tmp / "out",
        "file": tmp / "afile.txt",
        "run": tmp / "run",
        "run2": tmp / "run2",
    }
    write(paths["model"], model_text(case))
    write(paths["data"], csv_text(case))
    paths["file"].write_text("not a run\n")
    for name, content in case.get("files", {}).items():
        write(tmp / name, expand(content))
    argv_t = case.get("argv", DEFAULT_ARGV)
    for name in ("run", "run2"):
        if any(f"{{{name}}}" in a for a in argv_t):
            shutil.copytree(request.getfixturevalue("fitted"), paths[name])
    damage(paths["run"], case.get("damage", []))

    def fill(text: str) -> str:
        return text.format(**{k: str(v) for k, v in paths.items()})

    argv = [fill(a) for a in argv_t]
    if not case.get("samples"):
        import embedcausal.fitting as fitting

        def no_sampling(*args, **kwargs):
            raise AssertionError("bad input reached the sampler")

        monkeypatch.setattr(fitting, "sample", no_sampling)
    if case.get("fault") == "unreadable_model":
        real_open = Path.open

        def refuse(self, *args, **kwargs):
            if self.name == "m.toml":
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    if case.get("fault") == "disk_full":
        import xarray as xr

        def full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(xr.DataTree, "to_netcdf", full)

    before = listing(tmp)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    want = case.get("code", 2)
    if want == 0:
        assert code == 0, out.err
        assert "error:" not in out.err
        return
    assert code == want, (code, out.err)
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in case.get("expect", []):
        assert fill(fragment) in line, (fragment, line)
    assert not re.search(r"np\.(int|float|str|bool)", line), line
    assert len(line) < 1000, f"{len(line)} characters: {line[:300]}"
    assert listing(tmp) == before, "the command left files behind"


# -- faults that need processes -----------------------------------------------------------------
# The child runs `embedcausal` with Python's default SIGINT handling (KeyboardInterrupt) and
# logs where it is to a marker file: "design" once the model file and data are read (compiling
# comes next), "sample N" right after nutpie has started its N-th sampler (draws are being made).
CHILD = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
marker = sys.argv[1]
def log(event):
    with open(marker, "a") as fh:
        fh.write(event + "\\n")
import nutpie
import embedcausal.plan
real_sample, real_design = nutpie.sample, embedcausal.plan.design
calls = []
def started(*args, **kwargs):
    sampler = real_sample(*args, **kwargs)
    calls.append(1)
    log(f"sample {len(calls)}")
    return sampler
def designed(*args, **kwargs):
    plan = real_design(*args, **kwargs)
    log("design")
    return plan
nutpie.sample, embedcausal.plan.design = started, designed
from embedcausal.cli import main
sys.exit(main(sys.argv[2:]))
"""
LONG = ["--draws", "200000", "--tune", "50", "--chains", "1"]


def child(tmp: Path, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp / "marker"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(tmp: Path, event: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    marker = tmp / "marker"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if marker.is_file() and event in marker.read_text().splitlines():
            return
        if proc.poll() is not None:
            raise AssertionError(f"child ended early: {proc.communicate()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the child never logged {event!r}")


@pytest.fixture
def model_dir(tmp_path) -> Path:
    shutil.copy(VALID, tmp_path / "m.toml")
    shutil.copy(TINY_CSV, tmp_path / "tiny.csv")
    return tmp_path


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_fault_ctrl_c_while_sampling_writes_nothing(model_dir):
    out = model_dir / "out"
    before = listing(model_dir)
    proc = child(model_dir, "fit", str(model_dir / "m.toml"), "--out", str(out), *LONG)
    wait_for(model_dir, "sample 1", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted" in one_error_line(err)
    assert listing(model_dir) - {"marker"} == before  # no run, no temporary, no lock


def test_fault_ctrl_c_keep_partial_marks_the_run_incomplete(model_dir, capsys):
    out = model_dir / "out"
    proc = child(
        model_dir, "fit", str(model_dir / "m.toml"), "--out", str(out), *LONG, "--keep-partial"
    )
    # the outcome model: the last part, so every part has draws
    wait_for(model_dir, "sample 2", proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130
    line = one_error_line(err)
    assert "interrupted" in line and str(out) in line and "complete = false" in line
    meta = json.loads((out / "run.json").read_text())
    assert meta["complete"] is False and "interrupted" in meta["interrupted"]
    assert {p.name for p in model_dir.iterdir()} == {"m.toml", "tiny.csv", "marker", "out"}
    # effects, compare (and anything reading runs) refuse it unless told otherwise
    capsys.readouterr()
    assert main(["effects", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(out / "run.json") in line and "--allow-partial" in line
    assert main(["compare", str(out), str(out)]) == 2
    assert "complete = false" in one_error_line(capsys.readouterr().err)
    assert main(["effects", str(out), "--allow-partial"]) == 0
    assert "partial run" in capsys.readouterr().out


def test_fault_kill_while_sampling_leaves_no_run(model_dir):
    from embedcausal.runs import writing

    out = model_dir / "out"
    proc = child(model_dir, "fit", str(model_dir / "m.toml"), "--out", str(out), *LONG)
    wait_for(model_dir, "sample 1", proc)
    proc.kill()
    proc.communicate(timeout=60)
    # no run and no temporary directory; at most the empty lock file, which is free again
    assert {p.name for p in model_dir.iterdir()} <= {"m.toml", "tiny.csv", "marker", ".out.lock"}
    with writing(out):
        pass
    assert not (model_dir / ".out.lock").exists()


def test_fault_second_writer_fails_at_once(model_dir):
    out = model_dir / "out"
    first = child(model_dir, "fit", str(model_dir / "m.toml"), "--out", str(out), *LONG)
    try:
        wait_for(model_dir, "sample 1", first)
        t0 = time.monotonic()
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "embedcausal.cli",
                "fit",
                str(model_dir / "m.toml"),
                "--out",
                str(out),
                *TINY,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
        )
        assert time.monotonic() - t0 < 30  # at once: before reading data or sampling
        assert second.returncode == 2
        line = one_error_line(second.stderr)
        assert str(out) in line and "another process" in line
        assert first.poll() is None  # the first writer goes on
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130 and not out.exists()


def test_fault_ctrl_c_before_sampling_writes_nothing(model_dir):
    out = model_dir / "nested" / "out"
    before = listing(model_dir)
    proc = child(model_dir, "fit", str(model_dir / "m.toml"), "--out", str(out), *LONG)
    wait_for(model_dir, "design", proc)  # compiling comes next: no sampler has started
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted" in one_error_line(err)
    assert listing(model_dir) - {"marker"} == before  # not even the parent directory


def test_documented_quantiles_p0_and_p100_are_accepted(tmp_path):
    import embedcausal as ec

    shutil.copy(TINY_CSV, tmp_path / "tiny.csv")
    text = VALID.read_text().replace(
        'outcome = "participation"',
        'outcome = "participation"\ncontrast = { from = "p0", to = "p100" }',
    )
    (tmp_path / "m.toml").write_text(text)
    d = ec.design(tmp_path / "m.toml")
    assert d.contrast == (1.0, 12.0)  # the smallest and the largest inst_ties


def test_cli_ran_as_module_exits_2_with_one_line(tmp_path):
    # the real entry point, in its own process: the same one line, no traceback
    proc = subprocess.run(
        [sys.executable, "-m", "embedcausal.cli", "check", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert proc.returncode == 2
    assert "missing.toml" in one_error_line(proc.stderr)
