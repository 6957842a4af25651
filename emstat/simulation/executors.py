"""Where a study's batches run: this process, local worker processes, or a Dask cluster.

Each executor is a generator of :class:`BatchResult` in completion order;
the caller writes each one to disk as it arrives.  Closing the generator
(an interrupt, an error in the caller) cancels the work not yet started and
ends local workers at once; local workers also die with their parent, even
when it is killed with SIGKILL.  The work itself runs on
:mod:`emstat.execution`, one batch per task (a batch is already a chunk).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from emstat.execution import CONNECT_TIMEOUT, check_scheduler, forks_workers, iter_tasks
from emstat.simulation.replicate import BatchResult, BatchTask, run_batch

__all__ = [
    "CONNECT_TIMEOUT",
    "check_scheduler",
    "map_processes",
    "prime",
    "primes_workers",
    "run_dask",
    "run_local",
    "run_processes",
    "run_tasks",
]

TaskT = TypeVar("TaskT")
ResultT = TypeVar("ResultT")

#: Workers are forked only while this process runs no other thread (else spawned).
_FORK_WITH_THREADS = False
#: Prime forked workers only for data sets this small: every kernel then runs serially
#: (the compiled kernels go parallel from 20,000 rows), as in the workers.
PRIME_MAX_ROWS = 10_000
#: ... and only when the workers have this many replicates each to share (one replicate
#: run before the pool starts delays no worker by much).
PRIME_MIN_REPLICATES = 8


def _results(pairs: Iterator[tuple[int, ResultT]]) -> Iterator[ResultT]:
    try:
        for _, result in pairs:
            yield result
    finally:
        close = getattr(pairs, "close", None)
        if close is not None:
            close()


def run_local(tasks: Sequence[BatchTask]) -> Iterator[BatchResult]:
    """Run the batches one after another in this process."""
    for task in tasks:
        yield run_batch(task)


def map_processes(
    function: Callable[[TaskT], ResultT], tasks: Sequence[TaskT], workers: int
) -> Iterator[ResultT]:
    """``function(task)`` for every task on ``workers`` local processes, in completion order.

    ``function`` must be importable by name (a module-level function) and the
    tasks picklable.  The pool starts and every task is submitted before this
    returns, so the workers exist before the caller starts any thread (a
    progress bar); workers are forked only while this process runs no other
    thread.  Closing the iterator early ends the workers at once.
    """
    pairs = iter_tasks(
        function, tasks, workers=workers, chunk=1, fork_with_threads=_FORK_WITH_THREADS
    )
    return _results(pairs)


def run_processes(tasks: Sequence[BatchTask], workers: int) -> Iterator[BatchResult]:
    """Run the batches on ``workers`` local processes (see :func:`map_processes`)."""
    return map_processes(run_batch, tasks, workers)


def run_dask(tasks: Sequence[BatchTask], scheduler: str) -> Iterator[BatchResult]:
    """Run the batches on the Dask ``distributed`` cluster whose scheduler is at ``scheduler``.

    Workers need emstat installed; results come back to this process, which
    alone writes the output directory (workers need no shared filesystem).
    """
    pairs = iter_tasks(run_batch, tasks, scheduler=scheduler, chunk=1, timeout=CONNECT_TIMEOUT)
    return _results(pairs)


def _rows(task: BatchTask) -> int:
    """The rows of one replicate's data set (every sequence of an HMM's, with outliers)."""
    n = task.scenario.n + task.design.noise.rows(task.scenario.n)
    return n * int(getattr(task.design.mixture, "sequences", 1))


def primes_workers(
    tasks: Sequence[BatchTask],
    *,
    workers: int,
    scheduler: str | None,
    batch_size: int | None = None,
) -> bool:
    """Whether to run the first replicate here before forking the workers (:func:`prime`).

    A forked worker inherits what this process has loaded: run here, the
    first replicate loads the study's compiled kernels (numba's set-up and
    each kernel's cached code, most of a worker's start) and the modules
    they need once for all the workers instead of once in each, while they
    contend for the CPUs.  Only for local forked workers, small data sets,
    enough replicates, and batches of the default size (a ``batch_size``
    given is kept for every batch); not while this process runs other
    threads (the workers are then spawned), nor for data with missing cells
    (their compiled E-step is parallel: its threads must not be forked), nor
    for selection (a replicate fits a whole grid while the workers wait).
    """
    if scheduler or workers <= 1 or not tasks or batch_size is not None:
        return False
    if tasks[0].scenario.select:
        return False
    if tasks[0].design.missing.active:  # the E-step with missing cells is always parallel
        return False
    if not forks_workers(_FORK_WITH_THREADS):  # spawned workers would inherit nothing
        return False
    pending = sum(len(task.replicates) for task in tasks)
    return pending >= PRIME_MIN_REPLICATES * workers and _rows(tasks[0]) <= PRIME_MAX_ROWS


def prime(tasks: Sequence[BatchTask]) -> tuple[list[BatchTask], BatchResult]:
    """Run the first replicate of ``tasks`` in this process: the tasks left, and its rows.

    Its rows are the same as a worker's (a replicate's numbers depend only on
    its own stream, and data this small never reach the parallel kernels).
    """
    first, rest = tasks[0], list(tasks[1:])
    head = BatchTask(first.design, first.scenario, first.replicates[:1])
    tail = BatchTask(first.design, first.scenario, first.replicates[1:])
    return ([tail] if tail.replicates else []) + rest, run_batch(head)


def run_tasks(
    tasks: Sequence[BatchTask], *, workers: int, scheduler: str | None
) -> Iterator[BatchResult]:
    """Dispatch to Dask when a scheduler is given, else to processes (or this process)."""
    if scheduler:
        return run_dask(tasks, scheduler)
    if workers <= 1 or len(tasks) <= 1:
        return run_local(tasks)
    return run_processes(tasks, min(workers, len(tasks)))
