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


def test_wreath_criterion_departs_from_the_exact_one_at_merge_983(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen: list[float] = []
    select = hcmod._select

    def recording(st: hcmod._State, m: int) -> tuple[int, int]:
        a, b = select(st, m)
        chosen.append(float(st.D[a, b]))
        return a, b

    monkeypatch.setattr(hcmod, "_select", recording)
    Z = np.asarray(WREATH["Z"])
    hcmod._hc(Z, "VVV", use_numba=False)
    exact = np.array(chosen)
    chosen.clear()
    hcmod._hc(Z, "VVV", use_numba=False, mclust_compatible=True)
    compatible = np.array(chosen)
    apart = np.flatnonzero(np.abs(exact - compatible) > 1e-9 * np.maximum(1.0, np.abs(exact)))
    assert apart[0] + 1 == 983


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


# --------------------------------------------------------------------------- banknote

BANKNOTE = json.loads((REF / "mclust_banknote.json").read_text())
BANKNOTE_FRAME = pd.read_csv(REF / "mclust_banknote.csv")
START_CASES = json.loads((REF / "mclust_start_cases.json").read_text())


def _reference_table(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    table = BANKNOTE["tables"][name]
    bic = np.array([[np.nan if v is None else v for v in row] for row in table["bic"]])
    iters = np.array(
        [[np.nan if v is None else v for v in row] for row in table["iterations"]], dtype=float
    )
    return bic, iters, list(table["models"])


def _select_banknote(**options: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return select_mixture(
            BANKNOTE_FRAME,
            range(1, 10),
            BANKNOTE["tables"]["default"]["models"],
            convention="mclust",
            mclust_compatible=True,
            **options,  # type: ignore[arg-type]
        )


def _iterations(selection: object, models: list[str]) -> np.ndarray:
    fits = selection.fits  # type: ignore[attr-defined]
    return np.array([[fits[(g, m)].n_iter for m in models] for g in range(1, 10)], dtype=float)


def test_banknote_reference_is_mclust_6_on_the_stored_csv() -> None:
    import hashlib

    assert BANKNOTE["environment"]["mclust"] == "6.0.0"
    data = (REF / "mclust_banknote.csv").read_bytes()
    assert hashlib.md5(data).hexdigest() == BANKNOTE["csv_md5"]
    assert BANKNOTE_FRAME.shape == (200, 6)
    merges = hc_merges(svd_transform(BANKNOTE_FRAME.to_numpy()), mclust_compatible=True)
    np.testing.assert_array_equal(merges, _r_pairs(BANKNOTE))


def test_banknote_default_table_agrees_in_every_cell_and_iteration() -> None:
    reference, r_iters, models = _reference_table("default")
    selection = _select_banknote()
    ours = _bic_table(selection, models)
    assert np.isnan(ours).tolist() == np.isnan(reference).tolist()
    np.testing.assert_allclose(ours, reference, rtol=1e-8)
    fitted = ~np.isnan(reference)
    np.testing.assert_array_equal(_iterations(selection, models)[fitted], r_iters[fitted])
    # G = 9 starts from a group of 5 rows in 6 dimensions: mclust's NA for VEE,
    # and its axes for EEV and VEV (EEV agreed to 1.2e-6 only with the scatter's own)
    g9 = 8
    assert np.isnan(ours[g9, models.index("VEE")])
    for model in ("EEV", "VEV"):
        assert ours[g9, models.index(model)] == pytest.approx(
            reference[g9, models.index(model)], rel=1e-11
        )
    assert (selection.best.model, selection.best.k) == (  # type: ignore[attr-defined]
        BANKNOTE["tables"]["default"]["chosen_model"],
        BANKNOTE["tables"]["default"]["chosen_G"],
    )


@pytest.mark.parametrize("case", range(len(START_CASES["vee"])))
def test_vee_cholesky_test_of_a_singular_group_is_mclusts(case: int) -> None:
    from emstat.mixture._mclust_start import mclust_vee_cholesky_fails

    cell = START_CASES["vee"][case]
    assert mclust_vee_cholesky_fails(np.asarray(cell["rows"])) == cell["na"]


def test_vee_cases_hold_both_outcomes_for_five_and_six_rows() -> None:
    outcomes = {(c["m"], c["na"]) for c in START_CASES["vee"]}
    assert {(5, True), (5, False), (6, True), (6, False)} <= outcomes


@pytest.mark.parametrize("case", range(len(START_CASES["oriented"])))
def test_first_m_step_from_a_small_group_is_mclusts(case: int) -> None:
    from emstat import fit_mixture

    cell = START_CASES["oriented"][case]
    X = pd.DataFrame(np.asarray(cell["X"]))
    labels = np.r_[np.zeros(40, int), np.ones(40, int), np.full(cell["m"], 2)]
    first = {}
    for compatible in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_mixture(
                X, 3, cell["model"], init=labels, mclust_compatible=compatible, max_iter=1
            )
        first[compatible] = fit.trace[0]
    # VEV's inner loop stops at sqrt(eps); EEV is closed form
    rtol = 1e-13 if cell["model"] == "EEV" else 1e-9
    assert first[True] == pytest.approx(cell["loglik"], rel=rtol)
    assert abs(first[False] - cell["loglik"]) > 1e-6 * abs(cell["loglik"])


def test_banknote_eev_g9_from_mclusts_first_e_step() -> None:
    """From the z mclust had after its first M-step, emstat's EEV is mclust's to the last digits.

    So EEV at G = 9 could part from mclust only at that first M-step (it did, by 1.2e-6
    in BIC, before the axes of its singular group were taken as mclust takes them).
    """
    cell = BANKNOTE["eev_g9_after_first_mstep"]
    assert sorted(cell["group_sizes"])[0] == 5  # 5 rows in 6 dimensions: a rank-4 scatter
    z = np.asarray(cell["z"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from emstat import fit_mixture

        fit = fit_mixture(BANKNOTE_FRAME, 9, "EEV", init=z, mclust_compatible=True)
    assert fit.loglik == pytest.approx(cell["me_loglik"], rel=1e-12)
    assert fit.n_iter == cell["me_iterations"]


def _mclust_first_m_step(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    from emstat.mixture._mclust_start import mclust_eigen
    from emstat.mixture.covariance import get_covariance_model

    nk = np.bincount(labels).astype(float)
    values, vectors = [], []
    for g in range(nk.size):
        value, vector = mclust_eigen(X[labels == g])
        values.append(value)
        vectors.append(vector)
    model = get_covariance_model("EEV", X.shape[1])
    return model.m_step_from_eigen(nk, np.array(values), np.array(vectors))


def test_mclust_eigen_gives_mclusts_axes_for_a_singular_group() -> None:
    from emstat.mixture._mclust_start import mclust_eigen

    cell = BANKNOTE["eev_g9_after_first_mstep"]
    X = BANKNOTE_FRAME.to_numpy()
    labels = hc_tree(X, mclust_compatible=True).partition(9).labels
    group = X[labels == cell["small_group"] - 1]
    assert group.shape == (5, 6)
    values, vectors = mclust_eigen(group)
    expected = np.asarray(cell["small_group_orientation"])  # columns: mclust's axes
    # the null space's two axes too, each to its sign
    cosines = np.abs(np.sum(vectors * expected, axis=0))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-12)
    centred = group - group.mean(axis=0)
    np.testing.assert_allclose(values[:4], np.linalg.svd(centred, compute_uv=False)[:4] ** 2)
    assert values[4] < 1e-24 and values[5] == 0.0
    # and mclust's common shape from all nine groups
    covs = _mclust_first_m_step(X, labels)
    shape = np.asarray(cell["shape"])
    eigenvalues = np.sort(np.linalg.eigvalsh(covs[0]))[::-1]
    scale = np.exp(np.mean(np.log(eigenvalues)))
    np.testing.assert_allclose(eigenvalues / scale, shape, rtol=1e-10)


def _observed_loglik(weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> float:
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    X = BANKNOTE_FRAME.to_numpy()
    dens = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(X)
            for w, m, c in zip(weights, means, covs, strict=True)
        ]
    )
    return float(logsumexp(dens, axis=1).sum())


def test_eev_m_step_from_a_group_of_five_rows_in_six_dimensions_is_not_unique() -> None:
    """Why EEV at G = 9 parts: turning the 5-row group's covariance within the null space
    of its scatter keeps the M-step's objective and changes the likelihood."""
    from emstat.mixture.covariance import get_covariance_model

    X = BANKNOTE_FRAME.to_numpy()
    labels = hc_tree(X, mclust_compatible=True).partition(9).labels
    nk = np.bincount(labels).astype(float)
    means = np.array([X[labels == g].mean(axis=0) for g in range(9)])
    scatter = np.array(
        [(X[labels == g] - means[g]).T @ (X[labels == g] - means[g]) for g in range(9)]
    )
    covs = get_covariance_model("EEV", 6).m_step(nk, scatter)
    small = int(np.argmin(nk))
    assert nk[small] == 5
    values, vectors = np.linalg.eigh(scatter[small])
    null = vectors[:, :2]  # the two smallest (zero) eigenvalues
    assert np.all(values[:2] < 1e-10 * values[-1])
    # rotate the covariance within the null space by 90 degrees: swap its two null axes
    turn = np.eye(6) - null @ null.T + null[:, [1]] @ null[:, [0]].T - null[:, [0]] @ null[:, [1]].T
    turned = covs.copy()
    turned[small] = turn @ covs[small] @ turn.T

    def objective(sigma: np.ndarray) -> float:
        _, logdet = np.linalg.slogdet(sigma)
        return float(
            np.sum(
                -0.5 * nk * logdet - 0.5 * np.einsum("kij,kji->k", np.linalg.inv(sigma), scatter)
            )
        )

    assert objective(turned) == pytest.approx(objective(covs), rel=1e-12)
    # which is why the exact and the mclust-compatible first M-steps part
    assert not np.allclose(covs[small], _mclust_first_m_step(X, labels)[small], atol=1e-3)
    assert not np.allclose(turned[small], covs[small], atol=1e-6)
    weights = nk / nk.sum()
    change = abs(_observed_loglik(weights, means, turned) - _observed_loglik(weights, means, covs))
    assert change > 1e-3


def test_banknote_with_emcontrol_tol_1e8_agrees_in_every_cell_and_iteration() -> None:
    """Mclust(X, control = emControl(tol = 1e-8)) sets EM's and the inner M-steps' tolerance."""
    reference, r_iters, models = _reference_table("tol_1e8")
    assert BANKNOTE["tables"]["tol_1e8"]["tol"] == [1e-8, 1e-8]
    selection = _select_banknote(tol=1e-8, inner_tol=1e-8)
    ours = _bic_table(selection, models)
    assert np.isnan(ours).tolist() == np.isnan(reference).tolist()
    np.testing.assert_allclose(ours, reference, rtol=1e-11)
    fitted = ~np.isnan(reference)
    np.testing.assert_array_equal(_iterations(selection, models)[fitted], r_iters[fitted])
    assert (selection.best.model, selection.best.k) == (  # type: ignore[attr-defined]
        BANKNOTE["tables"]["tol_1e8"]["chosen_model"],
        BANKNOTE["tables"]["tol_1e8"]["chosen_G"],
    )


def test_emcontrol_tol_needs_its_second_part_for_the_inner_m_steps() -> None:
    """tol=1e-8 alone keeps the inner tolerance at sqrt(eps): EVE, VVE take other paths."""
    _, r_iters, models = _reference_table("tol_1e8")
    from emstat import fit_mixture

    for model in ("EVE", "VVE"):
        expected = r_iters[1, models.index(model)]
        runs = {}
        for inner in (None, 1e-8):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_mixture(
                    BANKNOTE_FRAME, 2, model, tol=1e-8, inner_tol=inner, mclust_compatible=True
                )
            runs[inner] = fit.n_iter
        assert runs[1e-8] == expected
        assert runs[None] != expected


@pytest.mark.parametrize("bad", [-1e-3, 1.0, float("nan"), "1e-8", True])
def test_inner_tol_out_of_range_is_one_clear_line(bad: object) -> None:
    from emstat import fit_mixture

    with pytest.raises(InputError, match=r"inner_tol must be a number >= 0 and < 1"):
        fit_mixture(BANKNOTE_FRAME, 2, "VEE", inner_tol=bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"inner_tol must be a number >= 0 and < 1"):
        select_mixture(BANKNOTE_FRAME, [2], "VEE", inner_tol=bad)  # type: ignore[arg-type]


def test_inner_tol_is_refused_for_other_families() -> None:
    from emstat import fit_mixture

    counts = pd.DataFrame({"y": [0, 1, 3, 2, 8, 9, 7, 1, 0, 10]})
    with pytest.raises(InputError, match="inner_tol serves the Gaussian family"):
        fit_mixture(counts, 2, family="poisson", inner_tol=1e-8)


# --------------------------------------------------------------------------- CLI

FAITHFUL = Path(__file__).resolve().parent.parent / "data" / "faithful.csv"


@pytest.mark.parametrize("command", ["fit", "select"])
def test_cli_inner_tol_out_of_range_is_one_line_exit_2(command: str) -> None:
    from typer.testing import CliRunner

    from emstat.cli import app

    result = CliRunner().invoke(app, [command, str(FAITHFUL), "--k", "2", "--inner-tol", "1.5"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "inner_tol must be a number >= 0 and < 1, got 1.5" in lines[0]


def test_cli_fit_inner_tol_reaches_the_m_step() -> None:
    from typer.testing import CliRunner

    from emstat import fit_mixture
    from emstat.cli import app

    args = ["fit", str(FAITHFUL), "--k", "3", "--model", "VEE"]
    loose = CliRunner().invoke(app, [*args, "--inner-tol", "0.01"])
    default = CliRunner().invoke(app, args)
    assert loose.exit_code == 0 and default.exit_code == 0, loose.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = fit_mixture(pd.read_csv(FAITHFUL), 3, "VEE", inner_tol=0.01)
    assert f"{expected.loglik:.4f}" in loose.output
    assert loose.output != default.output


def test_hard_start_wrapper_only_where_mclust_differs() -> None:
    from emstat.mixture._mclust_start import MclustHardStart, mclust_hard_start
    from emstat.mixture.covariance import get_covariance_model
    from emstat.mixture.model import GaussianMixtureModel

    rng = np.random.default_rng(4)
    rows = rng.normal(size=(20, 3))
    small = np.eye(3)[np.r_[np.zeros(10, int), np.ones(7, int), np.full(3, 2)]]
    large = np.eye(3)[np.r_[np.zeros(8, int), np.ones(6, int), np.full(6, 2)]]

    def model(name: str, reg_covar: float = 0.0) -> GaussianMixtureModel:
        return GaussianMixtureModel(get_covariance_model(name, 3), 3, reg_covar)

    for name in ("EEV", "VEV", "VEE"):
        assert isinstance(mclust_hard_start(model(name), rows, small), MclustHardStart)
        assert not isinstance(mclust_hard_start(model(name), rows, large), MclustHardStart)
    for other in ("VVV", "EVE", "EEE"):
        assert not isinstance(mclust_hard_start(model(other), rows, small), MclustHardStart)
    assert not isinstance(mclust_hard_start(model("EEV", 0.1), rows, small), MclustHardStart)
    soft = small * 0.9 + 0.1 / 3
    assert not isinstance(mclust_hard_start(model("EEV"), rows, soft), MclustHardStart)
    holes = rows.copy()
    holes[0, 0] = np.nan
    assert not isinstance(mclust_hard_start(model("EEV"), holes, small), MclustHardStart)
