"""The noise component against R's mclust, live through rpy2.

A simulated data set (three Gaussian clusters and uniform outliers, drawn by
numpy here) and a fixed noise start go to both; the BIC table over
G = 0..5, the chosen fit's log-likelihood, proportions and classification
must agree.  Skipped with the reason when rpy2, R or mclust is missing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

import emstat
from emstat import _r

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("r_mclust_attached")]


def simulated() -> tuple[pd.DataFrame, np.ndarray]:
    """150 + 100 + 80 rows in three clusters, 45 uniform outliers; the start: the outliers
    with every 9th of them left out and 5 cluster rows added (a start is not the truth)."""
    rng = np.random.default_rng(2024)
    rows = np.vstack(
        [
            rng.multivariate_normal([0.0, 0.0], [[1.0, 0.6], [0.6, 1.0]], 150),
            rng.multivariate_normal([5.0, 1.0], [[0.5, 0.0], [0.0, 2.0]], 100),
            rng.multivariate_normal([2.0, 6.0], [[1.5, -0.4], [-0.4, 0.6]], 80),
            rng.uniform([-6.0, -6.0], [11.0, 12.0], (45, 2)),
        ]
    )
    start = np.r_[np.zeros(330, dtype=bool), np.ones(45, dtype=bool)]
    start[330::9] = False
    start[[3, 160, 290, 40, 200]] = True
    return pd.DataFrame(rows, columns=["x", "y"]), start


def test_bic_table_and_chosen_fit_agree_with_live_mclust() -> None:
    frame, start = simulated()
    ro = _r.r_session()
    out = _r.r_call(
        "mclust::Mclust",
        _r.to_r_matrix(frame.to_numpy(), list(frame.columns)),
        G=ro.IntVector(range(6)),
        initialization=ro.r["list"](noise=ro.BoolVector(start.tolist())),
        verbose=False,
    ).value
    bic = np.asarray(ro.r["unclass"](out.rx2("BIC")))
    models = list(ro.r["colnames"](out.rx2("BIC")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = emstat.select_mixture(
            frame, k=range(6), noise=start, mclust_compatible=True, convention="mclust"
        )
    ours = selection.table.loc[list(range(6)), models].to_numpy()
    both = np.isfinite(bic) & np.isfinite(ours)
    assert (np.isfinite(bic) == np.isfinite(ours)).all()
    assert np.max(np.abs(ours[both] - bic[both]) / np.abs(bic[both])) <= 1e-6
    best = selection.best
    assert (best.model, best.k) == (str(out.rx2("modelName")[0]), int(out.rx2("G")[0]))
    assert best.loglik == pytest.approx(float(out.rx2("loglik")[0]), rel=1e-8)
    pro = np.asarray(out.rx2("parameters").rx2("pro"))
    assert best.noise_weight == pytest.approx(pro[-1], abs=1e-6)
    assert best.weights.to_numpy() == pytest.approx(pro[:-1], abs=1e-6)
    assert best.vinv == pytest.approx(float(out.rx2("hypvol")[0]) ** -1, rel=1e-12)
    classification = np.asarray(out.rx2("classification")).astype(int)
    assert best.predict(frame).to_numpy().tolist() == classification.tolist()
