"""Small fits' shared work: what a selection computes once per data set, and that the
cells it shares it with are the fits each cell would be on its own, bit for bit."""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.mixture import hc
from emstat.mixture.model import GaussianMixtureModel

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "reference")


def _galaxies() -> pd.DataFrame:
    return pd.read_csv(os.path.join(REFERENCE, "mclust_galaxies.csv"))


def _numpy_qclass(x: np.ndarray, k: int) -> np.ndarray:
    """The oracle: mclust's qclass with R's type-7 quantiles, in numpy arrays throughout."""
    x = np.asarray(x, dtype=float)
    xs = np.sort(x)
    n = xs.size
    eps = float(np.std(xs, ddof=1)) * math.sqrt(np.finfo(float).eps) if n > 1 else 0.0
    m, q = k, np.empty(0)
    while q.size < k + 1:
        m += 1
        probs = np.arange(m) * (1.0 / (m - 1))
        probs[-1] = 1.0
        index = 1 + max(n - 1, 0) * probs
        lo, hi = np.floor(index), np.ceil(index)
        x_lo, x_hi = xs[lo.astype(np.intp) - 1], xs[hi.astype(np.intp) - 1]
        qs = x_lo.copy()
        inside = (index > lo) & (x_hi != qs)
        h = (index - lo)[inside]
        qs[inside] = (1 - h) * qs[inside] + h * x_hi[inside]
        _, first = np.unique(qs, return_index=True)
        q = qs[np.sort(first)]
    if q.size > k + 1:
        q = np.delete(q, np.argsort(np.diff(q), kind="stable")[: q.size - k - 1])
    q[0] = min(xs[0] - eps, np.nextafter(xs[0], -np.inf))
    q[-1] = max(xs[-1] + eps, np.nextafter(xs[-1], np.inf))
    return np.searchsorted(q, x, side="right") - 1


def _samples() -> list[np.ndarray]:
    rng = np.random.default_rng(16)
    return [
        rng.normal(size=97),
        rng.integers(0, 6, size=60).astype(float),  # ties: quantiles repeat, gaps are dropped
        np.round(rng.normal(size=150) * 3) / 3 + 1e9,  # far from 0: the end points' next float
        rng.exponential(size=40) ** 3,
        np.r_[np.zeros(30), -np.zeros(5), rng.normal(size=30)],  # 0.0 and -0.0 are one value
        _galaxies().to_numpy()[:, 0],
    ]


@pytest.mark.parametrize("sample", range(6))
def test_quantile_cuts_equal_the_numpy_quantiles_for_every_k(sample: int) -> None:
    x = _samples()[sample]
    cuts = hc.QuantileCuts.of(x)
    assert cuts.distinct == np.unique(x).size
    for k in range(1, min(cuts.distinct, 12) + 1):
        np.testing.assert_array_equal(cuts.classes(k), _numpy_qclass(x, k))
        np.testing.assert_array_equal(hc.qclass(x, k), _numpy_qclass(x, k))


def test_quantile_cuts_drop_the_shortest_gaps_as_mclust_does() -> None:
    # k = 4 needs 7 probabilities (0 1.67 2 2 2.67 4.17 5): six distinct points, one too
    # many, so the point starting the shortest gap (1.67 -> 2) goes;
    # R 4.2, mclust 6.0: mclust:::qclass(c(2, 5, 4, 2, 2, 0), 4) is 2 4 3 2 2 1
    x = np.array([2.0, 5.0, 4.0, 2.0, 2.0, 0.0])
    assert hc.qclass(x, 4).tolist() == [1, 3, 2, 1, 1, 0]
    np.testing.assert_array_equal(hc.qclass(x, 4), _numpy_qclass(x, 4))


def _count(monkeypatch: pytest.MonkeyPatch, calls: Counter[str], where: Any, name: str) -> None:
    real = getattr(where, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(where, name, counted)


def test_a_1d_selection_sorts_once_and_makes_no_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    _count(monkeypatch, calls, hc.QuantileCuts, "of")
    _count(monkeypatch, calls, np.random, "default_rng")
    selection = emstat.select_mixture(_galaxies(), k=range(1, 10))
    assert selection.table.notna().all().all()
    # one sort serves the distinct count and every k's start; quantile starts draw nothing
    assert calls == Counter(of=1)


@pytest.mark.parametrize(
    ("data", "ks", "expected"),
    [
        # 1-D: E and V share one scatter kind; k = 1 is one closed form for both
        ("galaxies", range(1, 10), 1 + 8),
        # d = 2: k = 1 is VII, VVI or VVV; every k >= 2 has a diagonal and a full scatter
        ("faithful", range(1, 5), 3 + 3 * 2),
    ],
)
def test_each_start_statistics_once_per_scatter_kind(
    monkeypatch: pytest.MonkeyPatch, data: str, ks: range, expected: int
) -> None:
    calls: Counter[str] = Counter()
    _count(monkeypatch, calls, GaussianMixtureModel, "stats_from_responsibilities")
    frame = _galaxies() if data == "galaxies" else emstat.load_dataset(data)
    emstat.select_mixture(frame, k=ks)
    assert calls["stats_from_responsibilities"] == expected


def _assert_same_fit(shared: Any, alone: Any) -> None:
    assert (shared.model, shared.k, shared.n_params) == (alone.model, alone.k, alone.n_params)
    assert shared.degenerate == alone.degenerate
    if not alone.ok:
        return
    assert shared.loglik == alone.loglik
    assert shared.classification_loglik == alone.classification_loglik
    assert shared.n_iter == alone.n_iter
    np.testing.assert_array_equal(shared.trace, alone.trace)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(getattr(shared.params_, name), getattr(alone.params_, name))


@pytest.mark.parametrize(
    ("data", "ks", "options"),
    [
        ("galaxies", range(1, 10), {}),
        ("galaxies", range(1, 6), {"prior": "mclust"}),
        ("galaxies", range(1, 6), {"reg_covar": 0.01}),
        ("faithful", range(1, 4), {}),
        ("faithful", range(1, 3), {"mclust_compatible": True}),
    ],
)
def test_every_cell_is_the_fit_it_would_be_alone(
    data: str, ks: range, options: dict[str, Any]
) -> None:
    frame = _galaxies() if data == "galaxies" else emstat.load_dataset(data)
    selection = emstat.select_mixture(frame, k=ks, **options)
    for (k, model), shared in selection.fits.items():
        _assert_same_fit(shared, emstat.fit_mixture(frame, k, model, **options))


def test_the_selection_builds_its_data_frame_when_asked_for() -> None:
    frame = emstat.load_dataset("faithful")
    selection = emstat.select_mixture(frame, k=[1, 2], models=["EII"])
    assert "data" not in vars(selection)  # not built by the selection itself
    pd.testing.assert_frame_equal(selection.data, frame.astype(float), check_index_type=False)
    assert selection.data is selection.data  # built once
    # out of core: no rows in memory, no frame
    chunks = [frame.iloc[:150], frame.iloc[150:]]
    assert emstat.select_mixture(iter(chunks), k=[1, 2], models=["EII"]).data is None


@pytest.mark.parametrize(
    ("column", "words"),
    [
        (pd.Categorical([1.0, 2.0, 3.0, 1.0]), "not numeric"),  # a float categorical is no number
        (pd.array([1.0, None, 3.0, 1.0], dtype="Float64"), "NaN/missing"),
        ([True, False, True, True], "not numeric"),
        (np.array([1.0, np.inf, 2.0, 3.0]), "infinite"),
    ],
)
def test_frames_the_fast_path_does_not_take_are_refused_by_name(column: Any, words: str) -> None:
    frame = pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.5], "b": column})
    with pytest.raises(emstat.InputError, match=words) as caught:
        emstat.fit_mixture(frame, 1, missing="error")
    assert "'b'" in str(caught.value)


def test_float_and_int_frames_keep_their_values_labels_and_rows() -> None:
    from emstat import _validation

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"f64": rng.normal(size=20), "f32": rng.normal(size=20).astype(np.float32)},
        index=pd.Index(list("abcdefghijklmnopqrst"), name="row"),
    )
    fast = _validation.as_numeric_data(frame)
    np.testing.assert_array_equal(fast.values, frame.to_numpy(dtype=float))
    assert fast.columns == ["f64", "f32"]
    assert fast.index.equals(frame.index)
    mixed = frame.assign(n=np.arange(20))  # an int column: the general path, the same values
    np.testing.assert_array_equal(
        _validation.as_numeric_data(mixed).values, mixed.to_numpy(dtype=float)
    )


def test_one_class_of_a_constant_column_is_every_row() -> None:
    x = np.full(5, 2.5)  # before: the cut points' search never ended
    cuts = hc.QuantileCuts.of(x).cuts(1)
    assert cuts[0] < 2.5 < cuts[1]
    np.testing.assert_array_equal(hc.qclass(x, 1), np.zeros(5, dtype=int))
