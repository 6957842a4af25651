"""The one execution layer: the same results in this process, on workers and on Dask."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from emstat import execution
from emstat.errors import InputError
from emstat.mixture import fused  # loaded here, so forked workers have it


def _draw(task: tuple[int, np.random.SeedSequence]) -> tuple[int, float]:
    index, stream = task
    return index, float(np.random.default_rng(stream).normal())


def _scaled(scale: float, task: tuple[int, np.random.SeedSequence]) -> float:
    return scale * _draw(task)[1]


def _pid(_: int) -> int:
    return os.getpid()


def _kernel_threshold(_: int) -> int:
    return int(fused.PARALLEL_MIN_ROWS)


def _fails(task: int) -> int:
    if task == 5:
        raise ZeroDivisionError(f"task {task}")
    return task


def _tasks(n: int) -> list[tuple[int, np.random.SeedSequence]]:
    return list(enumerate(np.random.SeedSequence(7).spawn(n)))


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_two_workers_give_the_serial_results_in_task_order(chunk: int | None) -> None:
    tasks = _tasks(23)
    serial = execution.map_tasks(_draw, tasks)
    assert [i for i, _ in serial] == list(range(23))
    assert execution.map_tasks(_draw, tasks, workers=2, chunk=chunk) == serial


def test_the_shared_object_reaches_every_task_once_per_worker() -> None:
    tasks = _tasks(10)
    expected = [3.0 * v for _, v in execution.map_tasks(_draw, tasks)]
    assert execution.map_tasks(_scaled, tasks, shared=3.0) == expected
    assert execution.map_tasks(_scaled, tasks, shared=3.0, workers=2) == expected


def test_tasks_run_in_other_processes_with_serial_kernels() -> None:
    pids = execution.map_tasks(_pid, list(range(8)), workers=2, chunk=1)
    assert os.getpid() not in pids
    thresholds = execution.map_tasks(_kernel_threshold, list(range(4)), workers=2, chunk=1)
    assert thresholds == [2**62] * 4
    assert _kernel_threshold(0) < 2**62  # this process keeps its threaded kernels


def _blas_threads(_: int) -> int:
    from threadpoolctl import threadpool_info

    return max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def test_workers_run_one_blas_thread() -> None:
    assert execution.map_tasks(_blas_threads, list(range(4)), workers=2, chunk=1) == [1] * 4


def test_a_failing_task_raises_its_own_error() -> None:
    with pytest.raises(ZeroDivisionError, match="task 5"):
        execution.map_tasks(_fails, list(range(12)), workers=2, chunk=2)
    with pytest.raises(ZeroDivisionError, match="task 5"):
        execution.map_tasks(_fails, list(range(12)))


def test_no_tasks_start_no_workers() -> None:
    assert execution.map_tasks(_pid, [], workers=2) == []


def test_chunks_amortise_small_tasks() -> None:
    assert execution.chunk_size(1000, 2) == 125  # 4 chunks per worker
    assert execution.chunk_size(3, 2) == 1
    assert execution.chunk_size(1000, 2, scheduler="tcp://h:1") == 63  # 16 on Dask


def test_the_no_shared_marker_survives_pickling() -> None:
    # Dask and spawned workers unpickle it; a plain object() would become another one.
    assert pickle.loads(pickle.dumps(execution._NO_SHARED)) is execution._NO_SHARED


def test_workers_fork_while_threads_run_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    if not execution.can_fork():
        pytest.skip("this platform does not fork")
    # Other tests may leave threads behind in this process: count them by hand.
    monkeypatch.setattr(execution.threading, "active_count", lambda: 2)
    assert execution._context(True).get_start_method() == "fork"
    assert execution._context(False).get_start_method() == "spawn"
    monkeypatch.setattr(execution.threading, "active_count", lambda: 1)
    assert execution._context(False).get_start_method() == "fork"


def test_a_bad_scheduler_is_one_clear_error() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=r"scheduler must be a Dask scheduler address.*int"):
        execution.map_tasks(_pid, [1], scheduler=8786)
    with pytest.raises(InputError, match="not a Dask scheduler address"):
        execution.map_tasks(_pid, [1], scheduler="tcp://host-without-port")


def test_dask_gives_the_serial_results() -> None:
    distributed = pytest.importorskip("distributed")
    tasks = _tasks(20)
    expected = execution.map_tasks(_scaled, tasks, shared=2.0)
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert (
            execution.map_tasks(_scaled, tasks, shared=2.0, scheduler=cluster.scheduler_address)
            == expected
        )
        with distributed.Client(cluster, set_as_default=False) as client:
            assert execution.map_tasks(_draw, tasks, scheduler=client) == execution.map_tasks(
                _draw, tasks
            )
            assert client.status == "running"  # a client given is the caller's to close
