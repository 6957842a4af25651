"""Known labels, live against R's mclust ``MclustSSC`` through rpy2.

Skipped with the reason when rpy2, R or mclust is missing.  A fixed 10% of
the rows keep their class (numpy's generator, seeded); the same labels go to
R, which fits every default model with ``MclustSSC.fit`` and selects with
``MclustSSC``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rpy2", reason="rpy2 is not installed: pip install 'emstat[r]'")

from emstat import _r
from emstat.crosscheck import mclust_ssc

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("r_mclust")]


def _r_data(expression: str, class_column: str, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    ro = _r.r_session()
    frame = _r.from_r_dataframe(ro.r(expression)).reset_index(drop=True)
    n = len(frame)
    rows = np.random.default_rng(seed).choice(n, round(0.1 * n), replace=False)
    labels = pd.Series([None] * n, dtype=object)
    labels[rows] = frame[class_column].astype(str)[rows]
    return frame.drop(columns=class_column), labels


@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize(
    ("expression", "class_column"),
    [("datasets::iris", "Species"), ("mclust::banknote", "Status")],
)
def test_every_model_agrees_with_mclustssc(expression: str, class_column: str, seed: int) -> None:
    x, labels = _r_data(expression, class_column, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check = mclust_ssc(x, labels)
    table = check.table
    assert check.agree, check.summary()
    fitted = table.dropna(subset=["loglik_r"])
    assert len(fitted) >= 12
    rel = (fitted["loglik_emstat"] - fitted["loglik_r"]).abs() / fitted["loglik_r"].abs()
    assert rel.max() < 1e-8
    assert (fitted["rows_classified_differently"] == 0).all()
    assert fitted["max_diff_cov"].max() < 1e-6
