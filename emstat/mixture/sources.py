"""Data larger than memory: chunks spilled to disk once, or partitions on a Dask cluster.

EM passes over the data once per iteration, so a one-shot iterator of
chunks (or a list of Parquet/CSV files) is read once, validated, and
written as raw float64 rows to a spill file; every E-step then streams that
file in chunks of ``chunk_rows``, so memory stays bounded by the chunk size.
A seeded reservoir sample of ``sample_size`` rows, drawn in the same pass,
gives the starting partition (as mclust starts from a subset of 2,000 rows).

A Dask DataFrame or array is not moved: each E-step maps over its
partitions where they live, and only parameters and statistics travel.
Both sources implement :class:`emstat.engine.ChunkedData`.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat._io import split_row_index
from emstat._optional import require
from emstat._validation import as_numeric_data, describe_labels
from emstat.errors import EmstatError, InputError
from emstat.mixture.missing import (
    IncompleteRows,
    MissingSummary,
    check_columns_observed,
    start_sample,
    warn_dropped,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DaskSource",
    "SpillSource",
    "connected",
    "is_dask_collection",
    "is_out_of_core",
    "open_source",
]

DEFAULT_CHUNK_ROWS = 1_000_000


def is_dask_collection(data: Any) -> bool:
    return hasattr(data, "__dask_graph__")


def _is_file_list(data: Any) -> bool:
    return (
        isinstance(data, (list, tuple))
        and len(data) > 0
        and all(isinstance(p, (str, os.PathLike)) for p in data)
    )


def is_out_of_core(data: Any) -> bool:
    """True for data that :func:`open_source` handles: chunk iterators, file lists, Dask."""
    if isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
        return False
    return is_dask_collection(data) or _is_file_list(data) or isinstance(data, Iterator)


def _read_files(paths: Sequence[str | os.PathLike[str]], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """DataFrame chunks of Parquet (by record batch) and CSV files, in order."""
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise InputError(f"no file {str(path)!r}")
        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                pq = require("pyarrow.parquet", "dask")
                chunks: Iterable[pd.DataFrame] = (
                    batch.to_pandas()
                    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows)
                )
            else:
                chunks = (
                    _without_row_index(chunk, path, number == 0)
                    for number, chunk in enumerate(pd.read_csv(path, chunksize=chunk_rows))
                )
            for chunk in chunks:
                chunk.attrs["source"] = str(path)  # so that errors can name the file
                yield chunk
        except pd.errors.EmptyDataError:
            raise InputError(f"{str(path)!r} is empty") from None
        except EmstatError:
            raise
        except (ValueError, OSError) as exc:  # a malformed CSV or Parquet file (ArrowInvalid)
            raise InputError(f"cannot read {str(path)!r}: {exc}") from None


def _without_row_index(chunk: pd.DataFrame, path: Path, first: bool) -> pd.DataFrame:
    """A CSV chunk without the row names R and pandas write in an unnamed first column."""
    chunk, dropped = split_row_index(chunk, str(path))
    if dropped and first:
        warnings.warn(
            f"{str(path)!r}: column 1 is a row index and was left out", UserWarning, stacklevel=2
        )
    return chunk


@dataclass
class _Reservoir:
    """Algorithm R over chunks: a uniform sample of ``size`` rows, reproducible from the seed."""

    size: int
    rng: np.random.Generator
    rows: np.ndarray = field(init=False)
    values: np.ndarray | None = field(init=False, default=None)
    seen: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rows = np.empty(0, dtype=np.int64)

    def add(self, chunk: np.ndarray) -> None:
        if self.values is None:
            self.values = np.empty((self.size, chunk.shape[1]))
        m = chunk.shape[0]
        fill = min(max(self.size - self.seen, 0), m)
        if fill:
            self.values[self.seen : self.seen + fill] = chunk[:fill]
            self.rows = np.concatenate([self.rows, self.seen + np.arange(fill)])
        if fill < m:
            positions = self.seen + np.arange(fill, m)
            slots = (self.rng.random(m - fill) * (positions + 1)).astype(np.int64)
            keep = np.flatnonzero(slots < self.size)
            for i in keep:  # later rows overwrite earlier ones in order, as in Algorithm R
                self.values[slots[i]] = chunk[fill + i]
                self.rows[slots[i]] = positions[i]
        self.seen += m

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        count = min(self.size, self.seen)
        assert self.values is not None
        order = np.argsort(self.rows[:count])
        return self.values[:count][order], self.rows[:count][order]


@dataclass
class SpillSource:
    """Rows validated once and spilled to a float64 file, streamed in chunks."""

    path: Path
    columns: list[str]
    n: int
    center: np.ndarray
    sample: np.ndarray
    sample_rows: np.ndarray
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    _tempdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    missing: MissingSummary | None = None  # set when some cells are NaN (EM marginalises them)
    starts_imputed: bool = False  # the sample's missing cells set to column means for starts

    @property
    def d(self) -> int:
        return len(self.columns)

    def chunks(self) -> Iterator[np.ndarray]:
        """The rows, centred, ``chunk_rows`` at a time."""
        with self.path.open("rb") as handle:
            while True:
                block = np.fromfile(handle, dtype=np.float64, count=self.chunk_rows * self.d)
                if block.size == 0:
                    return
                block = block.reshape(-1, self.d)
                block -= self.center
                yield block

    def map_reduce(self, e_step: Callable[[Any], tuple[Any, float]]) -> tuple[Any, float]:
        total: Any = None
        loglik = 0.0
        for chunk in self.chunks():
            stats, part = e_step(_with_missing(chunk, self.missing is not None))
            total = stats if total is None else total + stats
            loglik += part
        return total, loglik


def _with_missing(chunk: np.ndarray, has_missing: bool) -> Any:
    """A chunk as the E-step takes it: grouped by missingness pattern when cells are NaN."""
    return IncompleteRows.from_array(chunk) if has_missing else chunk


@dataclass
class _Tally:
    """Column sums, observed counts, ranges and the missingness of the chunks seen so far."""

    d: int
    n: int = 0
    sums: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)
    lo: np.ndarray = field(init=False)
    hi: np.ndarray = field(init=False)
    cells_missing: np.ndarray = field(init=False)
    rows_missing: int = 0
    rows_empty: int = 0

    def __post_init__(self) -> None:
        self.sums, self.counts = np.zeros(self.d), np.zeros(self.d, dtype=np.int64)
        self.lo, self.hi = np.full(self.d, np.inf), np.full(self.d, -np.inf)
        self.cells_missing = np.zeros(self.d, dtype=np.int64)

    def add(self, values: np.ndarray) -> None:
        mask = np.isnan(values)
        self.n += values.shape[0]
        self.counts += values.shape[0] - mask.sum(axis=0)
        self.cells_missing += mask.sum(axis=0)
        if mask.any():
            per_row = mask.sum(axis=1)
            self.rows_missing += int(np.count_nonzero(per_row))
            self.rows_empty += int(np.count_nonzero(per_row == self.d))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column of a chunk
                self.sums += np.nansum(values, axis=0)
                self.lo = np.fmin(self.lo, np.nanmin(values, axis=0))
                self.hi = np.fmax(self.hi, np.nanmax(values, axis=0))
        elif values.shape[0]:
            self.sums += values.sum(axis=0)
            self.lo = np.minimum(self.lo, values.min(axis=0))
            self.hi = np.maximum(self.hi, values.max(axis=0))

    def missing(self, names: Sequence[str]) -> MissingSummary | None:
        """What was missing (None: nothing); refuses a column never observed."""
        if not self.cells_missing.any():
            return None
        check_columns_observed((self.counts == 0)[None, :], names)
        return MissingSummary(
            cells=int(self.cells_missing.sum()),
            total_cells=self.n * self.d,
            rows=self.rows_missing,
            total_rows=self.n,
            dropped=self.rows_empty,
            by_column={str(c): int(v) for c, v in zip(names, self.cells_missing, strict=True)},
        )


def _sample_for_starts(
    sample: np.ndarray, sample_rows: np.ndarray, missing: MissingSummary | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The sampled rows the starts use: all of them, or (missing cells) as in-memory fits
    choose them; and whether their missing cells were set to column means."""
    if missing is None:
        return sample, sample_rows, False
    kept = np.flatnonzero(~np.isnan(sample).all(axis=1))
    rows, positions, imputed = start_sample(sample, kept)
    return rows, sample_rows[positions], imputed


def spill(
    chunks: Iterable[Any],
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    sample_size: int = 2000,
    seed: int | None = 0,
    spill_dir: str | os.PathLike[str] | None = None,
    missing: str = "error",
) -> SpillSource:
    """Validate chunks (DataFrames or arrays) and write them to a spill file.

    ``missing="em"`` lets NaN cells through (rows with none observed are
    counted, and left out of the fit by the E-step).
    """
    tmp = tempfile.TemporaryDirectory(prefix="emstat-", dir=spill_dir)
    path = Path(tmp.name) / "rows.f64"
    reservoir = _Reservoir(sample_size, np.random.default_rng(seed))
    names: list[str] | None = None
    tally: _Tally | None = None
    with path.open("wb") as handle:
        for number, raw in enumerate(chunks):
            where = f"chunk {number + 1}"
            if isinstance(raw, pd.DataFrame):
                if "source" in raw.attrs:
                    where += f" (from {raw.attrs['source']!r})"
                raw = raw.reset_index(drop=True)
                # rows are named by their position in the whole data
                raw.index = raw.index + (tally.n if tally else 0)
            try:
                chunk = as_numeric_data(raw, columns, allow_missing=missing == "em")
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
            if tally is None:
                names, tally = chunk.columns, _Tally(len(chunk.columns))
            elif chunk.columns != names:
                raise InputError(
                    f"{where} has columns {describe_labels(chunk.columns)}; "
                    f"the first had {describe_labels(names or [])}"
                )
            values = chunk.values
            values.tofile(handle)
            reservoir.add(values)
            tally.add(values)
    if names is None or tally is None or tally.n == 0:
        tmp.cleanup()
        raise InputError("the data have no rows")
    try:
        summary = tally.missing(names)
    except InputError:
        tmp.cleanup()
        raise
    constant = [c for c, a, b in zip(names, tally.lo, tally.hi, strict=True) if a == b]
    if constant:
        tmp.cleanup()
        raise InputError(f"column {describe_labels(constant)} is constant; drop it")
    if summary is not None:
        warn_dropped(summary.dropped)
    sample, sample_rows, starts_imputed = _sample_for_starts(*reservoir.sample(), summary)
    fitted = tally.n - (summary.dropped if summary is not None else 0)
    return SpillSource(
        path,
        names,
        fitted,
        tally.sums / tally.counts,
        sample,
        sample_rows,
        chunk_rows=chunk_rows,
        _tempdir=tmp,
        missing=summary,
        starts_imputed=starts_imputed,
    )


def _map_parts(fn: Callable[..., Any], parts: list[Any], client: Any, *args: Any) -> list[Any]:
    """``fn(part, *args)`` for every partition, where it lives; results in partition order."""
    if client is not None:
        return list(client.gather(client.map(fn, parts, *args, pure=False)))
    dask = require("dask", "dask")
    return list(
        dask.compute(*[dask.delayed(fn)(p, *a) for p, *a in zip(parts, *args, strict=True)])
    )


def _as_rows(part: Any) -> np.ndarray:
    rows = np.asarray(part, dtype=np.float64)
    return rows if rows.ndim == 2 else rows[:, None]


def _part_summary(part: Any) -> _Tally | bool:
    """A partition's tally, or False when it holds an infinite value."""
    rows = _as_rows(part)
    if np.isinf(rows).any():
        return False
    tally = _Tally(rows.shape[1])
    tally.add(rows)
    return tally


def _part_rows(part: Any, local: np.ndarray) -> np.ndarray:
    return _as_rows(part)[local]


@dataclass
class DaskSource:
    """Partitions of a Dask collection; E-steps run where they live."""

    parts: list[Any]
    columns: list[str]
    n: int
    center: np.ndarray
    sample: np.ndarray
    sample_rows: np.ndarray
    client: Any = None
    missing: MissingSummary | None = None  # set when some cells are NaN (EM marginalises them)
    starts_imputed: bool = False  # the sample's missing cells set to column means for starts

    def map_reduce(self, e_step: Callable[[Any], tuple[Any, float]]) -> tuple[Any, float]:
        center = self.center
        has_missing = self.missing is not None

        def on_partition(part: Any) -> tuple[Any, float]:
            return e_step(_with_missing(_as_rows(part) - center, has_missing))

        total: Any = None
        loglik = 0.0
        # Summed in partition order, so the result does not depend on timing.
        for stats, part in _map_parts(on_partition, self.parts, self.client):
            total = stats if total is None else total + stats
            loglik += part
        return total, loglik


def _dask_source(
    data: Any,
    columns: Sequence[str] | None,
    sample_size: int,
    seed: int | None,
    client: Any,
    missing: str = "error",
) -> DaskSource:
    if hasattr(data, "columns"):  # a Dask DataFrame
        frame = data[list(columns)] if columns is not None else data
        names = [str(c) for c in frame.columns]
        bad = [str(c) for c, t in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if bad:
            raise InputError(f"column {describe_labels(bad)} is not numeric")
        parts = list(frame.to_delayed())
    else:
        array = data if data.ndim == 2 else data[:, None]
        names = list(columns) if columns else [f"x{j + 1}" for j in range(array.shape[1])]
        parts = list(array.rechunk({1: array.shape[1]}).to_delayed().ravel())
    if client is not None:
        parts = client.compute(parts)  # futures: the partitions stay on the workers
    summaries = _map_parts(_part_summary, parts, client)
    tallies = [s for s in summaries if not isinstance(s, bool)]
    sizes = np.array([s.n if not isinstance(s, bool) else 0 for s in summaries])
    n = int(sizes.sum())
    if n == 0 and len(tallies) == len(summaries):
        raise InputError("the data have no rows")
    total = _Tally(len(names))
    for tally in tallies:
        total.n += tally.n
        total.sums += tally.sums
        total.counts += tally.counts
        total.lo, total.hi = np.fmin(total.lo, tally.lo), np.fmax(total.hi, tally.hi)
        total.cells_missing += tally.cells_missing
        total.rows_missing += tally.rows_missing
        total.rows_empty += tally.rows_empty
    if len(tallies) < len(summaries) or (missing != "em" and total.cells_missing.any()):
        raise InputError("NaN/missing or infinite values in the data; drop or impute them first")
    summary = total.missing(names)
    constant = [c for c, a, b in zip(names, total.lo, total.hi, strict=True) if a == b]
    if constant:
        raise InputError(f"column {describe_labels(constant)} is constant; drop it")
    if summary is not None:
        warn_dropped(summary.dropped)
    # summed as before missing cells were allowed: a fit of complete data is unchanged
    center = np.sum([t.sums for t in tallies if t.n], axis=0) / total.counts
    sample_rows = np.sort(
        np.random.default_rng(seed).choice(n, size=min(sample_size, n), replace=False)
    )
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    owner = np.searchsorted(offsets, sample_rows, side="right") - 1
    local = [sample_rows[owner == p] - offsets[p] for p in range(len(parts))]
    sample = np.concatenate(_map_parts(_part_rows, parts, client, local))
    sample, sample_rows, starts_imputed = _sample_for_starts(sample, sample_rows, summary)
    fitted = n - (summary.dropped if summary is not None else 0)
    return DaskSource(
        parts, names, fitted, center, sample, sample_rows, client, summary, starts_imputed
    )


@contextmanager
def connected(client: Any) -> Iterator[Any]:
    """A Dask client: ``client`` itself, or one connected to an address and closed after."""
    if not isinstance(client, str):
        yield client
        return
    distributed = require("dask.distributed", "dask")
    try:
        live = distributed.Client(client)
    except (OSError, ValueError, TypeError) as exc:  # no scheduler there, or not an address
        raise InputError(f"cannot connect to the Dask scheduler at {client!r}: {exc}") from None
    with live:
        yield live


def open_source(
    data: Any,
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    sample_size: int = 2000,
    seed: int | None = 0,
    client: Any = None,
    spill_dir: str | os.PathLike[str] | None = None,
    missing: str = "error",
) -> SpillSource | DaskSource:
    """Open chunks, files or a Dask collection as a source EM can pass over repeatedly.

    ``missing="em"`` lets NaN cells through: each chunk's E-step then
    groups its rows by missingness pattern (:mod:`emstat.mixture.missing`).
    """
    if is_dask_collection(data):
        return _dask_source(data, columns, sample_size, seed, client, missing)
    chunks = _read_files(data, chunk_rows) if _is_file_list(data) else data
    return spill(
        chunks,
        columns,
        chunk_rows=chunk_rows,
        sample_size=sample_size,
        seed=seed,
        spill_dir=spill_dir,
        missing=missing,
    )
