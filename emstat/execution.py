"""Where independent tasks run: this process, local worker processes, or a Dask cluster.

One entry point serves restarts, bootstraps, selection grids and simulation
replicates: :func:`map_tasks` (results in task order) and :func:`iter_tasks`
(results as they finish).  A task's randomness must come with the task (a
stream of ``SeedSequence.spawn``), never from the process that runs it, so
the results are the same serially, on any number of workers and on Dask.

- Tasks go in chunks, so small tasks amortise sending them and their results.
- ``shared`` is what every task reads (a fitter and its data): forked workers
  inherit it, spawned ones receive it once each, and a Dask cluster once
  (scattered), instead of once per task.
- Local workers run the serial compiled kernels and one BLAS thread: the
  parallelism is across tasks, and OpenMP threads must not be started in a
  forked child whose parent already ran them.
- Local workers ignore Ctrl-C (the parent ends them), and die with their
  parent even when it is killed with SIGKILL; closing a result iterator early
  (an interrupt, an error) ends them at once.
"""

from __future__ import annotations

import ctypes
import enum
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from emstat._optional import require
from emstat.errors import InputError

__all__ = [
    "CONNECT_TIMEOUT",
    "can_fork",
    "check_scheduler",
    "check_scheduler_argument",
    "chunk_size",
    "dask_client",
    "forks_workers",
    "iter_tasks",
    "map_tasks",
]

#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"
#: Chunks per local worker: enough to even out unequal tasks, few enough to amortise them.
CHUNKS_PER_WORKER = 4
#: Chunks of one map on a Dask cluster (its workers are not counted here).
DASK_CHUNKS = 16

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PARENT_POLL_SECONDS = 1.0
# Kernel modules whose parallel (OpenMP) variant a worker must not start.
_THREADED_KERNELS = ("emstat.mixture.fused", "emstat.hmm.kernels", "emstat.families._count_kernels")


class _Shared(enum.Enum):
    NONE = "none"  # tasks called as function(task); an enum pickles as itself


_NO_SHARED: Any = _Shared.NONE

TaskT = TypeVar("TaskT")
ResultT = TypeVar("ResultT")

_SHARED: Any = _NO_SHARED  # what a local worker's tasks read (set by its initializer)


# --------------------------------------------------------------------------- #
# options
# --------------------------------------------------------------------------- #


def can_fork() -> bool:
    """Whether this platform starts processes by fork (no re-import in workers)."""
    return "fork" in multiprocessing.get_all_start_methods()


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


def check_scheduler_argument(scheduler: Any) -> None:
    """Refuse, before any work, a scheduler that is neither an address nor a Client."""
    if scheduler is None:
        return
    if isinstance(scheduler, str):
        check_scheduler(scheduler)
        return
    distributed = require("distributed", "dask")
    if not isinstance(scheduler, distributed.Client):
        raise InputError(
            "scheduler must be a Dask scheduler address such as 'tcp://host:8786' or a "
            f"distributed.Client, got {type(scheduler).__name__}"
        )


def chunk_size(n_tasks: int, workers: int, scheduler: Any = None) -> int:
    """Tasks per chunk: about ``CHUNKS_PER_WORKER`` chunks per worker (``DASK_CHUNKS`` on Dask)."""
    parts = DASK_CHUNKS if scheduler is not None else CHUNKS_PER_WORKER * max(workers, 1)
    return max(1, math.ceil(n_tasks / parts))


@contextmanager
def dask_client(scheduler: Any, timeout: str | None = None) -> Iterator[Any]:
    """The client of ``scheduler``: the one given, or one connected to the address (and
    closed on leaving)."""
    check_scheduler_argument(scheduler)
    distributed = require("distributed", "dask")
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    try:
        client = distributed.Client(
            scheduler, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    try:
        yield client
    finally:
        client.close()


# --------------------------------------------------------------------------- #
# running one chunk
# --------------------------------------------------------------------------- #


def _call(function: Callable[..., Any], shared: Any, task: Any) -> Any:
    return function(task) if shared is _NO_SHARED else function(shared, task)


def _run_chunk(
    function: Callable[..., Any], shared: Any, chunk: list[tuple[int, Any]]
) -> list[tuple[int, Any]]:
    """``(index, result)`` of every task of the chunk, in order."""
    return [(index, _call(function, shared, task)) for index, task in chunk]


def _run_local_chunk(
    function: Callable[..., Any], chunk: list[tuple[int, Any]]
) -> list[tuple[int, Any]]:
    """A chunk in a local worker: ``shared`` is the worker's own (inherited or received once)."""
    return _run_chunk(function, _SHARED, chunk)


def _chunks(tasks: Sequence[Any], size: int) -> list[list[tuple[int, Any]]]:
    indexed = list(enumerate(tasks))
    return [indexed[start : start + size] for start in range(0, len(indexed), size)]


# --------------------------------------------------------------------------- #
# local workers
# --------------------------------------------------------------------------- #


def forks_workers(fork_with_threads: bool = True) -> bool:
    """Whether local workers started now would be forked (and inherit this process's state).

    Fork starts workers at once (no re-import of numpy/scipy/pandas) and lets
    them inherit the shared object and the loaded kernels; it is unsafe when
    this process already runs other threads, where spawn is used unless
    ``fork_with_threads``.
    """
    return can_fork() and (fork_with_threads or threading.active_count() == 1)


def _context(fork_with_threads: bool) -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context("fork" if forks_workers(fork_with_threads) else "spawn")


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


def _serial_kernels_only() -> None:
    """Make this process's compiled E-steps serial (a worker's parallelism is across tasks).

    Only the kernel modules already loaded are set (a forked worker has its
    parent's): loading kernels a worker may never use would cost seconds of
    its start.
    """
    for name in _THREADED_KERNELS:
        module = sys.modules.get(name)
        if module is not None:
            module.PARALLEL_MIN_ROWS = 2**62  # type: ignore[attr-defined]


def _serial_blas() -> None:
    """One BLAS thread in this worker: its parallelism is across tasks, and on a machine
    the workers already fill, a BLAS pool's threads make each small matrix call wait for
    the others (scipy's 2 x 2 ``expm`` went from 8 us to milliseconds)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; without it the pools stay
        return
    import scipy.linalg  # noqa: F401 - loads scipy's BLAS: only loaded pools are limited

    threadpool_limits(limits=1, user_api="blas")


def _init_worker(parent: int, shared: Any) -> None:
    """Start of every local worker: the parent alone handles Ctrl-C and SIGTERM."""
    global _SHARED
    # A forked worker inherits the parent's handlers; Ctrl-C reaches the whole
    # process group, and the parent then ends the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    _serial_kernels_only()
    _serial_blas()
    _SHARED = shared


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's processes now, not after their running tasks.

    ``ProcessPoolExecutor`` has no public way to do this before Python 3.14
    (``terminate_workers``); its ``_processes`` maps pids to processes.
    """
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()


def _on_processes(
    function: Callable[..., Any],
    shared: Any,
    chunks: list[list[tuple[int, Any]]],
    workers: int,
    fork_with_threads: bool,
) -> Iterator[list[tuple[int, Any]]]:
    # The pool starts and every chunk is submitted before this returns, so the
    # workers exist before the caller starts any thread (a progress bar).
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(fork_with_threads),
        initializer=_init_worker,
        initargs=(os.getpid(), shared),
    )
    try:
        pending: set[Future[list[tuple[int, Any]]]] = {
            pool.submit(_run_local_chunk, function, chunk) for chunk in chunks
        }
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise

    def results() -> Iterator[list[tuple[int, Any]]]:
        nonlocal pending
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            if pending:  # closed early: an interrupt, a failed task, an error in the caller
                _terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)

    return results()


def _on_dask(
    function: Callable[..., Any],
    shared: Any,
    chunks: list[list[tuple[int, Any]]],
    scheduler: Any,
    timeout: str | None,
) -> Iterator[list[tuple[int, Any]]]:
    distributed = require("distributed", "dask")
    stack = ExitStack()
    # connect now: an unreachable scheduler fails before any work
    client = stack.enter_context(dask_client(scheduler, timeout))
    try:
        remote = shared
        if shared is not _NO_SHARED:
            remote = client.scatter(shared, broadcast=True, hash=False)
        futures = [client.submit(_run_chunk, function, remote, c, pure=False) for c in chunks]
    except BaseException:
        stack.close()
        raise

    def results() -> Iterator[list[tuple[int, Any]]]:
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                yield future.result()
        finally:
            client.cancel(futures)
            stack.close()

    return results()


def _in_process(
    function: Callable[..., Any], shared: Any, chunks: list[list[tuple[int, Any]]]
) -> Iterator[list[tuple[int, Any]]]:
    for chunk in chunks:
        yield _run_chunk(function, shared, chunk)


# --------------------------------------------------------------------------- #
# the entry points
# --------------------------------------------------------------------------- #


def iter_tasks(
    function: Callable[..., ResultT],
    tasks: Sequence[Any],
    *,
    workers: int = 1,
    scheduler: Any = None,
    shared: Any = _NO_SHARED,
    chunk: int | None = None,
    fork_with_threads: bool = True,
    timeout: str | None = None,
) -> Iterator[tuple[int, ResultT]]:
    """``(i, function(tasks[i]))`` for every task, as the results come in.

    Parameters
    ----------
    function
        A module-level function (sent to workers by name); called as
        ``function(task)``, or ``function(shared, task)`` when ``shared`` is given.
    tasks
        Picklable tasks, each carrying its own random stream if it draws.
    workers
        Local processes (1: this process, in task order).
    scheduler
        A Dask scheduler address or ``distributed.Client``: the tasks run on
        that cluster instead (``workers`` is then unused).
    shared
        One object every task reads, sent once per worker rather than per task.
    chunk
        Tasks per chunk (default: about 4 chunks per worker, 16 on Dask).
    fork_with_threads
        Fork workers even when this process runs other threads (the fitter's
        data need not then be sent); False starts them by spawn in that case.
    timeout
        How long to wait for the Dask scheduler (default ``CONNECT_TIMEOUT``).

    Closing the iterator early ends local workers at once and cancels the
    work not yet started on Dask.
    """
    check_scheduler_argument(scheduler)
    if not tasks:
        return iter(())
    size = chunk or chunk_size(len(tasks), workers, scheduler)
    chunks = _chunks(tasks, size)
    if scheduler is not None:
        parts = _on_dask(function, shared, chunks, scheduler, timeout)
    elif workers <= 1 or len(chunks) <= 1:
        parts = _in_process(function, shared, chunks)
    else:
        parts = _on_processes(
            function, shared, chunks, min(workers, len(chunks)), fork_with_threads
        )
    return _flatten(parts)


def _flatten(parts: Iterator[list[tuple[int, Any]]]) -> Iterator[tuple[int, Any]]:
    try:
        for part in parts:
            yield from part
    finally:
        close = getattr(parts, "close", None)
        if close is not None:
            close()


def map_tasks(
    function: Callable[..., ResultT],
    tasks: Sequence[Any],
    *,
    workers: int = 1,
    scheduler: Any = None,
    shared: Any = _NO_SHARED,
    chunk: int | None = None,
    fork_with_threads: bool = True,
) -> list[ResultT]:
    """``[function(task) for task in tasks]`` (or ``function(shared, task)``), run by
    :func:`iter_tasks`, in task order.

    Examples
    --------
    >>> map_tasks(abs, [-2, 3, -5])
    [2, 3, 5]
    """
    out: list[Any] = [None] * len(tasks)
    results = iter_tasks(
        function,
        tasks,
        workers=workers,
        scheduler=scheduler,
        shared=shared,
        chunk=chunk,
        fork_with_threads=fork_with_threads,
    )
    try:
        for index, result in results:
            out[index] = result
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
    return out
