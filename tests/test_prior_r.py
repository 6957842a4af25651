"""MAP EM against live R mclust through rpy2: ``mclustBIC(..., prior = priorControl())``.

Skipped with the reason when rpy2, R or mclust is missing; CI installs them.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

import emstat
from emstat import _r
from emstat.mixture.prior import GaussianPrior

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("r_mclust")]

REFERENCE = Path(__file__).resolve().parent / "reference"

# the ten models mclust fits under a prior
MODELS = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV"]


def _mclust_bic(
    expr: str, models: list[str] = MODELS, prior_args: str = "", g: str = "1:9"
) -> np.ndarray:
    ro = _r.r_session()
    names = ", ".join(f'"{m}"' for m in models)
    table = ro.r(
        "function() { suppressMessages(library(mclust)); "
        f"b <- suppressWarnings(mclustBIC({expr}, G = {g}, modelNames = c({names}), "
        f"prior = priorControl({prior_args}), verbose = FALSE)); "
        "matrix(as.numeric(b), nrow = nrow(b)) }"
    )()
    return np.asarray(table, dtype=float)


def _select(frame: Any, ks: range, models: list[str], prior: Any, compatible: bool) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        selection = emstat.select_mixture(
            frame,
            k=ks,
            models=models,
            prior=prior,
            convention="mclust",
            mclust_compatible=compatible,
        )
    return selection.table.loc[list(ks), models].to_numpy()


@pytest.mark.parametrize("expr", ["datasets::iris[, 1:4]", "mclust::banknote[, -1]"])
@pytest.mark.parametrize("mclust_compatible", [False, True])
def test_bic_table_with_prior_agrees_with_live_mclust(expr: str, mclust_compatible: bool) -> None:
    ro = _r.r_session()
    frame = _r.from_r_dataframe(ro.r(expr))
    want = _mclust_bic(expr)
    ours = _select(frame, range(1, 10), MODELS, "mclust", mclust_compatible)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(want))  # the same NA cells
    np.testing.assert_allclose(ours, want, rtol=1e-8)


# mclust 6.0's defaultPrior ignores a dof given to priorControl: these leave it out
_USER_PRIORS = [
    ("shrinkage = 0", MODELS, GaussianPrior(shrinkage=0)),
    ("shrinkage = 0.2", MODELS, GaussianPrior(shrinkage=0.2)),
    (
        "mean = c(5, 3, 4, 1), shrinkage = 0.5",
        MODELS,
        GaussianPrior(shrinkage=0.5, mean=[5, 3, 4, 1]),
    ),
    ("scale = 0.15", MODELS[:6], GaussianPrior(scale=0.15)),
    (
        "scale = diag(c(0.2, 0.1, 0.3, 0.05))",
        MODELS[6:],
        GaussianPrior(scale=np.diag([0.2, 0.1, 0.3, 0.05])),
    ),
]


@pytest.mark.parametrize(("prior_args", "models", "prior"), _USER_PRIORS)
def test_user_hyperparameters_agree_with_live_mclust(
    prior_args: str, models: list[str], prior: GaussianPrior
) -> None:
    expr = "datasets::iris[, 1:4]"
    frame = _r.from_r_dataframe(_r.r_session().r(expr))
    want = _mclust_bic(expr, models, prior_args, g="1:5")
    ours = _select(frame, range(1, 6), models, prior, True)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(want))
    np.testing.assert_allclose(ours, want, rtol=1e-8)


@pytest.mark.parametrize(
    ("prior_args", "prior"),
    [("shrinkage = 0", GaussianPrior(shrinkage=0)), ("scale = 4e6", GaussianPrior(scale=4e6))],
)
def test_one_dimension_with_user_hyperparameters_agrees(prior_args: str, prior: Any) -> None:
    path = (REFERENCE / "mclust_galaxies.csv").as_posix()
    frame = pd.read_csv(path)
    want = _mclust_bic(f'read.csv("{path}")[[1]]', ["E", "V"], prior_args)
    ours = _select(frame, range(1, 10), ["E", "V"], prior, False)
    np.testing.assert_allclose(ours, want, rtol=1e-8)
