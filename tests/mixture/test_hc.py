"""Tests of emstat.mixture.hc against frozen mclust 6.0.0 outputs.

Reference files in tests/reference/ (no R needed at test time):

- ``mclust_hc.json``: written by ``tests/reference/make_hc_reference.R``
  (R 4.2.2, mclust 6.0.0; versions recorded in the file): raw data X, the
  SVD-transformed Z that ``hc(X, modelName, use = "SVD")`` agglomerated,
  R's merge pairs and ``hclass`` partitions, for faithful, iris[, 1:4], a
  simulated 3-D set, integer data with many duplicated rows and tied
  distances, rounded 3-D data, and an n <= d set (EII).
- ``mclust_faithful.*``, ``mclust_acidity.*``, ``sim_mix2_V.*``: copied
  unchanged from the project's shared reference folder (computed with R
  4.2.2 / mclust 6.0.0 through rpy2; see the ``environment`` entry of each
  JSON): faithful's hc merge pairs and Mclust's initial classification;
  the qclass initial classifications of acidity and of a simulated sample.

Merge sequences are compared exactly. Given R's Z every case matches stage
for stage. From the raw data, exact ties in the data (iris, faithful and
the integer set are recorded to 0.1 / integers) become near-ties after the
SVD, which numpy's and R's LAPACK round differently; the Ward (EII) runs on
those sets then part from R at a near-tie, so for them the full pipeline is
checked by the agreement of the partitions instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emstat.errors import InputError
from emstat.mixture import hc as hcmod
from emstat.mixture.hc import (
    Partition,
    hc_merges,
    hc_partitions,
    hclass,
    qclass,
    quantile_partitions,
    svd_transform,
)

REF = Path(__file__).resolve().parents[1] / "reference"
HC = json.loads((REF / "mclust_hc.json").read_text())
CASES = {c["name"]: c for c in HC["cases"]}
ENGINES = ["numba", "numpy"] if hcmod._KERNEL is not None else ["numpy"]
# full pipeline (own SVD) reproduces R's merges exactly on these
EXACT_FROM_X = {
    "faithful_VVV",
    "iris_VVV",
    "sim3d_VVV",
    "sim3d_EII",
    "ties2d_VVV",
    "round3d_VVV",
    "wide_n8_d12_EII",
}


def r_pairs(case: dict) -> np.ndarray:
    return np.asarray(case["pairs"], dtype=np.intp) - 1


def first_mismatch(P: np.ndarray, R: np.ndarray) -> int:
    bad = np.flatnonzero(~(P == R).all(axis=1))
    return int(bad[0]) if bad.size else -1


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    t = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(t, (ia, ib), 1)

    def c2(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    n = a.size
    s, sa, sb = c2(t), c2(t.sum(1)), c2(t.sum(0))
    exp = sa * sb / (n * (n - 1) / 2)
    if (sa + sb) / 2 == exp:  # both partitions trivial
        return 1.0
    return (s - exp) / ((sa + sb) / 2 - exp)


def test_reference_was_made_by_mclust_6():
    assert HC["environment"]["mclust"] == "6.0.0"
    assert len(CASES) == 10


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_merges_match_r_given_r_transform(name, engine):
    case = CASES[name]
    Z = np.asarray(case["Z"])
    P = hcmod._hc(Z, case["model"], use_numba=engine == "numba")
    R = r_pairs(case)
    assert P.shape == (case["n"] - 1, 2)
    assert first_mismatch(P, R) == -1


@pytest.mark.parametrize("name", sorted(EXACT_FROM_X))
def test_merges_match_r_from_raw_data(name):
    case = CASES[name]
    P = hc_merges(svd_transform(np.asarray(case["X"])), case["model"])
    assert first_mismatch(P, r_pairs(case)) == -1


# integer data with many exactly tied Ward costs: which tie wins depends on
# the last bits of the SVD, and the Ward tree is genuinely ambiguous there
AMBIGUOUS_FROM_X = {"ties2d_EII"}


@pytest.mark.parametrize("name", sorted(set(CASES) - AMBIGUOUS_FROM_X))
def test_partitions_close_to_r_from_raw_data(name):
    case = CASES[name]
    P = hc_merges(svd_transform(np.asarray(case["X"])), case["model"])
    for G, cl in zip(case["hclass_G"], case["hclass"], strict=True):
        assert ari(hclass(P, G), np.asarray(cl)) > 0.9, G


@pytest.mark.parametrize("name", sorted(CASES))
def test_hclass_matches_r(name):
    case = CASES[name]
    R = r_pairs(case)
    for G, cl in zip(case["hclass_G"], case["hclass"], strict=True):
        np.testing.assert_array_equal(hclass(R, G), np.asarray(cl) - 1)


@pytest.mark.parametrize("name", sorted(CASES))
def test_svd_transform_matches_r(name):
    case = CASES[name]
    Z = svd_transform(np.asarray(case["X"]))
    Zr = np.asarray(case["Z"])
    assert Z.shape == Zr.shape
    signs = np.sign((Z * Zr).sum(axis=0))
    signs[signs == 0] = 1
    big = (Zr**2).sum(axis=0) > 1e-8  # skip numerically null directions
    np.testing.assert_allclose((Z * signs)[:, big], Zr[:, big], atol=1e-10)


def test_faithful_shared_reference():
    ref = json.loads((REF / "mclust_faithful.json").read_text())
    X = np.loadtxt(REF / "mclust_faithful.csv", delimiter=",", skiprows=1)
    R = np.asarray(ref["hc_pairs"]["pairs"]) - 1
    P = hc_merges(svd_transform(X), "VVV")
    np.testing.assert_array_equal(P, R)
    np.testing.assert_array_equal(P, r_pairs(CASES["faithful_VVV"]))
    for run in ref["runs"]:
        init = np.asarray(run["chosen"]["em"]["init_classification"]) - 1
        G = run["chosen"]["G"]
        np.testing.assert_array_equal(hclass(P, G), init)
        parts = hc_partitions(X, [G])
        np.testing.assert_array_equal(parts[G].labels, init)
        np.testing.assert_array_equal(parts[G].rows, np.arange(X.shape[0]))


def test_qclass_sim_mix2():
    ref = json.loads((REF / "sim_mix2_V.json").read_text())
    x = np.loadtxt(REF / "sim_mix2_V.csv", delimiter=",", skiprows=1)[:, 0]
    init = np.asarray(ref["result"]["em"]["init_classification"]) - 1
    np.testing.assert_array_equal(qclass(x, 2), init)


@pytest.mark.parametrize("run", [0, 1, 2])
def test_qclass_acidity(run):
    ref = json.loads((REF / "mclust_acidity.json").read_text())
    x = np.loadtxt(REF / "mclust_acidity.csv", delimiter=",", skiprows=1)
    chosen = ref["runs"][run]["chosen"]
    init = np.asarray(chosen["em"]["init_classification"]) - 1
    np.testing.assert_array_equal(qclass(x, chosen["G"]), init)
    np.testing.assert_array_equal(quantile_partitions(x, chosen["G"])[chosen["G"]].labels, init)


def test_qclass_drops_shortest_gaps_and_handles_ties():
    x = np.array([1.0, 1, 1, 1, 2, 2, 3, 10])
    cl = qclass(x, 3)
    assert set(cl) == {0, 1, 2}
    assert np.all(np.diff(cl[np.argsort(x, kind="stable")]) >= 0)


def test_hclass_labels_in_order_of_first_appearance():
    merges = np.array([[2, 3], [0, 1], [0, 2]])
    assert hclass(merges, 4).tolist() == [0, 1, 2, 3]
    assert hclass(merges, 3).tolist() == [0, 1, 2, 2]
    assert hclass(merges, 2).tolist() == [0, 0, 1, 1]
    assert hclass(merges, 1).tolist() == [0, 0, 0, 0]


def test_duplicated_rows_merge_first():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    X[[5, 17, 25]] = X[2]
    P = hc_merges(svd_transform(X))
    first = {tuple(p) for p in P[:3].tolist()}
    assert first <= {(2, 5), (2, 17), (2, 25), (5, 17), (5, 25), (17, 25)}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("model", ["VVV", "EII"])
def test_engines_agree(engine, model):
    rng = np.random.default_rng(5)
    Z = svd_transform(np.round(rng.normal(size=(120, 3)), 1))
    ref = hcmod._hc(Z, model, use_numba=False)
    np.testing.assert_array_equal(hcmod._hc(Z, model, use_numba=engine == "numba"), ref)


def test_hc_partitions_subset_is_seeded_and_documented():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(150, 2)), rng.normal(5, 1, size=(150, 2))])
    a = hc_partitions(X, [1, 2, 3], subset=100, seed=42)
    b = hc_partitions(X, (2,), subset=100, rng=np.random.default_rng(42))
    assert set(a) == {1, 2, 3}
    p = a[2]
    assert isinstance(p, Partition)
    assert p.is_subset and p.n == 300 and p.k == 2
    assert p.rows.shape == (100,) and np.all(np.diff(p.rows) > 0)
    np.testing.assert_array_equal(p.rows, b[2].rows)
    np.testing.assert_array_equal(p.labels, b[2].labels)
    truth = (p.rows >= 150).astype(int)
    assert ari(p.labels, truth) > 0.9
    with pytest.raises(AttributeError):
        p.labels = p.labels  # type: ignore[misc]


def test_hc_partitions_uses_eii_when_n_le_d():
    case = CASES["wide_n8_d12_EII"]
    X = np.asarray(case["X"])
    parts = hc_partitions(X, case["hclass_G"])
    for G, cl in zip(case["hclass_G"], case["hclass"], strict=True):
        np.testing.assert_array_equal(parts[G].labels, np.asarray(cl) - 1)


def test_svd_transform_drops_constant_columns():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=20), np.ones(20), rng.normal(size=20)])
    with pytest.warns(UserWarning, match="constant"):
        Z = svd_transform(X)
    assert Z.shape == (20, 2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hclass(np.array([[0, 1]]), 3), "k must be between 1"),
        (lambda: hclass(np.array([[0, 1]]), 0), "k must be between 1"),
        (lambda: hclass(np.array([0, 1]), 1), "merges must have shape"),
        (lambda: qclass(np.array([1.0, 1.0, 2.0]), 3), "distinct values"),
        (lambda: qclass(np.array([1.0, np.nan]), 1), "finite"),
        (lambda: hc_merges(np.ones((3, 2)), "VVI"), "model must be"),  # type: ignore[arg-type]
        (lambda: hc_merges(np.array([[np.nan, 1.0], [1.0, 2.0]])), "missing or infinite"),
        (lambda: hc_partitions(np.ones((5, 2)) + np.arange(5)[:, None] ** 2, [6]), "k must"),
        (lambda: hc_partitions(np.arange(5.0), [2]), "quantile_partitions"),
        (lambda: svd_transform(np.ones((4, 2))), "no non-constant column"),
    ],
)
def test_bad_input_raises_one_line_input_error(call, match):
    with pytest.raises(InputError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
