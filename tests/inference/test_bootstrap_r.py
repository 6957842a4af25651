"""The bootstrap against mclust's MclustBootstrap, live through rpy2.

The jackknife is deterministic (every refit starts from the fitted z with
mclust's tolerance), so it must agree replicate by replicate; the random
kinds agree in their standard errors within the error of two independent
bootstraps of ``n_boot`` replicates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import emstat
from emstat import _r
from emstat.errors import EmstatError

pytestmark = pytest.mark.r

N_BOOT = 999


@pytest.fixture(scope="module")
def ro() -> object:
    try:
        session = _r.r_session()
    except EmstatError as exc:
        pytest.skip(f"R is not usable: {exc}")
    if not _r.r_has_package("mclust"):
        pytest.skip("R package mclust is not installed (apt-get install r-cran-mclust)")
    return session


@pytest.fixture(scope="module")
def fit() -> emstat.MixtureResult:
    warnings.simplefilter("ignore")
    return emstat.fit_mixture(emstat.load_dataset("faithful"), 3, model="EEE")


def _mclust_replicates(
    ro: object, kind: str, n_boot: int, z: np.ndarray | None = None
) -> np.ndarray:
    """MclustBootstrap's replicates in the order of our params rows: (B, k * 6).

    With ``z``, mclust's fit takes our fitted responsibilities (its refits
    start from them): the two fits differ in the fourth digit because
    mclust's summary adds an M-step.
    """
    r = ro.r  # type: ignore[attr-defined]
    r("suppressMessages(library(mclust)); set.seed(1)")
    r("m <- Mclust(faithful, G = 3, modelNames = 'EEE', verbose = FALSE)")
    if z is not None:
        r.assign("z_ours", _r.to_r_matrix(z))
        r("m$z <- z_ours")
    r(f"b <- MclustBootstrap(m, nboot = {n_boot}, type = '{kind}', verbose = FALSE)")
    pro = np.asarray(r("b$pro"))  # (B, G)
    mean = np.asarray(r("b$mean"))  # (B, d, G)
    var = np.asarray(r("b$variance"))  # (B, d, d, G)
    blocks = []
    for g in range(3):
        v = var[:, :, :, g]
        blocks.append(
            np.column_stack(
                [pro[:, g], mean[:, 0, g], mean[:, 1, g], v[:, 0, 0], v[:, 0, 1], v[:, 1, 1]]
            )
        )
    return np.concatenate(blocks, axis=1)


def test_the_fit_is_mclusts_to_its_stopping_rule(ro: object, fit: emstat.MixtureResult) -> None:
    r = ro.r  # type: ignore[attr-defined]
    r("suppressMessages(library(mclust))")
    pro = np.asarray(
        r("Mclust(faithful, G = 3, modelNames = 'EEE', verbose = FALSE)$parameters$pro")
    )
    np.testing.assert_allclose(fit.weights.to_numpy(), pro, atol=1e-3)


def test_jackknife_matches_mclust_replicate_by_replicate(
    ro: object, fit: emstat.MixtureResult
) -> None:
    ours = fit.bootstrap(kind="jk")
    z = fit.predict_proba(emstat.load_dataset("faithful")).to_numpy()
    theirs = _mclust_replicates(ro, "jk", 0, z)
    assert ours.n_boot == theirs.shape[0] == 272 and ours.n_failed == 0
    np.testing.assert_allclose(ours.values, theirs, rtol=1e-6, atol=1e-9)
    se = ours.std_errors.to_numpy()
    m = theirs.shape[0]
    expected = np.std(theirs, axis=0, ddof=1) * (m - 1) / np.sqrt(m)  # summary(type = "jk")
    np.testing.assert_allclose(se, expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("kind", ["bs", "pb"])
def test_bootstrap_standard_errors_agree_with_mclust_within_bootstrap_error(
    ro: object, fit: emstat.MixtureResult, kind: str
) -> None:
    ours = fit.bootstrap(N_BOOT, kind=kind, seed=7)
    theirs = _mclust_replicates(ro, kind, N_BOOT)
    assert ours.n_failed == 0
    mine = ours.std_errors.to_numpy()
    other = np.std(theirs, axis=0, ddof=1)
    free = other > 0  # the shared covariance repeats; all rows are free here
    # sd of a sample sd from B draws: sd * sqrt((kurtosis - 1) / (4 B)); two of them differ
    # by sqrt(2) times that; allow 5 of those
    kept = ours.kept
    centred = kept - kept.mean(axis=0)
    kurtosis = np.mean(centred**4, axis=0) / np.mean(centred**2, axis=0) ** 2
    tolerance = 5 * np.sqrt(2) * np.sqrt((kurtosis - 1) / (4 * N_BOOT))
    relative = np.abs(mine[free] / other[free] - 1)
    assert np.all(relative < tolerance[free]), (relative, tolerance)
