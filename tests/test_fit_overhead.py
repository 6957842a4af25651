"""The fit's path from a drawn data set to its result: cheaper, with the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emstat._validation import (
    _column_names,
    as_numeric_data,
    check_not_constant,
    check_squares_finite,
)
from emstat.errors import InputError
from emstat.mixture import fit_mixture, gaussian
from emstat.mixture.fit import prepare_data
from emstat.simulation.design import mixture_from_formula, mixture_from_mapping
from emstat.simulation.generate import draw_mixture


def _spelled_out_draw(weights, means, covariances, n, rng):
    """The draw as it was written before the sampler: every step per call."""
    cumulative = np.cumsum(weights)
    labels = np.minimum(
        np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right"),
        weights.shape[0] - 1,
    )
    noise = rng.standard_normal((n, means.shape[1]))
    chol = np.linalg.cholesky(covariances)
    return means[labels] + np.einsum("nij,nj->ni", chol[labels], noise), labels


@pytest.mark.parametrize("d", [1, 3])
def test_sampler_draws_the_same_bits_as_the_spelled_out_draw(d):
    rng = np.random.default_rng(5)
    weights = np.array([0.2, 0.5, 0.3])
    means = rng.standard_normal((3, d))
    a = rng.standard_normal((3, d, d))
    covariances = a @ a.transpose(0, 2, 1) + np.eye(d)
    sampler = gaussian.MixtureSampler.of(weights, means, covariances)
    for seed in range(20):
        want, want_labels = _spelled_out_draw(
            weights, means, covariances, 257, np.random.default_rng(seed)
        )
        got, labels = sampler.draw(257, np.random.default_rng(seed))
        assert got.tobytes() == want.tobytes()
        assert np.array_equal(labels, want_labels)
        again, _ = gaussian.draw_mixture(
            weights, means, covariances, 257, np.random.default_rng(seed)
        )
        assert again.tobytes() == want.tobytes()


def test_a_truth_factors_its_covariances_once_and_draws_as_before():
    truth = mixture_from_formula("0.3*N(-1,2) + 0.7*N(1.5,0.5)")
    assert truth.sampler is truth.sampler  # made once, kept for every replicate
    frame, labels = truth.draw(300, np.random.default_rng(11))
    want, want_labels = _spelled_out_draw(
        truth.weights, truth.means, truth.covariances, 300, np.random.default_rng(11)
    )
    assert list(frame.columns) == list(truth.columns)
    assert frame.to_numpy().tobytes() == want.tobytes()
    assert np.array_equal(labels, want_labels)
    x, _ = draw_mixture(truth, 300, np.random.default_rng(11))
    assert x.tobytes() == want.tobytes()
    # a separated truth is a new mixture: its own sampler, its own means
    wider = truth.separated(2.0)
    assert wider.sampler is not truth.sampler
    assert np.array_equal(wider.sampler.means, wider.means)


def test_a_drawn_frame_of_several_columns_fits_as_the_spelled_out_frame():
    truth = mixture_from_mapping(
        {
            "weights": [0.4, 0.6],
            "means": [[0.0, 0.0, 0.0], [2.0, 1.0, -1.0]],
            "covariances": [np.eye(3), [[1.0, 0.3, 0.1], [0.3, 2.0, 0.2], [0.1, 0.2, 0.5]]],
        }
    )
    frame, _ = truth.draw(200, np.random.default_rng(5))
    want, _ = _spelled_out_draw(
        truth.weights, truth.means, truth.covariances, 200, np.random.default_rng(5)
    )
    spelled = pd.DataFrame(want, columns=list(truth.columns))
    # the same layout as the frame the draw built before, hence the same column sums
    assert frame.to_numpy().flags.f_contiguous == spelled.to_numpy().flags.f_contiguous
    for model in ("VVV", "EII"):
        got = fit_mixture(frame, 1, model=model).params
        ref = fit_mixture(spelled, 1, model=model).params
        assert got["estimate"].to_numpy().tobytes() == ref["estimate"].to_numpy().tobytes()


def test_column_names_follow_each_index():
    first = pd.DataFrame(np.ones((3, 2)) + np.arange(3)[:, None], columns=["a", "b"])
    assert as_numeric_data(first).columns == ["a", "b"]
    names = as_numeric_data(first).columns
    names.append("changed")  # the caller's list is its own
    assert as_numeric_data(first).columns == ["a", "b"]
    other = pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=[0, 7])
    assert as_numeric_data(other).columns == ["0", "7"]
    assert _column_names(pd.Index(["x", "y"])) == ["x", "y"]


def test_finite_data_are_marked_complete():
    frame = pd.DataFrame({"x": [1.0, 2.0, 4.0]})
    assert as_numeric_data(frame).complete
    assert as_numeric_data(frame.to_numpy()).complete
    with_nan = pd.DataFrame({"x": [1.0, np.nan, 4.0]})
    assert not as_numeric_data(with_nan, allow_missing=True).complete


def test_centring_gives_the_bits_of_the_mean():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((101, 3)) * 1e3 + 5e4
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    prepared = prepare_data(frame)
    # the validated copy's own mean (its memory order decides the summation's bits)
    values = as_numeric_data(frame).values
    assert prepared.center.tobytes() == values.mean(axis=0).tobytes()
    assert prepared.x.tobytes() == np.ascontiguousarray(values - values.mean(axis=0)).tobytes()
    assert prepared.x.flags.c_contiguous


def test_constant_and_huge_columns_are_still_refused_by_name():
    constant = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "flat": [2.0] * 4})
    with pytest.raises(InputError, match="column 'flat' is constant"):
        fit_mixture(constant, 2)
    huge = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "big": [1e300, -1e300, 2e300, 0.0]})
    with pytest.raises(InputError, match="column 'big' holds values too large to square"):
        fit_mixture(huge, 2)


def test_checks_take_the_callers_spread_and_ranges():
    centred = np.array([[1.0], [-1.0]])
    with pytest.raises(InputError, match="column 'x' holds values too large"):
        check_squares_finite(centred, ["x"], spread=np.array([1e300]))
    check_squares_finite(centred, ["x"], spread=np.array([1.0]))
    data = as_numeric_data(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(InputError, match="column 'x' is constant"):
        check_not_constant(data, ranges=np.array([0.0]))
    check_not_constant(data)
