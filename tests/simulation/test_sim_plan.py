"""The default batches: the last ones are small, so the workers end together; every
replicate is planned once, in order; a batch size given is kept."""

from __future__ import annotations

from emstat.simulation.design import make_design, mixture_from_formula
from emstat.simulation.runner import plan_batches

from .conftest import EXAMPLE


def _design(reps: int, n: list[int] | None = None):  # type: ignore[no-untyped-def]
    return make_design(mixture_from_formula(EXAMPLE), n=n or [100], reps=reps, seed=1)


def test_the_last_batches_are_quarters() -> None:
    tasks = plan_batches(_design(1000), set(), workers=2)
    sizes = [len(t.replicates) for t in tasks]
    assert sizes[:18] == [50] * 18
    assert sizes[18:] == [13, 13, 13, 11, 13, 13, 13, 11]
    planned = [r for t in tasks for r in t.replicates]
    assert planned == list(range(1000))


def test_every_replicate_of_every_scenario_once_and_a_given_size_kept() -> None:
    design = _design(10, n=[100, 200])
    tasks = plan_batches(design, {(0, 4)}, workers=3)
    pairs = [(t.scenario.scenario, r) for t in tasks for r in t.replicates]
    expected = [(s, r) for s in (0, 1) for r in range(10) if (s, r) != (0, 4)]
    assert pairs == expected
    assert all(len(t.replicates) >= 1 for t in tasks)
    given = plan_batches(design, set(), workers=3, batch_size=4)
    assert [len(t.replicates) for t in given] == [4, 4, 2, 4, 4, 2]
    assert len(plan_batches(design, set(), workers=1)) == 4  # one process: no tail to even
