"""A selection does its per-data-set work once, not once per (k, model) cell."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pandas as pd
import pytest

import emstat
from emstat.execution import can_fork
from emstat.mixture import fit as fit_module
from emstat.mixture import hc
from emstat.mixture import selection as selection_module


def _counting(monkeypatch: pytest.MonkeyPatch, calls: Counter[str], where: Any, name: str) -> None:
    real = getattr(where, name)
    parent = os.getpid()

    def counted(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent:  # a worker redoing it: its count would not reach us
            raise AssertionError(f"{name} ran again in a worker")
        calls[name] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(where, name, counted)


@pytest.mark.parametrize("workers", [1, 2])
def test_validation_tree_and_distinct_rows_once_per_data_set(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    if workers > 1 and not can_fork():
        pytest.skip("workers share the fitter by fork")
    calls: Counter[str] = Counter()
    _counting(monkeypatch, calls, hc, "hc_tree")
    _counting(monkeypatch, calls, fit_module, "count_distinct_rows")
    _counting(monkeypatch, calls, selection_module, "prepare_data")
    faithful = emstat.load_dataset("faithful")
    selection = emstat.select_mixture(faithful, k=range(1, 5), workers=workers)
    assert selection.table.shape == (4, 14)
    # forked workers inherit the tree and the count: the parent made them, once
    assert calls == Counter(hc_tree=1, count_distinct_rows=1, prepare_data=1)


def test_a_selection_on_two_workers_gives_the_same_table() -> None:
    if not can_fork():
        pytest.skip("workers share the fitter by fork")
    iris = emstat.load_dataset("faithful")
    serial = emstat.select_mixture(iris, k=range(1, 6))
    parallel = emstat.select_mixture(iris, k=range(1, 6), workers=2)
    pd.testing.assert_frame_equal(parallel.table, serial.table)
    assert parallel.best.data_ is not None  # the parent reattached the rows
