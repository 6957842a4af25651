"""Where batches run: this process, local worker processes, or a Dask cluster.

Each executor is a generator of :class:`BatchResult` in completion order;
the caller writes each one to disk as it arrives.  Closing the generator
(an interrupt, an error in the caller) cancels the work not yet started.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from emstat._optional import require
from emstat.errors import InputError
from emstat.simulation.replicate import BatchResult, BatchTask, run_batch

__all__ = ["CONNECT_TIMEOUT", "run_dask", "run_local", "run_processes", "run_tasks"]

#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"


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


def run_processes(tasks: Sequence[BatchTask], workers: int) -> Iterator[BatchResult]:
    """Run the batches on ``workers`` local processes (a ``ProcessPoolExecutor``).

    The pool starts and every batch is submitted before this returns, so the
    workers exist before the caller starts any thread (a progress bar).
    """
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    try:
        pending: set[Future[BatchResult]] = {pool.submit(run_batch, task) for task in tasks}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise

    def results() -> Iterator[BatchResult]:
        nonlocal pending
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return results()


def run_dask(tasks: Sequence[BatchTask], scheduler: str) -> Iterator[BatchResult]:
    """Run the batches on the Dask ``distributed`` cluster whose scheduler is at ``scheduler``.

    Workers need emstat installed; results come back to this process, which
    alone writes the output directory (workers need no shared filesystem).
    """
    distributed = require("distributed", "dask")
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
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
