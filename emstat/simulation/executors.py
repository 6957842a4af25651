"""Where batches run: this process, local worker processes, or a Dask cluster.

Each executor is a generator of :class:`BatchResult` in completion order;
the caller writes each one to disk as it arrives.  Closing the generator
(an interrupt, an error in the caller) cancels the work not yet started and
ends local workers at once.  Local workers also die with their parent, even
when it is killed with SIGKILL, so none is left computing for nobody (or
holding a pipe such as ``| tee log`` open).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

from emstat._optional import require
from emstat.errors import InputError
from emstat.simulation.replicate import BatchResult, BatchTask, run_batch

__all__ = [
    "CONNECT_TIMEOUT",
    "check_scheduler",
    "map_processes",
    "run_dask",
    "run_local",
    "run_processes",
    "run_tasks",
]

#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PARENT_POLL_SECONDS = 1.0

TaskT = TypeVar("TaskT")
ResultT = TypeVar("ResultT")


def run_local(tasks: Sequence[BatchTask]) -> Iterator[BatchResult]:
    """Run the batches one after another in this process."""
    for task in tasks:
        yield run_batch(task)


def _context() -> multiprocessing.context.BaseContext:
    # fork starts workers at once (no re-import of numpy/scipy/pandas), but is
    # unsafe when this process already runs threads; spawn is safe everywhere.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(_PARENT_POLL_SECONDS)


def _die_with_parent(parent: int) -> None:
    """Make this worker end when its parent does (prctl on Linux, else a watching thread)."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):  # pragma: no cover - no usable libc
            armed = False
    if not armed:  # pragma: no cover - not Linux
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _init_worker(parent: int) -> None:
    """Start of every local worker: the parent alone handles Ctrl-C and SIGTERM."""
    # A forked worker inherits the parent's handlers; Ctrl-C reaches the whole
    # process group, and the parent then ends the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's processes now, not after their running batches.

    ``ProcessPoolExecutor`` has no public way to do this before Python 3.14
    (``terminate_workers``); its ``_processes`` maps pids to processes.
    """
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()


def map_processes(
    function: Callable[[TaskT], ResultT], tasks: Sequence[TaskT], workers: int
) -> Iterator[ResultT]:
    """``function(task)`` for every task on ``workers`` local processes, in completion order.

    ``function`` must be importable by name (a module-level function) and the
    tasks picklable.  The pool starts and every task is submitted before this
    returns, so the workers exist before the caller starts any thread (a
    progress bar).  Closing the iterator early ends the workers at once.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )
    try:
        pending: set[Future[ResultT]] = {pool.submit(function, task) for task in tasks}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise

    def results() -> Iterator[ResultT]:
        nonlocal pending
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            if pending:  # closed early: an interrupt, a failed batch, an error in the caller
                _terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)

    return results()


def run_processes(tasks: Sequence[BatchTask], workers: int) -> Iterator[BatchResult]:
    """Run the batches on ``workers`` local processes (see :func:`map_processes`)."""
    return map_processes(run_batch, tasks, workers)


def check_scheduler(address: str) -> None:
    """Refuse, before any work, a scheduler address Dask cannot parse.

    Raises
    ------
    InputError
        When ``address`` is not ``[protocol://]host:port`` (for the protocols
        that have a host and a port), or ``distributed`` is not installed.
    """
    require("distributed", "dask")
    from distributed.comm import get_address_host_port, parse_address

    try:
        protocol, _ = parse_address(address)
        if protocol in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)
    except ValueError as exc:
        raise InputError(
            f"--scheduler {address!r} is not a Dask scheduler address such as "
            f"tcp://host:8786 ({exc})"
        ) from None


def run_dask(tasks: Sequence[BatchTask], scheduler: str) -> Iterator[BatchResult]:
    """Run the batches on the Dask ``distributed`` cluster whose scheduler is at ``scheduler``.

    Workers need emstat installed; results come back to this process, which
    alone writes the output directory (workers need no shared filesystem).
    """
    distributed = require("distributed", "dask")
    check_scheduler(scheduler)
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    futures = client.map(run_batch, list(tasks), pure=False)

    def results() -> Iterator[BatchResult]:
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                yield future.result()
        finally:
            client.cancel(futures)
            client.close()

    return results()


def run_tasks(
    tasks: Sequence[BatchTask], *, workers: int, scheduler: str | None
) -> Iterator[BatchResult]:
    """Dispatch to Dask when a scheduler is given, else to processes (or this process)."""
    if scheduler:
        return run_dask(tasks, scheduler)
    if workers <= 1 or len(tasks) <= 1:
        return run_local(tasks)
    return run_processes(tasks, min(workers, len(tasks)))
