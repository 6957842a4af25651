"""A study run through a real Dask scheduler gives the local result."""

from __future__ import annotations

from pathlib import Path

import pytest

from emstat.errors import InputError
from emstat.simulation import executors, simulate

from .conftest import SEPARATED, read_replicates

distributed = pytest.importorskip("distributed")


def test_dask_cluster_matches_local(tmp_path: Path) -> None:
    args = dict(n=60, reps=16, seed=21, batch_size=4, select_k=[1, 2, 3])
    simulate(SEPARATED, out_dir=tmp_path / "local", workers=1, **args)
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        simulate(SEPARATED, out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address, **args)
    assert read_replicates(tmp_path / "dask").equals(read_replicates(tmp_path / "local"))


def test_unreachable_scheduler_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        simulate(SEPARATED, n=30, reps=2, out_dir=tmp_path / "x", scheduler="tcp://127.0.0.1:1")
