"""Profile intervals of a parameter the covariance model shares: profiled once, the same
interval whichever row names it."""

from __future__ import annotations

import numpy as np
import pytest

import emstat


@pytest.mark.parametrize(
    ("model", "label", "same"),
    [
        ("EEI", "3:var[waiting]", ["1:var[waiting]", "2:var[waiting]"]),
        ("EII", "2:var[waiting]", ["1:var[eruptions]", "3:var[eruptions]", "3:var[waiting]"]),
        ("VII", "2:var[waiting]", ["2:var[eruptions]"]),
    ],
)
def test_a_shared_parameter_has_one_interval(model: str, label: str, same: list[str]) -> None:
    fit = emstat.fit_mixture(emstat.load_dataset("faithful"), 3, model)
    alone = fit.conf_int(method="profile", parameters=[label])  # profiled from this row
    table = fit.conf_int(method="profile")
    rows = table.assign(label=table["component"].astype(str) + ":" + table["parameter"])
    rows = rows.set_index("label")
    for other in same:
        np.testing.assert_allclose(
            rows.loc[other, ["ci_low", "ci_high"]].to_numpy(dtype=float),
            alone[["ci_low", "ci_high"]].to_numpy(dtype=float)[0],
            rtol=1e-6,
        )
    # not shared: VII's components have their own variances
    if model == "VII":
        assert abs(rows.loc["1:var[waiting]", "ci_low"] - rows.loc["2:var[waiting]", "ci_low"]) > 1
