"""MAP EM against live R mclust through rpy2: ``mclustBIC(..., prior = priorControl())``.

Skipped with the reason when rpy2, R or mclust is missing; CI installs them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

import emstat
from emstat import _r
from emstat.errors import EmstatError

pytestmark = pytest.mark.r

# the ten models mclust fits under a prior
MODELS = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV"]


@pytest.fixture(scope="module", autouse=True)
def _r_ready() -> None:
    try:
        _r.r_session()
    except EmstatError as exc:
        pytest.skip(f"R is not usable: {exc}")
    if not _r.r_has_package("mclust"):
        pytest.skip("R package mclust is not installed (apt-get install r-cran-mclust)")


def _mclust_bic(expr: str) -> np.ndarray:
    ro = _r.r_session()
    names = ", ".join(f'"{m}"' for m in MODELS)
    table = ro.r(
        "function() { suppressMessages(library(mclust)); "
        f"b <- suppressWarnings(mclustBIC({expr}, G = 1:9, modelNames = c({names}), "
        "prior = priorControl(), verbose = FALSE)); matrix(as.numeric(b), nrow = nrow(b)) }"
    )()
    return np.asarray(table, dtype=float)


@pytest.mark.parametrize("expr", ["datasets::iris[, 1:4]", "mclust::banknote[, -1]"])
@pytest.mark.parametrize("mclust_compatible", [False, True])
def test_bic_table_with_prior_agrees_with_live_mclust(expr: str, mclust_compatible: bool) -> None:
    ro = _r.r_session()
    frame = _r.from_r_dataframe(ro.r(expr))
    want = _mclust_bic(expr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        selection = emstat.select_mixture(
            frame,
            k=range(1, 10),
            models=MODELS,
            prior="mclust",
            convention="mclust",
            mclust_compatible=mclust_compatible,
        )
    ours = selection.table.loc[list(range(1, 10)), MODELS].to_numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(want))  # the same NA cells
    np.testing.assert_allclose(ours, want, rtol=1e-8)
