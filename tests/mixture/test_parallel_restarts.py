"""Restarts of one fit on worker processes give the one-process fit exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError
from emstat.execution import can_fork
from emstat.mixture import _parallel

pytestmark = pytest.mark.skipif(not can_fork(), reason="restarts share their run by fork")


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    x = np.vstack([rng.normal(m, 1.0, (60, 2)) for m in (-3, 0, 3)])
    return pd.DataFrame(x, columns=["a", "b"])


@pytest.mark.parametrize(("model", "init"), [("VVV", "kmeans++"), ("VEV", "random")])
def test_restarts_on_two_workers_equal_one_process(model: str, init: str) -> None:
    data = _data()
    serial = emstat.fit_mixture(data, 3, model, init=init, n_init=6, seed=5)
    parallel = emstat.fit_mixture(data, 3, model, init=init, n_init=6, seed=5, workers=2)
    assert parallel.loglik == serial.loglik
    pd.testing.assert_frame_equal(parallel.params, serial.params)
    columns = ["restart", "init", "loglik", "n_iter", "converged", "stop_reason"]
    pd.testing.assert_frame_equal(parallel.restarts[columns], serial.restarts[columns])
    assert len(set(serial.restarts["loglik"].round(6))) > 1  # the restarts differ


def test_restarts_run_on_workers_only_when_they_give_the_serial_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[int] = []
    real = _parallel.fit_restarts
    monkeypatch.setattr(
        "emstat.mixture.fit.fit_restarts",
        lambda run, starts, workers: (used.append(workers), real(run, starts, workers))[1],
    )
    data = _data()
    emstat.fit_mixture(data, 3, init="kmeans++", n_init=4, workers=2)
    emstat.fit_mixture(data, 3, init="kmeans++", n_init=4, workers=2, algorithm="sem")
    emstat.fit_mixture(data, 3, workers=2)  # one (hc) start
    assert used == [2, 1, 1]


def test_workers_must_be_a_whole_number() -> None:
    with pytest.raises(InputError, match=r"workers must be a whole number >= 1, got 0"):
        emstat.fit_mixture(_data(), 2, workers=0)
