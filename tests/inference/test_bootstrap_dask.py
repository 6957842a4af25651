"""The bootstrap of a fit on a Dask cluster gives the serial run's replicates exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat import execution
from emstat.errors import InputError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as running:
        yield running


def _gaussian() -> emstat.MixtureResult:
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.normal(-2, 1, 60), rng.normal(2, 0.7, 40)])
    return emstat.fit_mixture(pd.DataFrame({"x": x}), 2, model="V")


def test_gaussian_bootstrap_on_a_scheduler_address_equals_the_serial_run(cluster) -> None:  # type: ignore[no-untyped-def]
    fit = _gaussian()
    serial = fit.bootstrap(40, kind="bs", seed=11)
    remote = fit.bootstrap(40, kind="bs", seed=11, scheduler=cluster.scheduler_address)
    assert remote.values.shape == (40, 6)
    np.testing.assert_array_equal(remote.values, serial.values)
    # BCa's jackknife runs on the cluster too, and agrees
    pd.testing.assert_frame_equal(remote.conf_int(interval="bca"), serial.conf_int(interval="bca"))


def test_family_bootstrap_on_a_client_equals_the_serial_run(cluster) -> None:  # type: ignore[no-untyped-def]
    df = emstat.datasets.load_dataset("deaths")
    fit = emstat.fit_mixture(df, 2, family="poisson", columns=["deaths"], weights="days")
    serial = fit.bootstrap(24, kind="wlbs", seed=3)
    with distributed.Client(cluster, set_as_default=False) as client:
        remote = fit.conf_int(method="bootstrap", n_boot=24, kind="wlbs", seed=3, scheduler=client)
        assert client.status == "running"  # a client given is the caller's to close
    np.testing.assert_array_equal(
        remote[["ci_low", "ci_high"]].to_numpy(),
        serial.conf_int()[["ci_low", "ci_high"]].to_numpy(),
    )
    assert not np.isnan(serial.values).all()


def test_bad_schedulers_are_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fit = _gaussian()
    with pytest.raises(InputError, match=r"scheduler must be a Dask scheduler address.*int"):
        fit.bootstrap(10, scheduler=8786)
    with pytest.raises(InputError, match="not a Dask scheduler address"):
        fit.bootstrap(10, scheduler="tcp://host-without-port")
    monkeypatch.setattr(execution, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        fit.bootstrap(10, scheduler="tcp://127.0.0.1:1")
