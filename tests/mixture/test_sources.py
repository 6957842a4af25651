"""Data larger than memory: chunk iterators, file lists and Dask give the in-memory fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError
from emstat.mixture.sources import _Reservoir, spill


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


def pieces(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def assert_same_fit(ours: emstat.MixtureResult, reference: emstat.MixtureResult) -> None:
    assert ours.n == reference.n and ours.n_iter == reference.n_iter
    assert ours.loglik == pytest.approx(reference.loglik, rel=1e-12)
    assert ours.icl == pytest.approx(reference.icl, rel=1e-10)
    assert ours.params_ is not None and reference.params_ is not None
    np.testing.assert_allclose(ours.params_.means, reference.params_.means, rtol=1e-10)
    np.testing.assert_allclose(ours.params_.covariances, reference.params_.covariances, rtol=1e-10)


@pytest.mark.parametrize("model", ["VVV", "EEE", "VII", "EVE"])
def test_streamed_fit_has_the_in_memory_standard_errors(faithful: pd.DataFrame, model: str) -> None:
    # The observed information is a sum over rows: one pass over the spilled chunks.
    reference = emstat.fit_mixture(faithful, k=2, model=model, tol=1e-10)
    chunked = emstat.fit_mixture(pieces(faithful, 50), k=2, model=model, chunk_rows=64, tol=1e-10)
    assert chunked.std_error_method == "observed information"
    np.testing.assert_allclose(
        chunked.params["std_err"], reference.params["std_err"], rtol=1e-8, atol=1e-12
    )
    assert np.isfinite(chunked.params["std_err"]).all()


@pytest.mark.parametrize("model", ["VVV", "EEE", "VII"])
def test_chunk_iterator_gives_the_in_memory_fit(faithful: pd.DataFrame, model: str) -> None:
    # With n below the sample size, the start uses every row, as in memory.
    reference = emstat.fit_mixture(faithful, k=3, model=model)
    chunked = emstat.fit_mixture(pieces(faithful, 50), k=3, model=model, chunk_rows=64)
    assert_same_fit(chunked, reference)
    assert chunked.std_error_method == "observed information"  # one pass over the spill file


def test_parquet_and_csv_files(faithful: pd.DataFrame, tmp_path: Path) -> None:
    reference = emstat.fit_mixture(faithful, k=2, model="VVV")
    parquet, csv = [], []
    for i, part in enumerate(pieces(faithful, 100)):
        parquet.append(tmp_path / f"part{i}.parquet")
        part.to_parquet(parquet[-1])
        csv.append(tmp_path / f"part{i}.csv")
        part.to_csv(csv[-1], index=False)
    assert_same_fit(emstat.fit_mixture(parquet, k=2, model="VVV", chunk_rows=30), reference)
    assert_same_fit(emstat.fit_mixture([str(p) for p in csv], k=2, model="VVV"), reference)


def test_one_dimensional_chunks() -> None:
    x = emstat.load_dataset("acidity")
    reference = emstat.fit_mixture(x["acidity"], k=2, model="V")
    assert_same_fit(emstat.fit_mixture(pieces(x, 40), k=2, model="V"), reference)


def test_dask_dataframe_without_a_cluster(faithful: pd.DataFrame) -> None:
    dd = pytest.importorskip("dask.dataframe")
    reference = emstat.fit_mixture(faithful, k=3, model="VVV")
    ddf = dd.from_pandas(faithful, npartitions=4)
    assert_same_fit(emstat.fit_mixture(ddf, k=3, model="VVV"), reference)


def test_dask_array_on_a_local_cluster(faithful: pd.DataFrame) -> None:
    distributed = pytest.importorskip("dask.distributed")
    da = pytest.importorskip("dask.array")
    reference = emstat.fit_mixture(faithful, k=3, model="EEE")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        array = da.from_array(faithful.to_numpy(), chunks=(70, 2))
        fit = emstat.fit_mixture(array, k=3, model="EEE", client=client)
        by_address = emstat.fit_mixture(array, k=3, model="EEE", client=cluster.scheduler_address)
    assert fit.columns == ["x1", "x2"]
    assert_same_fit(fit, reference)
    assert_same_fit(by_address, reference)


def test_large_data_start_from_a_seeded_sample() -> None:
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    x = centres[rng.integers(3, size=30_000)] + rng.normal(size=(30_000, 2))
    frame = pd.DataFrame(x, columns=["a", "b"])
    in_memory = emstat.fit_mixture(frame, k=3, model="VVV", tol=1e-10)
    chunked = emstat.fit_mixture(pieces(frame, 7000), k=3, model="VVV", tol=1e-10, chunk_rows=5000)
    assert chunked.init == "hc"
    # Different starting rows, the same well-separated maximum.
    assert chunked.loglik == pytest.approx(in_memory.loglik, rel=1e-9)
    order = np.argsort(chunked.means["a"] * 10 + chunked.means["b"])
    reference = np.argsort(in_memory.means["a"] * 10 + in_memory.means["b"])
    np.testing.assert_allclose(
        chunked.means.to_numpy()[order], in_memory.means.to_numpy()[reference], atol=1e-4
    )


def test_bad_chunks_name_the_chunk_and_row(faithful: pd.DataFrame) -> None:
    broken = faithful.copy()
    broken.loc[130, "waiting"] = np.nan
    with pytest.raises(InputError, match=r"chunk 3: NaN.*column 'waiting' at row 130"):
        emstat.fit_mixture(pieces(broken, 50), k=2, missing="error")
    renamed = [faithful.iloc[:100], faithful.iloc[100:].rename(columns={"waiting": "wait"})]
    with pytest.raises(InputError, match="chunk 2 has columns"):
        emstat.fit_mixture(iter(renamed), k=2)
    with pytest.raises(InputError, match="no rows"):
        emstat.fit_mixture(iter([]), k=2)
    with pytest.raises(InputError, match="no file"):
        emstat.fit_mixture(["missing.parquet"], k=2)


def test_reservoir_is_uniform_and_reproducible() -> None:
    counts = np.zeros(100)
    for seed in range(400):
        reservoir = _Reservoir(10, np.random.default_rng(seed))
        for start in range(0, 100, 7):
            reservoir.add(np.arange(start, min(100, start + 7), dtype=float)[:, None])
        values, rows = reservoir.sample()
        np.testing.assert_array_equal(values[:, 0], rows)
        counts[rows] += 1
    # Each row is kept with probability 1/10: 40 of 400 times, give or take binomial noise.
    assert counts.min() > 40 - 4.5 * 6 and counts.max() < 40 + 4.5 * 6
    again = spill(iter([np.arange(50.0)[:, None] * [1, 2]]), sample_size=5, seed=3)
    twice = spill(iter([np.arange(50.0)[:, None] * [1, 2]]), sample_size=5, seed=3)
    np.testing.assert_array_equal(again.sample_rows, twice.sample_rows)
