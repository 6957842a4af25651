"""``select_hmm(workers=2)`` fits the numbers of states on processes, with the same table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(10)
    states = np.zeros(240, dtype=int)
    for t in range(1, 240):
        states[t] = states[t - 1] if rng.random() < 0.9 else 1 - states[t - 1]
    return pd.DataFrame({"x": np.array([-2.0, 2.0])[states] + rng.normal(size=240)})


def test_two_workers_give_the_serial_table_and_reasons() -> None:
    frame = _frame()
    serial = emstat.select_hmm(frame, k=range(1, 4), models=["E", "V"])
    parallel = emstat.select_hmm(frame, k=range(1, 4), models=["E", "V"], workers=2)
    pd.testing.assert_frame_equal(parallel.table, serial.table)
    assert parallel.best.k == serial.best.k == 2
    tiny = emstat.select_hmm(frame.iloc[:2], k=[1, 3], models=["V"], workers=2)
    assert "need at least 3 rows" in tiny.table.set_index("k").loc[3, "reason"]


def test_workers_must_be_a_whole_number() -> None:
    with pytest.raises(InputError, match=r"workers must be a whole number >= 1, got 0"):
        emstat.select_hmm(_frame(), k=[1, 2], workers=0)
