"""CEM and SEM against R's flexmix (``classify = "CEM"`` / ``"SEM"``) on Poisson mixtures.

The stored reference (tests/reference/flexmix_cem_poisson.json, written by
tests/reference/make_flexmix_cem_reference.R) needs no R; the live test runs
flexmix through rpy2 and skips where R, rpy2 or flexmix is missing.  Both
algorithms agree in definition with flexmix's for ``FLXMRglm(family =
"poisson")`` (an M-step of the hard partition: each rate is its class mean);
flexmix's ``FLXMCmvnorm`` M-step uses the unbiased covariance, so Gaussian
CEM is not compared with it.  flexmix reports the mixing weights as the mean
soft posterior, emstat the partition's proportions: the partition, rates and
log-likelihood are compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat import EMControl
from emstat.errors import EmstatError

REFERENCE = json.loads((Path(__file__).parent / "reference/flexmix_cem_poisson.json").read_text())
# Stop only where the partition repeats, as the reference's flexmix run did.
TO_A_REPEATED_PARTITION = EMControl(tol=0.0, criterion="abs", max_iter=1000)


def _frame(y: object) -> pd.DataFrame:
    return pd.DataFrame({"y": np.asarray(y, dtype=float)})


def test_cem_agrees_with_flexmix_cem_from_the_same_start() -> None:
    frame = _frame(REFERENCE["y"])
    start = np.asarray(REFERENCE["start"]) - 1
    fit = emstat.fit_mixture(
        frame,
        3,
        family="poisson",
        init=start,
        algorithm="cem",
        control=TO_A_REPEATED_PARTITION,
    )
    r = REFERENCE["cem"]
    np.testing.assert_array_equal(fit.predict(frame).to_numpy(), r["cluster"])
    np.testing.assert_allclose(fit.theta.components[0][:, 0], r["rates"], rtol=1e-8)
    np.testing.assert_allclose(fit.theta.weights * len(frame), r["size"])
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-10)
    assert fit.n_iter == r["iter"]


def test_sem_agrees_with_flexmix_sem_in_distribution() -> None:
    # Both draw z_i from the responsibilities and stop by flexmix's rule; over
    # 50 seeds each, the mean final rates agree within four standard errors.
    frame = _frame(REFERENCE["y"])
    start = np.asarray(REFERENCE["start"]) - 1
    ours = np.array(
        [
            np.sort(
                emstat.fit_mixture(
                    frame, 3, family="poisson", init=start, algorithm="sem", seed=seed
                ).theta.components[0][:, 0]
            )
            for seed in range(50)
        ]
    )
    r = REFERENCE["sem"]
    theirs = np.asarray(r["sorted_rates"])
    se = np.sqrt(ours.var(axis=0, ddof=1) / 50 + theirs.var(axis=0, ddof=1) / 50)
    assert np.all(np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) < 4 * se)
    # and both near the truth the data were drawn from
    np.testing.assert_allclose(ours.mean(axis=0), REFERENCE["truth"]["rates"], rtol=0.1)


@pytest.mark.r
@pytest.mark.parametrize("k", [2, 3])
def test_cem_agrees_with_flexmix_live(k: int) -> None:
    pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")
    from emstat import _r

    try:
        _r.r_session()
    except EmstatError as exc:
        pytest.skip(f"R is not usable: {exc}")
    if not _r.r_has_package("flexmix"):
        pytest.skip("R package flexmix is not installed (apt-get install r-cran-flexmix)")
    import rpy2.robjects as ro

    rng = np.random.default_rng(20 + k)
    z = rng.integers(k, size=400)
    rates = np.array([1.5, 7.0, 18.0])[:k]
    frame = pd.DataFrame({"y": rng.poisson(rates[z]).astype(float)})
    # a rough start: the true classes with a fifth of the rows relabelled at random
    start = z.copy()
    flip = rng.choice(400, 80, replace=False)
    start[flip] = rng.integers(k, size=80)
    ro.globalenv["df"] = _r.to_r_dataframe(frame)
    ro.globalenv["start"] = ro.IntVector((start + 1).tolist())
    values = ro.r(
        f"""
        suppressPackageStartupMessages(library(flexmix))
        m <- flexmix(y ~ 1, data = df, k = {k}, cluster = start,
                     model = FLXMRglm(family = "poisson"),
                     control = list(classify = "CEM", tolerance = 1e-13, iter.max = 1000,
                                    minprior = 0))
        list(cluster = m@cluster, loglik = as.numeric(logLik(m)), k = m@k,
             rates = exp(sapply(seq_len(m@k), function(j) parameters(m, component = j)[1])))
        """
    )
    r = {name: np.asarray(values.rx2(name)) for name in ("cluster", "loglik", "k", "rates")}
    fit = emstat.fit_mixture(
        frame, k, family="poisson", init=start, algorithm="cem", control=TO_A_REPEATED_PARTITION
    )
    assert int(r["k"][0]) == k
    np.testing.assert_array_equal(fit.predict(frame).to_numpy(), r["cluster"])
    np.testing.assert_allclose(fit.theta.components[0][:, 0], r["rates"], rtol=1e-8)
    assert fit.loglik == pytest.approx(float(r["loglik"][0]), rel=1e-10)
