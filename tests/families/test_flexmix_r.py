"""Live agreement with R's flexmix and mixtools (Debian r-cran-flexmix, r-cran-mixtools) through
rpy2, from the same start.

flexmix stops early by default (relative change 1e-6, 200 iterations), so
both run to a tight tolerance from the same soft start (the same posterior
matrix as flexmix's ``cluster=``); its ``logLik`` includes the binomial
coefficient and ``log x!``, as emstat's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

import emstat
from emstat import EMControl, _r
from emstat.errors import EmstatError

pytestmark = pytest.mark.r


@pytest.fixture(scope="module", autouse=True)
def _flexmix_ready() -> None:
    try:
        _r.r_session()
    except EmstatError as exc:
        pytest.skip(f"R is not usable: {exc}")
    if not _r.r_has_package("flexmix"):
        pytest.skip("R package flexmix is not installed (apt-get install r-cran-flexmix)")


def _data(seed: int = 11, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    days = rng.integers(1, 6, size=n).astype(float)
    trials = rng.integers(5, 25, size=n)
    return pd.DataFrame(
        {
            "visits": rng.poisson(np.where(z, 1.5, 6.0) * days),
            "days": days,
            "heads": rng.binomial(trials, np.where(z, 0.25, 0.65)),
            "trials": trials,
            **{
                f"item{j}": (rng.random(n) < np.where(z, 0.2 + 0.1 * j, 0.8 - 0.1 * j)).astype(int)
                for j in range(4)
            },
        }
    )


def _start(n: int, k: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.integers(k, size=n)
    post = np.full((n, k), 0.1 / (k - 1))
    post[np.arange(n), labels] = 0.9
    return post


def _flexmix(frame: pd.DataFrame, formula: str, model: str, post: np.ndarray) -> dict[str, float]:
    import rpy2.robjects as ro

    ro.globalenv["df"] = _r.to_r_dataframe(frame)
    ro.globalenv["post"] = _r.to_r_matrix(post)
    fitted = ro.r(
        f"""
        suppressPackageStartupMessages(library(flexmix))
        m <- flexmix({formula}, data = df, k = ncol(post), cluster = post, model = {model},
                     control = list(tolerance = 1e-13, iter.max = 20000, minprior = 0))
        c(loglik = as.numeric(logLik(m)), df = attr(logLik(m), "df"), iter = m@iter,
          BIC = BIC(m), k = m@k)
        """
    )
    values = np.asarray(fitted)
    names = ["loglik", "df", "iter", "BIC", "k"]
    return dict(zip(names, values.tolist(), strict=True))


TIGHT = EMControl(tol=1e-13, criterion="rel", max_iter=20000)


@pytest.mark.parametrize("k", [2, 3])
def test_poisson_with_exposure_agrees_with_flexmix(k: int) -> None:
    frame = _data()
    post = _start(len(frame), k)
    # flexmix takes the exposure as the driver's offset (a formula offset is ignored).
    r = _flexmix(frame, "visits ~ 1", 'FLXMRglm(family = "poisson", offset = log(df$days))', post)
    fit = emstat.fit_mixture(
        frame,
        k=k,
        family=emstat.Poisson(exposure="days"),
        columns=["visits"],
        init=post,
        control=TIGHT,
    )
    assert r["k"] == k
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-8)
    assert fit.n_params == r["df"]
    assert fit.bic == pytest.approx(r["BIC"], rel=1e-8)


@pytest.mark.parametrize("k", [2, 3])
def test_binomial_with_trials_agrees_with_flexmix(k: int) -> None:
    frame = _data()
    post = _start(len(frame), k)
    r = _flexmix(frame, "cbind(heads, trials - heads) ~ 1", 'FLXMRglm(family = "binomial")', post)
    fit = emstat.fit_mixture(
        frame,
        k=k,
        family=emstat.Binomial(trials="trials"),
        columns=["heads"],
        init=post,
        control=TIGHT,
    )
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-8)
    assert fit.n_params == r["df"]


def test_latent_classes_of_binary_items_agree_with_flexmix() -> None:
    frame = _data()
    items = [f"item{j}" for j in range(4)]
    post = _start(len(frame), 2)
    r = _flexmix(frame, f"cbind({', '.join(items)}) ~ 1", "FLXMCmvbinary()", post)
    fit = emstat.fit_mixture(
        frame, k=2, family="categorical", columns=items, init=post, control=TIGHT
    )
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-8)
    assert fit.n_params == r["df"]


def test_crosscheck_command_agrees_row_by_row(tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from emstat.cli import app

    path = Path(str(tmp_path)) / "counts.csv"
    _data().to_csv(path, index=False)
    result = CliRunner().invoke(
        app,
        [
            "crosscheck",
            "flexmix",
            str(path),
            "--family",
            "binomial",
            "--columns",
            "heads",
            "--trials",
            "trials",
            "--k",
            "1:3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "AGREE" in result.output and result.output.count("agree") == 3


def test_multinomial_mixture_agrees_with_mixtools_multmixem() -> None:
    """mixtools' multmixEM (Debian r-cran-mixtools) on rows of counts, both run to convergence."""
    if not _r.r_has_package("mixtools"):
        pytest.skip("R package mixtools is not installed (apt-get install r-cran-mixtools)")
    import rpy2.robjects as ro

    rng = np.random.default_rng(5)
    n = 250
    z = rng.random(n) < 0.4
    totals = rng.integers(10, 30, size=n)
    probs = np.where(z[:, None], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1])
    counts = np.array([rng.multinomial(t, p) for t, p in zip(totals, probs, strict=True)])
    frame = pd.DataFrame(counts, columns=["a", "b", "c", "d"])
    ro.globalenv["y"] = _r.to_r_matrix(counts.astype(float))
    r_fit = _r.to_python(
        ro.r(
            """
            suppressPackageStartupMessages(library(mixtools))
            set.seed(1)
            invisible(capture.output(m <- multmixEM(
                y, lambda = c(0.5, 0.5), theta = rbind(c(.2, .2, .3, .3), c(.3, .3, .2, .2)),
                k = 2, epsilon = 1e-12, maxit = 100000)))
            list(loglik = m$loglik, lambda = m$lambda, theta = m$theta)
            """
        )
    )
    start = {
        "weight": [0.5, 0.5],
        "prob[a]": [0.2, 0.3],
        "prob[b]": [0.2, 0.3],
        "prob[c]": [0.3, 0.2],
        "prob[d]": [0.3, 0.2],
    }
    fit = emstat.fit_mixture(frame, k=2, family="multinomial", init=start, control=TIGHT)
    # multmixEM's log-likelihood includes the multinomial coefficients, as emstat's does
    assert fit.loglik == pytest.approx(float(r_fit["loglik"]), rel=1e-8)
    assert fit.theta is not None
    ours = fit.theta.components[0][np.argsort(fit.theta.components[0][:, 0])]
    theirs = np.asarray(r_fit["theta"])[np.argsort(np.asarray(r_fit["theta"])[:, 0])]
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    np.testing.assert_allclose(np.sort(fit.theta.weights), np.sort(r_fit["lambda"]), atol=1e-6)
    assert fit.n_params == 2 * 3 + 1
