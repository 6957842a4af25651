"""mclust parity against frozen mclust 6.0.0 outputs (no R at test time).

Reference files in tests/reference/:

- ``mclust_wreath.csv`` / ``mclust_wreath.json``: mclust's ``data(wreath)``
  (1000 x 2) and, from ``tests/reference/make_wreath_reference.R`` (R 4.2.2,
  mclust 6.0.0; versions in the JSON): ``hc(wreath, modelName = "VVV", use =
  "SVD")``'s 999 merge pairs and the data it agglomerated, and
  ``Mclust(wreath)``'s whole BIC table (G = 1:9 x 14 models).
- ``mclust_hc.json``: the merge sequences of test_hc.py (faithful, iris, ...).

mclust's ``hcVVV`` saves a merged group's triangular factor wrongly (every
saved row a copy of row 1). emstat's agglomeration is exact by default and
reproduces mclust's arithmetic under ``mclust_compatible=True``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emstat.errors import InputError
from emstat.mixture import hc as hcmod
from emstat.mixture.hc import hc_merges, hc_tree, hclass, svd_transform
from emstat.mixture.selection import select_mixture

REF = Path(__file__).resolve().parent / "reference"
WREATH = json.loads((REF / "mclust_wreath.json").read_text())
WREATH_X = np.loadtxt(REF / "mclust_wreath.csv", delimiter=",", skiprows=1)
HC_CASES = [c for c in json.loads((REF / "mclust_hc.json").read_text())["cases"]]
ENGINES = [True, False]  # numba, numpy


def _r_pairs(case: dict) -> np.ndarray:
    return np.asarray(case["pairs"], dtype=np.intp) - 1


def _mismatches(P: np.ndarray, R: np.ndarray) -> np.ndarray:
    return np.flatnonzero(~(P == R).all(axis=1))


def test_wreath_reference_is_mclust_6_on_the_stored_csv() -> None:
    import hashlib

    assert WREATH["environment"]["mclust"] == "6.0.0"
    assert hashlib.md5((REF / "mclust_wreath.csv").read_bytes()).hexdigest() == WREATH["csv_md5"]
    assert WREATH_X.shape == (1000, 2)
    assert len(WREATH["pairs"]) == 999


@pytest.mark.parametrize("use_numba", ENGINES)
def test_exact_wreath_merges_equal_mclusts_up_to_996_then_part(use_numba: bool) -> None:
    P = hcmod._hc(np.asarray(WREATH["Z"]), "VVV", use_numba=use_numba)
    bad = _mismatches(P, _r_pairs(WREATH))
    # 0-based stage 996 is merge 997 of 999
    assert bad.tolist() == [996, 997, 998]


@pytest.mark.parametrize("use_numba", ENGINES)
def test_compatible_wreath_merges_equal_mclusts_all_999(use_numba: bool) -> None:
    P = hcmod._hc(np.asarray(WREATH["Z"]), "VVV", use_numba=use_numba, mclust_compatible=True)
    np.testing.assert_array_equal(P, _r_pairs(WREATH))


def test_compatible_wreath_from_raw_data_and_its_starts() -> None:
    P = hc_merges(svd_transform(WREATH_X), "VVV", mclust_compatible=True)
    np.testing.assert_array_equal(P, _r_pairs(WREATH))
    tree = hc_tree(WREATH_X, mclust_compatible=True)
    for G, cl in zip(WREATH["hclass_G"], WREATH["hclass"], strict=True):
        np.testing.assert_array_equal(tree.partition(G).labels, np.asarray(cl) - 1)


def test_exact_is_the_default_and_changes_the_g2_and_g3_starts() -> None:
    exact = hc_tree(WREATH_X)
    np.testing.assert_array_equal(exact.merges, hc_merges(svd_transform(WREATH_X)))
    differs = {
        G
        for G, cl in zip(WREATH["hclass_G"], WREATH["hclass"], strict=True)
        if not np.array_equal(exact.partition(G).labels, np.asarray(cl) - 1)
    }
    assert differs == {2, 3}


@pytest.mark.parametrize("use_numba", ENGINES)
@pytest.mark.parametrize("name", [c["name"] for c in HC_CASES if c["model"] == "VVV"])
def test_compatible_merges_keep_every_other_mclust_reference(name: str, use_numba: bool) -> None:
    case = next(c for c in HC_CASES if c["name"] == name)
    P = hcmod._hc(np.asarray(case["Z"]), "VVV", use_numba=use_numba, mclust_compatible=True)
    np.testing.assert_array_equal(P, _r_pairs(case))


def test_compatible_has_no_effect_on_eii() -> None:
    Z = svd_transform(WREATH_X[:300])
    np.testing.assert_array_equal(hc_merges(Z, "EII", mclust_compatible=True), hc_merges(Z, "EII"))


def test_stored_scatter_is_the_factor_with_every_row_a_copy_of_row_one() -> None:
    rng = np.random.default_rng(3)
    for p, n in [(2, 5), (3, 3), (3, 8), (4, 3)]:
        Y = rng.normal(size=(n, p))
        Y -= Y.mean(axis=0)
        F = Y.T @ Y
        # independent oracle: the factor from a QR of the centred rows
        R = np.linalg.qr(Y, mode="r")
        rows = min(n - 1, p)
        U = np.zeros((p, p))
        for k in range(rows):
            U[k, k:] = R[0, k:]
        S = np.empty((p, p))
        hcmod._stored_scalar(F, float(n), S)
        np.testing.assert_allclose(S, U.T @ U, rtol=1e-12, atol=1e-12)
    two = np.outer([1.0, -2.0], [1.0, -2.0])
    S = np.empty((2, 2))
    hcmod._stored_scalar(two, 2.0, S)
    np.testing.assert_array_equal(S, two)  # one saved row is saved right


def test_mclust_compatible_must_be_a_bool() -> None:
    with pytest.raises(InputError, match="mclust_compatible must be True or False"):
        hc_merges(svd_transform(WREATH_X[:20]), mclust_compatible="yes")  # type: ignore[arg-type]


def _bic_table(selection: object, models: list[str]) -> np.ndarray:
    fits = selection.fits  # type: ignore[attr-defined]
    return np.array(
        [
            [fits[(g, m)].bic_mclust if fits[(g, m)].ok else np.nan for m in models]
            for g in range(1, 10)
        ]
    )


def test_mclust_wreath_whole_bic_table_agrees_under_mclust_compatible() -> None:
    models = list(WREATH["models"])
    reference = np.array([[np.nan if v is None else v for v in row] for row in WREATH["bic"]])
    frame = pd.DataFrame(WREATH_X, columns=["x1", "x2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = select_mixture(
            frame, range(1, 10), models, convention="mclust", mclust_compatible=True
        )
    ours = _bic_table(selection, models)
    assert np.isnan(ours).tolist() == np.isnan(reference).tolist()
    np.testing.assert_allclose(ours, reference, rtol=1e-9)
    assert (selection.best.model, selection.best.k) == (WREATH["chosen_model"], WREATH["chosen_G"])
    # the exact hc gives other G = 2 and 3 starts, hence other fits there
    start = hc_tree(WREATH_X).partition(2).labels
    assert not np.array_equal(start, hclass(_r_pairs(WREATH), 2))
