"""emstat.bootstrap_lrt against mclust's mclustBootstrapLRT, live through rpy2.

The observed statistics come from the same fits, so they agree to the fits'
precision; the bootstrap draws differ (R's generator is not numpy's), so the
p-values and distributions agree within bootstrap error, and the decisions
agree where they are clear.  Skipped with the reason when R or mclust is missing.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

import emstat
from emstat import _r
from emstat.mixture.lrt import bootstrap_lrt

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("r_mclust_attached")]

N_BOOT = 199


def _mclust_lrt(name: str, model: str, max_g: int) -> dict[str, np.ndarray]:
    ro = _r.r_session()
    frame = emstat.load_dataset(name)
    ro.r("set.seed(20261201)")
    out = _r.r_call(
        "mclust::mclustBootstrapLRT",
        _r.to_r_dataframe(frame),
        modelName=model,
        nboot=N_BOOT,
        maxG=max_g,
        verbose=False,
    ).value
    return {
        "obs": np.asarray(out.rx2("obs"), dtype=float),
        "p": np.asarray(out.rx2("p.value"), dtype=float),
        "boot": np.asarray(out.rx2("boot"), dtype=float).reshape(max_g, N_BOOT).T,
    }


def _tolerance(p: float) -> float:
    """Four standard errors of the difference of two independent bootstrap p-values."""
    return 4.0 * math.sqrt(2.0 * max(p, 0.01) * (1.0 - min(p, 0.99)) / N_BOOT) + 2.0 / N_BOOT


@pytest.mark.parametrize(("name", "model", "max_g"), [("acidity", "V", 3), ("faithful", "EEE", 3)])
def test_same_statistics_p_values_and_decisions(name: str, model: str, max_g: int) -> None:
    warnings.simplefilter("ignore")
    reference = _mclust_lrt(name, model, max_g)
    ours = bootstrap_lrt(emstat.load_dataset(name), model=model, max_k=max_g, n_boot=N_BOOT, seed=3)
    tested = len(ours.table)
    # the same fits: the observed statistics agree to the fits' precision
    np.testing.assert_allclose(
        ours.table["statistic"], reference["obs"][:tested], rtol=1e-6, atol=1e-5
    )
    for row, p_r in zip(ours.table.itertuples(index=False), reference["p"], strict=False):
        assert abs(row.p_value - p_r) <= _tolerance(p_r), (row.k0, row.p_value, p_r)
        # clear cases decide alike (a p-value far from the level on both sides)
        if abs(p_r - 0.05) > _tolerance(p_r):
            assert row.rejected == (p_r <= 0.05), (row.k0, row.p_value, p_r)


def test_null_distribution_matches_mclusts() -> None:
    """acidity, V, 3 vs 4: a spread-out null distribution; compare it, not the draws."""
    from scipy import stats

    warnings.simplefilter("ignore")
    reference = _mclust_lrt("acidity", "V", 3)
    ours = bootstrap_lrt(emstat.load_dataset("acidity"), model="V", max_k=3, n_boot=N_BOOT, seed=3)
    assert list(ours.table["k0"]) == [1, 2, 3]
    ks = stats.ks_2samp(ours.bootstrap[3], reference["boot"][:, 2])
    assert ks.pvalue > 1e-3, ks
    median = np.median(reference["boot"][:, 2])
    assert np.median(ours.bootstrap[3]) == pytest.approx(median, abs=1.5)
