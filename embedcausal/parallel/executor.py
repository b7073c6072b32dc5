"""Where the points run, and the one loop that runs them.

Three ``concurrent.futures.Executor``\\ s, behind one loop (:func:`run_points`):

* :class:`InProcessExecutor` runs each point in this process, one after another, so that
  :func:`~embedcausal.parallel.worker_cache` reuses a compiled model across points;
* ``concurrent.futures.ProcessPoolExecutor`` (spawned processes) for ``jobs > 1``;
* ``distributed.Client(address).get_executor()`` for a Dask scheduler.

Each is wrapped in a :class:`Backend` that also says how the grid's context reaches the
workers once (see :mod:`embedcausal.parallel.worker`) and how to stop them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from embedcausal.errors import EmbedcausalError
from embedcausal.parallel import worker

#: Seconds to wait for a Dask scheduler to answer before giving up (read at each call).
DASK_CONNECT_TIMEOUT = 10.0

#: ``done(key, result, error)``: called in this process once per point, as it completes.
Done = Callable[[str, Any, BaseException | None], None]

#: Seconds between checks for a Ctrl-C whose KeyboardInterrupt was lost (see ctrl_c_noticed).
_POLL_S = 0.25


class InProcessExecutor(cf.Executor):
    """An executor that runs each call in this thread, when it is submitted.

    ``submit`` returns a finished future: the result, or the ``Exception`` the call raised.
    A ``KeyboardInterrupt`` (or any other ``BaseException``) is not caught: it propagates
    from ``submit`` like Ctrl-C in any other code.

    Examples
    --------
    >>> InProcessExecutor().submit(pow, 2, 5).result()
    32
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        fut.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # the point failed; KeyboardInterrupt propagates
            fut.set_exception(exc)
        else:
            fut.set_result(result)
        return fut


class Backend:
    """An executor, the context as its calls receive it, and how to stop it.

    Attributes
    ----------
    executor : concurrent.futures.Executor
    handle : object
        What :func:`~embedcausal.parallel.worker.run_point` receives as the context.
    window : int or None
        Most points submitted and not yet handled; ``None``: submit them all at once.
    """

    executor: cf.Executor
    handle: Any = None
    window: int | None = None

    def close(self, abort: bool) -> None:
        """Release the workers; ``abort``: cancel what is pending and stop running points."""
        self.executor.shutdown(wait=not abort, cancel_futures=abort)


class InProcess(Backend):
    """Points run in this process, one at a time, with the context object itself."""

    window = 1

    def __init__(self, context: Any) -> None:
        self.executor = InProcessExecutor()
        self.handle = context


class LocalProcesses(Backend):
    """``jobs`` spawned processes; each unpickles the context once, in its initializer.

    Stopping them on Ctrl-C needs no private attribute of the pool: each worker reports its
    pid when it starts, and the parent terminates those of its live children; a worker
    still starting finds the ``abort`` event set and exits by itself. Once one worker is
    gone the pool terminates the others too.
    """

    def __init__(self, jobs: int, blob: bytes) -> None:
        ctx = multiprocessing.get_context("spawn")
        token = uuid.uuid4().hex
        self._pids = ctx.SimpleQueue()
        self._abort = ctx.Event()
        self.executor = cf.ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=ctx,
            initializer=worker.start_pool_worker,
            initargs=(os.getpid(), token, blob, self._pids, self._abort),
        )
        self.handle = worker.Installed(token)
        self.window = 2 * jobs  # keep every worker busy while this process writes results

    def close(self, abort: bool) -> None:
        if abort:  # stop the points that are running now, not after they finish
            self._terminate_workers()
        self.executor.shutdown(wait=True, cancel_futures=abort)
        self._pids.close()

    def _terminate_workers(self) -> None:
        self._abort.set()  # processes still starting exit as soon as their initializer runs
        pids = set()
        while not self._pids.empty():
            pids.add(self._pids.get())
        for proc in multiprocessing.active_children():  # our own live children only
            if proc.pid in pids:
                proc.terminate()


def _connect(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise EmbedcausalError(
            f"scheduler {address!r} given but dask.distributed is not installed; "
            "pip install 'embedcausal[distributed]'"
        ) from None
    # Made first and started second, so that a client that fails to connect is closed here
    # and now: left to the garbage collector, its __del__ may run in the event-loop thread
    # of a later Client and deadlock it.
    client = Client.__new__(Client)
    try:
        client.__init__(address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())
    else:
        return client
    with contextlib.suppress(Exception):
        client.close(timeout=DASK_CONNECT_TIMEOUT)
    raise EmbedcausalError(
        f"cannot reach the Dask scheduler at {address!r} ({reason}); expected the address of "
        "a running scheduler, e.g. tcp://HOST:8786"
    )


class DaskCluster(Backend):
    """The workers of a Dask scheduler; the context is scattered to every worker once."""

    def __init__(self, address: str, context: Any) -> None:
        self.client = _connect(address)
        try:
            # a list, so that a dict context is one object, not a dict of objects
            (self.handle,) = self.client.scatter([context], broadcast=True, hash=False)
            self.executor = self.client.get_executor(pure=False)
        except BaseException:
            self.client.close()
            raise

    def close(self, abort: bool) -> None:
        try:
            self.executor.shutdown(wait=not abort)  # wait=False cancels what is left
            with contextlib.suppress(Exception):
                self.handle.release()
        finally:
            self.client.close()


@contextlib.contextmanager
def open_backend(
    context: Any, blob: bytes | None, *, jobs: int, scheduler: str | None, n_points: int
) -> Iterator[Backend]:
    """The backend for ``jobs``/``scheduler``; closed (gracefully) when the block ends.

    ``blob`` is the pickled context, for local processes. If the block raises (Ctrl-C,
    a bug), the backend is closed with ``abort=True``: pending points are cancelled and the
    workers stopped at once.
    """
    if scheduler is not None:
        backend: Backend = DaskCluster(scheduler, context)
    elif jobs == 1:
        backend = InProcess(context)
    else:
        assert blob is not None
        backend = LocalProcesses(min(jobs, n_points), blob)
    try:
        yield backend
    except BaseException:
        backend.close(abort=True)
        raise
    backend.close(abort=False)


@contextlib.contextmanager
def ctrl_c_noticed() -> Iterator[Callable[[], None]]:
    """Remember Ctrl-C even when its ``KeyboardInterrupt`` is lost; yield a check that raises.

    Python raises ``KeyboardInterrupt`` wherever the main thread happens to be, and where
    that is a weakref callback or a ``__del__`` (netCDF writing runs plenty) the exception
    is printed as "ignored" and the run goes on. While the block runs in the main thread
    with Python's default handler, SIGINT also sets a flag, and the check raises
    ``KeyboardInterrupt`` once it is set. Other handlers (``SIG_IGN``, an application's
    own) are left alone.
    """
    noticed: list[int] = []

    def check() -> None:
        if noticed:
            raise KeyboardInterrupt

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield check
        return

    def handler(signum: int, frame: Any) -> None:
        noticed.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run_points(
    backend: Backend, task: Callable[..., Any], todo: list[tuple[str, dict]], done: Done
) -> None:
    """Submit every point to ``backend.executor`` and hand each outcome to ``done``.

    At most ``backend.window`` points are in flight; the next is submitted as one completes.
    A point whose call raised an ``Exception`` (including a dead worker's
    ``BrokenProcessPool``) reaches ``done`` with that error. Anything else — Ctrl-C as
    ``KeyboardInterrupt`` here or from a task — stops submitting, cancels the points in
    flight and propagates (:func:`open_backend` then stops the workers). After Ctrl-C no
    further result is handed to ``done``, even if the interrupt itself was lost
    (:func:`ctrl_c_noticed`).
    """
    pending = iter(todo)
    in_flight: dict[cf.Future, str] = {}
    window = backend.window or len(todo)

    with ctrl_c_noticed() as stop_if_interrupted:

        def fill() -> None:
            while len(in_flight) < window and (item := next(pending, None)) is not None:
                stop_if_interrupted()
                key, params = item
                try:
                    fut = backend.executor.submit(worker.run_point, task, backend.handle, params)
                except Exception as exc:  # e.g. a pool broken by a dead worker
                    done(key, None, exc)
                else:
                    in_flight[fut] = key

        try:
            fill()
            while in_flight:
                finished, _ = cf.wait(in_flight, timeout=_POLL_S, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    stop_if_interrupted()
                    key = in_flight.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # the point failed; KeyboardInterrupt propagates
                        done(key, None, exc)
                    else:
                        done(key, result, None)
                stop_if_interrupted()
                fill()
        except BaseException:
            for fut in in_flight:
                fut.cancel()
            raise
