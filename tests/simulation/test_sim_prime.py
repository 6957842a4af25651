"""Forked workers start primed: the parent runs a study's first replicate before the pool
forks, so the workers inherit its compiled kernels and modules; when this is done, and
that it changes no number."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from emstat import execution
from emstat.simulation.design import make_design, mixture_from_formula
from emstat.simulation.executors import prime, primes_workers
from emstat.simulation.replicate import BatchTask, run_batch
from emstat.simulation.runner import plan_batches

from .conftest import EXAMPLE, comparable

forks = pytest.mark.skipif(not execution.can_fork(), reason="workers start by fork")


def _tasks(n: int = 100, reps: int = 40, **options: object) -> list[BatchTask]:
    design = make_design(mixture_from_formula(EXAMPLE), n=[n], reps=reps, seed=1, **options)
    return plan_batches(design, set(), workers=2)


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as the command's: no other thread (a test before may have left one)."""
    monkeypatch.setattr(execution.threading, "active_count", lambda: 1)


@forks
def test_primes_local_forked_workers_of_small_studies_only(one_thread: None) -> None:
    tasks = _tasks()
    assert primes_workers(tasks, workers=2, scheduler=None)
    assert not primes_workers(tasks, workers=1, scheduler=None)  # all in this process
    assert not primes_workers(tasks, workers=2, scheduler="tcp://host:8786")  # remote
    assert not primes_workers(tasks, workers=2, scheduler=None, batch_size=5)  # kept as asked
    assert not primes_workers([], workers=2, scheduler=None)
    assert not primes_workers(_tasks(reps=15), workers=2, scheduler=None)  # < 8 per worker
    assert not primes_workers(_tasks(n=20_000, reps=16), workers=2, scheduler=None)  # big data
    missing = _tasks(missing={"rate": 0.1})  # its E-step is parallel: threads before the fork
    assert not primes_workers(missing, workers=2, scheduler=None)
    selecting = _tasks(select_k=[1, 2, 3])  # a replicate is a grid: the workers would wait
    assert selecting[0].scenario.select
    assert not primes_workers(selecting, workers=2, scheduler=None)


@forks
def test_no_priming_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers are then spawned: they would inherit nothing."""
    monkeypatch.setattr(execution.threading, "active_count", lambda: 2)
    assert not primes_workers(_tasks(), workers=2, scheduler=None)


def test_prime_runs_the_first_replicate_and_leaves_the_rest() -> None:
    tasks = _tasks()
    first = tasks[0]
    left, result = prime(tasks)
    assert result.replicates == (0,)
    assert left[0].replicates == first.replicates[1:]
    assert left[1:] == tasks[1:]
    whole = run_batch(first).rows
    pd.testing.assert_frame_equal(
        comparable(result.rows), comparable(whole[whole["replicate"] == 0])
    )
    one = _tasks(reps=1)  # a batch of one replicate leaves no empty batch behind
    assert prime(one)[0] == []


# In a fresh process (as the command runs): forked workers, no thread left by other tests.
_STUDY = """
import sys
from pathlib import Path
import pandas as pd
from emstat.simulation import executors, runner, simulate

primed = []

def watched(tasks):
    left, result = executors.prime(tasks)
    primed.append(result.replicates)
    assert "emstat.mixture._em_kernels" in sys.modules  # loaded here, before the fork
    return left, result

runner.prime = watched
out = Path(sys.argv[1])
summary = simulate("0.5*N(-0.8,1) + 0.5*N(0.8,1)", n=100, reps=40, seed=1, out_dir=out, workers=2)
rows = pd.read_parquet(out / "replicates.parquet")
assert sorted(rows["replicate"].unique()) == list(range(40))
assert not rows.duplicated(["replicate", "component", "parameter"]).any()
assert summary["reps"].eq(40).all()
assert not list((out / "parts").glob("*.parquet"))  # the parts are gathered
print(primed)
"""


@forks
def test_the_parent_runs_the_first_replicate_before_the_workers_fork(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _STUDY, str(tmp_path / "s")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[(0,)]"  # once, with the first replicate
