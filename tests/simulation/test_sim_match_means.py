"""match_means gives match_components' answer (the Hungarian algorithm of scipy) for the
few components of a study, ties and odd cases included, without scipy.optimize."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from emstat.errors import InputError
from emstat.mixture.align import match_components
from emstat.simulation.align import match_means


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("k_ref", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_same_assignment_as_the_hungarian_algorithm(k: int, k_ref: int, d: int) -> None:
    rng = np.random.default_rng(100 * k + 10 * k_ref + d)
    for _ in range(40):
        ref = rng.normal(size=(k_ref, d))
        means = rng.normal(size=(k, d))
        got = match_means(ref, means)
        assert got.dtype == np.intp
        np.testing.assert_array_equal(got, match_components(ref, means))


def test_ties_and_vectors_are_decided_as_before() -> None:
    ref = np.array([[0.0], [0.0]])  # two equal true means: every assignment costs the same
    means = np.array([[1.0], [-1.0]])
    np.testing.assert_array_equal(match_means(ref, means), match_components(ref, means))
    same = np.array([[0.5], [0.5], [2.0]])  # two equal fitted means
    np.testing.assert_array_equal(
        match_means(np.array([0.0, 2.0]), same), match_components(np.array([0.0, 2.0]), same)
    )
    np.testing.assert_array_equal(
        match_means(np.array([0.0, 5.0]), np.array([4.8, 9.0, 0.3])), [1, -1, 0]
    )


def test_shapes_that_do_not_agree_are_refused_as_before() -> None:
    with pytest.raises(InputError, match="cannot match means of shapes"):
        match_means(np.zeros((2, 2)), np.zeros((2, 3)))


def test_a_study_of_two_components_does_not_load_scipy_optimize() -> None:
    code = (
        "import sys, numpy as np\n"
        "from emstat.simulation.align import match_means\n"
        "print(match_means(np.array([[0.0], [1.0]]), np.array([[0.9], [0.1]])).tolist())\n"
        "print('scipy.optimize' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[1, 0]", "False"]


@pytest.mark.parametrize(
    "means",
    [np.array([[0.0], [np.nan], [1.0]]), np.array([[np.inf], [1.0]])],
    ids=["nan-of-three", "inf-of-two"],
)
def test_means_that_are_not_finite_are_refused_as_before(means: np.ndarray) -> None:
    # the Hungarian algorithm's error is what records such a replicate as failed
    with pytest.raises(ValueError) as hungarian:
        match_components(np.array([[0.0], [1.0]]), means)
    with pytest.raises(ValueError) as raised:
        match_means(np.array([[0.0], [1.0]]), means)
    assert str(raised.value) == str(hungarian.value)
    assert "invalid numeric entries" in str(raised.value) or "infeasible" in str(raised.value)
